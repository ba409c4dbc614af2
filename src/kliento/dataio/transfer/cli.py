"""`kliento import FILE --entity contacts|companies|interactions|leads|deals|products|orders
[--mapping NAME] [--dry-run] [--user USERNAME]`.

Reads the file in place, shows a progress bar on the terminal (carriage returns, no extra
dependency), prints a summary, and exits 0 when every row landed, 1 when some rows failed
(their report: `--errors FILE`), 2 when the file or the options are refused. Killed and run
again with the same file, it resumes the unfinished job after its last committed batch.
A ZIP made by the full export is read back whole (companies, contacts, links, consents,
interactions).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_ROWS_FAILED = 1
EXIT_REFUSED = 2


def build_parser() -> argparse.ArgumentParser:
    from django.utils.translation import gettext as _

    parser = argparse.ArgumentParser(
        prog="kliento import",
        description=_(
            "Import contacts, companies, interactions, leads, deals, products or orders (one "
            "row per order line) from a CSV or XLSX file, or a full export (ZIP). Columns are "
            "mapped from their headers (English or Russian) unless --mapping names a saved "
            "mapping."
        ),
    )
    parser.add_argument("file", help=_("the CSV, XLSX or ZIP file"))
    parser.add_argument(
        "--entity",
        default="contacts",
        choices=["contacts", "companies", "interactions", "leads", "deals", "products", "orders"],
        help=_("what the rows are (default: contacts)"),
    )
    parser.add_argument("--mapping", default="", help=_("name of a saved column mapping"))
    parser.add_argument("--dry-run", action="store_true", help=_("validate only, write nothing"))
    parser.add_argument("--user", default="", help=_("act as this user (default: the first admin)"))
    parser.add_argument(
        "--duplicates",
        default="merge",
        choices=["merge", "skip", "flag"],
        help=_("a row matching an existing record: merge into it, skip it, or flag it"),
    )
    parser.add_argument(
        "--date-format",
        default="dmy",
        choices=["dmy", "mdy", "ymd"],
        help=_("how to read 01/02/2024 (default dmy: 1 February)"),
    )
    parser.add_argument("--decimal", default=".", choices=[".", ","], help=_("decimal separator"))
    parser.add_argument(
        "--encoding",
        default="",
        choices=["", "utf-8", "utf-8-sig", "cp1251"],
        help=_("the file's encoding (default: detected)"),
    )
    parser.add_argument("--delimiter", default="", help=_("CSV delimiter (default: detected)"))
    parser.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--errors", default="", help=_("write the error report (CSV) here"))
    parser.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    return parser


def _user(username: str):
    from django.utils.translation import gettext as _

    from kliento.core.models import Role, User

    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise SystemExit(_("no active user %(name)r.") % {"name": username})
        return user
    user = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    if user is None:
        raise SystemExit(_("no administrator exists; give --user."))
    return user


def _bar(job, started: float, width: int = 30) -> str:
    total = job.total or 0
    done = job.processed
    fraction = min(done / total, 1.0) if total else 0.0
    filled = int(width * fraction)
    rate = done / max(time.monotonic() - started, 1e-6)
    eta = ""
    if total and rate and done < total:
        left = int((total - done) / rate)
        eta = f"  ETA {left // 60}:{left % 60:02d}"
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%  "
        f"{done:,}/{total:,}  {rate:,.0f} rows/s{eta}   "
    )


def main(argv: list[str]) -> int:
    from django.core.management import call_command
    from django.utils.translation import gettext as _

    from kliento.core.errors import KlientoError
    from kliento.dataio.transfer import services
    from kliento.dataio.transfer.engine import import_run
    from kliento.dataio.transfer.models import ImportJob, JobStatus
    from kliento.dataio.transfer.selectors import error_report_rows

    args = build_parser().parse_args(argv)
    call_command("migrate", interactive=False, verbosity=0)
    path = Path(args.file)
    if not path.is_file():
        print(_("kliento import: error: no file %(path)s") % {"path": args.file}, file=sys.stderr)
        return EXIT_REFUSED
    try:
        user = _user(args.user)
    except SystemExit as exc:
        print(f"kliento import: error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    options = {
        "dry_run": args.dry_run,
        "duplicates": args.duplicates,
        "date_format": args.date_format,
        "decimal": args.decimal,
        "encoding": args.encoding,
        "delimiter": {"tab": "\t", "\\t": "\t"}.get(args.delimiter, args.delimiter),
    }
    started = time.monotonic()
    show = not args.quiet

    def progress(job):
        if show:
            sys.stderr.write(_bar(job, started))
            sys.stderr.flush()

    try:
        if path.suffix.lower() == ".zip":
            with path.open("rb") as fh:
                jobs = services.full_import_create(user=user, stream=fh, file_name=path.name)
        else:
            resumed = (
                ImportJob.objects.filter(
                    source_path=str(path.resolve()),
                    entity=args.entity,
                    user=user,
                    status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
                    sha256=services._sha256_path(str(path)),
                )
                .order_by("-id")
                .first()
            )
            if resumed is not None and resumed.options.get("dry_run") == args.dry_run:
                print(
                    _("Resuming import #%(id)s after row %(row)s.")
                    % {"id": resumed.pk, "row": resumed.checkpoint},
                    file=sys.stderr,
                )
                jobs = [resumed]
            else:
                job = services.import_create(
                    user=user,
                    entity=args.entity,
                    path=str(path),
                    options=options,
                    mapping_name=args.mapping,
                )
                ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
                jobs = [job]
    except KlientoError as exc:
        problems = [f"{field}: {problem}" for field, problem in exc.fields.items()]
        for line in problems or [exc.message]:
            print(f"kliento import: error: {line}", file=sys.stderr)
        return EXIT_REFUSED

    failed = 0
    for job in jobs:
        if show and len(jobs) > 1:
            print(job.file_name, file=sys.stderr)
        job = import_run(job_id=job.pk, progress=progress, batch_size=max(1, args.batch_size))
        if show:
            sys.stderr.write("\n")
        if job.status == JobStatus.FAILED:
            print(f"kliento import: error: {job.message}", file=sys.stderr)
            return EXIT_REFUSED
        failed += job.failed
        seconds = time.monotonic() - started
        print(
            _(
                "%(name)s: %(processed)s rows in %(seconds).1fs (%(rate)s rows/s): %(created)s "
                "created, %(updated)s updated, %(skipped)s unchanged or skipped, %(failed)s "
                "failed.%(dry)s"
            )
            % {
                "name": job.file_name,
                "processed": f"{job.processed:,}",
                "seconds": seconds,
                "rate": f"{job.rows_per_s or 0:,.0f}",
                "created": f"{job.created:,}",
                "updated": f"{job.updated:,}",
                "skipped": f"{job.skipped:,}",
                "failed": f"{job.failed:,}",
                "dry": " " + _("(dry run: nothing was written)") if job.dry_run else "",
            }
        )
        if job.failed and args.errors:
            import csv

            with open(args.errors, "w", newline="", encoding="utf-8-sig") as fh:
                writer = csv.writer(fh)
                for row in error_report_rows(job):
                    writer.writerow(row)
            print(_("Error report: %(path)s") % {"path": args.errors})
        elif job.failed:
            print(
                _(
                    "Rows that failed: see import #%(id)s in the Data area, or rerun with "
                    "--errors FILE."
                )
                % {"id": job.pk}
            )
    return EXIT_ROWS_FAILED if failed else 0
