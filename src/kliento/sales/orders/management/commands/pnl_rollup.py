"""`kliento manage pnl_rollup`: rebuild the product rollup that P&L by product reads."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kliento.sales.orders.rollup import rebuild


class Command(BaseCommand):
    help = _(
        "Rebuild the monthly product rollup behind the P&L by product report from the order "
        "lines. Order writes keep it exact; run this after changing TIME_ZONE or after "
        "writing orders straight into the database."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        rows = rebuild()
        self.stdout.write(
            _("Product rollup rebuilt: %(rows)s rows in %(seconds).1f s.")
            % {"rows": f"{rows:,}", "seconds": time.monotonic() - started}
        )
