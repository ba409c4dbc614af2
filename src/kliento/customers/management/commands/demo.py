"""`kliento demo`: load the demo company (see kliento.customers.demo)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kliento.core.errors import KlientoError
from kliento.customers.demo import HEAVY_TAG, build_demo
from kliento.sales.demo import build_sales_demo, sales_demo_summary, sales_demo_wipe


class Command(BaseCommand):
    help = _(
        "Build a realistic demo company: teams and users of every role (except admin), "
        "companies, contacts, consent, three years of interactions and open tasks. "
        "Deterministic for a given --seed; bulk-loaded, so millions of contacts take minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--contacts",
            type=int,
            default=2000,
            help=_("Number of contacts to create (about 10 interactions each). Default 2000."),
        )
        parser.add_argument(
            "--seed", type=int, default=1, help=_("Random seed; same seed, same company.")
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help=_("Delete all customer data and earlier demo users before loading."),
        )
        parser.add_argument(
            "--password",
            default=None,
            help=_("Password for every demo user (default: a random one, printed once)."),
        )

    def handle(self, *args, contacts, seed, reset, password, **options):
        verbose = options.get("verbosity", 1) >= 1

        def log(message: str) -> None:
            if verbose:
                self.stdout.write(message)
                self.stdout.flush()

        if password is not None and len(password) < 8:
            raise CommandError(_("The password needs at least 8 characters."))
        try:
            if reset:
                sales_demo_wipe(log)
            result = build_demo(
                contacts=contacts, seed=seed, password=password, reset=reset, log=log
            )
            sales = build_sales_demo(seed=seed, log=log)
            result.interactions += sales.interactions  # deals', orders' and quotes' timelines
            result.seconds += sales.seconds
        except KlientoError as exc:
            raise CommandError(exc.message) from exc
        out = self.stdout
        out.write(
            _(
                "Demo company loaded in %(seconds).0fs: %(contacts)s contacts, %(companies)s "
                "companies, %(interactions)s interactions (%(tasks)s open tasks), %(consents)s "
                "consent records."
            )
            % {
                "seconds": result.seconds,
                "contacts": f"{result.contacts:,}",
                "companies": f"{result.companies:,}",
                "interactions": f"{result.interactions:,}",
                "tasks": f"{result.open_tasks:,}",
                "consents": f"{result.consents:,}",
            }
        )
        out.write(sales_demo_summary(sales))
        if result.heavy_contact_id:
            out.write(
                _("Contact #%(id)s (tag %(tag)s) has the longest timeline.")
                % {"id": result.heavy_contact_id, "tag": HEAVY_TAG}
            )
        out.write(_("Demo users (this password is shown only once):"))
        for username, role in result.users:
            out.write(f"  {username:<16} {role}")
        out.write(_("Password: %(password)s") % {"password": result.password})
