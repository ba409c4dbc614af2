"""`kliento dedup scan [--entity contacts|companies] [--min-confidence X] [--output pairs.csv]`

Scans the whole base, stores the candidate pairs for the review queue (unless --no-store) and
writes them to a CSV: both ids, both records' external ids (from imports), the confidence and
the evidence. Progress goes to standard error.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time

from django.apps import apps
from django.db import connection
from django.utils.translation import gettext as _

ENTITIES = {
    "contacts": "contact",
    "contact": "contact",
    "companies": "company",
    "company": "company",
}
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kliento dedup", description=_("Find customers entered more than once.")
    )
    commands = parser.add_subparsers(dest="action", metavar="ACTION")
    commands.required = True
    scan = commands.add_parser(
        "scan",
        help=_("scan the whole base for duplicate pairs"),
        description=_(
            "Compare records that share a blocking key (email, phone, similar-sounding name, "
            "birth date, tax id, company name), score each pair and keep those at or above "
            "the minimum confidence. Decisions already taken (not a duplicate, merged) are kept."
        ),
    )
    scan.add_argument(
        "--entity",
        choices=["contacts", "companies"],
        default="contacts",
        help=_("which records to scan (default contacts)"),
    )
    scan.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        metavar="X",
        help=_("keep pairs with at least this confidence, 0–1 (default 0.5)"),
    )
    scan.add_argument("--output", metavar="FILE", help=_("write the pairs to this CSV file"))
    scan.add_argument(
        "--no-store",
        action="store_true",
        help=_("do not store the pairs for the review queue (only the CSV)"),
    )
    scan.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    return parser


class Bar:
    """A one-line progress bar on standard error, redrawn at most 5 times a second."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.started = time.monotonic()
        self.last = 0.0
        self.stage = ""
        self.done = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if stage == self.stage and (now - self.last < 0.2 or done == self.done) and done != total:
            return
        if stage == self.stage and done == self.done:
            return
        self.done = done
        if stage != self.stage and self.stage:
            sys.stderr.write("\n")
        self.stage, self.last = stage, now
        names = {"read": _("reading"), "compare": _("comparing"), "store": _("storing")}
        elapsed = now - self.started
        if total:
            width = 30
            filled = int(width * min(done, total) / total)
            bar = "█" * filled + "░" * (width - filled)
            line = f"{names.get(stage, stage):>10} [{bar}] {done:,}/{total:,}"
        else:
            line = f"{names.get(stage, stage):>10} {done:,} " + _("pairs")
        sys.stderr.write(f"\r{line}  {elapsed:6.1f}s")
        sys.stderr.flush()

    def close(self) -> None:
        if not self.quiet and self.stage:
            sys.stderr.write("\n")


def _external_ids(entity: str, ids: set[int]) -> dict[int, list[str]]:
    """External ids per record, when the import app's ExternalRef table is there."""
    try:
        model = apps.get_model("transfer", "ExternalRef")
    except LookupError:
        return {}
    if model._meta.db_table not in connection.introspection.table_names():
        return {}
    result: dict[int, list[str]] = {}
    aliases = [entity, f"{entity}s" if entity == "contact" else "companies"]
    ordered = sorted(ids)
    for start in range(0, len(ordered), 5000):
        rows = model.objects.filter(
            entity__in=aliases, object_id__in=ordered[start : start + 5000]
        ).values_list("object_id", "external_id")
        for object_id, external_id in rows:
            result.setdefault(object_id, []).append(external_id)
    return result


def _cell(value: str) -> str:
    """No spreadsheet formula from our output (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(path: str, entity: str, pairs: list) -> None:
    from kliento.dataio.dedup.matching import evidence_text

    labels: dict = {}
    ids = {i for a, b, _c, _e in pairs for i in (a, b)}
    refs = _external_ids(entity, ids)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "entity",
                "a_id",
                "b_id",
                "a_external_ids",
                "b_external_ids",
                "confidence",
                "evidence",
                "evidence_json",
            ]
        )
        for a, b, confidence, evidence in pairs:
            out.writerow(
                [
                    entity,
                    a,
                    b,
                    _cell(" ".join(refs.get(a, []))),
                    _cell(" ".join(refs.get(b, []))),
                    f"{confidence:.4f}",
                    _cell("; ".join(evidence_text(e, labels) for e in evidence)),
                    json.dumps(evidence, ensure_ascii=False),
                ]
            )


def cmd_scan(args: argparse.Namespace) -> int:
    from kliento.dataio.dedup.scan import pairs_store, scan

    if not 0 < args.min_confidence <= 1:
        print(
            _("kliento dedup: error: --min-confidence must be above 0 and at most 1"),
            file=sys.stderr,
        )
        return EXIT_USAGE
    entity = ENTITIES[args.entity]
    bar = Bar(args.quiet)
    started = time.monotonic()
    result = scan(entity=entity, min_confidence=args.min_confidence, progress=bar)
    if not args.no_store:
        result.stored = pairs_store(entity=entity, pairs=result.pairs, progress=bar)
    if args.output:
        write_csv(args.output, entity, result.pairs)
    bar.close()
    summary = result.as_dict()
    summary["seconds"]["total"] = round(time.monotonic() - started, 2)
    print(
        _(
            "%(records)s records, %(compared)s pairs compared in %(blocks)s blocks, "
            "%(pairs)s pairs at or above %(min)s in %(seconds)ss."
        )
        % {
            "records": f"{result.records:,}",
            "compared": f"{result.compared:,}",
            "blocks": f"{result.blocks:,}",
            "pairs": f"{len(result.pairs):,}",
            "min": args.min_confidence,
            "seconds": summary["seconds"]["total"],
        }
    )
    if args.output:
        print(_("Pairs written to %(path)s.") % {"path": args.output})
    print("SUMMARY " + json.dumps(summary), file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.action == "scan":
        return cmd_scan(args)
    return EXIT_USAGE
