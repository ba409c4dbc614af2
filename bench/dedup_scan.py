"""Duplicate scan benchmark: a generated base with known duplicates, scanned from the CLI.

    .venv/bin/python bench/dedup_scan.py --contacts 100000 --db sqlite
    .venv/bin/python bench/dedup_scan.py --contacts 1000000 --db postgres

Each run makes a fresh database (an SQLite file in a temporary data dir, or the PostgreSQL
database `kliento_bench_dedup` on 127.0.0.1 as user postgres), migrates it and loads the
contacts of `kliento.dataio.dedup.generate` (5 % injected duplicates: typos, transliteration,
swapped names, nicknames, phone and email variants; see that module for the corruption model),
keeping the known (original, duplicate) pairs. Then it runs the real command

    kliento dedup scan --entity contacts --min-confidence 0.5 --output pairs.csv

as a child process with its progress bar, and measures its wall time and peak RSS. The pairs
in the CSV are compared with the truth: true positives, false positives (pairs that are not
one person; two duplicates of one original are the same person and count neither way),
false negatives, precision and recall, also at higher thresholds.

Targets (issue 4): ≤ 10 minutes for 1,000,000 contacts on this 2-core machine, precision ≥
0.98 and recall ≥ 0.95. Results go to bench/results/dedup-scan-<db>-<contacts>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def prepare_env(args, data_dir: Path) -> dict:
    env = dict(os.environ)
    env["KLIENTO_DATA_DIR"] = str(data_dir)
    env["DEBUG"] = "0"
    env["HUEY_IMMEDIATE"] = "0"
    env["LOG_LEVEL"] = "ERROR"
    env["DJANGO_SETTINGS_MODULE"] = "kliento.settings"
    if args.db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'kliento.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{args.pg_name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{args.pg_name}"')
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.pg_name}"
    return env


LOAD_SCRIPT = """
import json, sys, time
import django
django.setup()
from django.core.management import call_command
from django.db import transaction
call_command("migrate", verbosity=0)
from kliento.core.models import User
from kliento.dataio.dedup import generate
owner = User.objects.create(username="bench-owner", role="admin")
started = time.monotonic()
with transaction.atomic():
    g = generate.load(
        int(sys.argv[1]), owner.pk, seed=int(sys.argv[2]), dup_share=float(sys.argv[3])
    )
seconds = time.monotonic() - started
json.dump({"contacts": g.contacts, "duplicates": g.duplicates, "seconds": seconds,
           "truth": sorted(g.truth), "siblings": sorted(g.siblings)}, open(sys.argv[4], "w"))
"""


def load(args, env: dict, truth_file: Path) -> None:
    log(f"loading {args.contacts:,} contacts into {args.db} ({args.dup_share:.0%} duplicates)")
    subprocess.run(
        [
            str(VENV_BIN / "python"),
            "-c",
            LOAD_SCRIPT,
            str(args.contacts),
            str(args.seed),
            str(args.dup_share),
            str(truth_file),
        ],
        env=env,
        check=True,
        cwd=ROOT,
    )


def confusion(pairs: list[tuple[int, int, float]], truth: set, siblings: set, threshold: float):
    found = {(a, b) for a, b, c in pairs if c >= threshold}
    tp = len(found & truth)
    fp = len(found - truth - siblings)
    fn = len(truth - found)
    return {
        "threshold": threshold,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "sibling_pairs_found": len(found & siblings),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-name", default="kliento_bench_dedup")
    parser.add_argument("--dup-share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data-dir",
        help="keep the generated database here; a second run with the same dir only scans",
    )
    args = parser.parse_args()

    work = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="dedup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    truth_file = work / "truth.json"
    reuse = truth_file.exists()
    if reuse and args.db == "postgres":
        env = dict(os.environ)
        env.update(
            KLIENTO_DATA_DIR=str(work),
            DEBUG="0",
            HUEY_IMMEDIATE="0",
            LOG_LEVEL="ERROR",
            DJANGO_SETTINGS_MODULE="kliento.settings",
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.pg_name}",
        )
    elif reuse:
        env = dict(os.environ)
        env.update(
            KLIENTO_DATA_DIR=str(work),
            DEBUG="0",
            HUEY_IMMEDIATE="0",
            LOG_LEVEL="ERROR",
            DJANGO_SETTINGS_MODULE="kliento.settings",
            DATABASE_URL=f"sqlite:///{work / 'kliento.sqlite3'}",
        )
    else:
        env = prepare_env(args, work)
    if not reuse:
        load(args, env, truth_file)
    loaded = json.loads(truth_file.read_text())
    truth = {tuple(p) for p in loaded["truth"]}
    siblings = {tuple(p) for p in loaded["siblings"]}
    log(f"loaded in {loaded['seconds']:.1f}s: {loaded['duplicates']:,} duplicates")

    out_csv = work / "pairs.csv"
    log("kliento dedup scan --entity contacts --min-confidence 0.5 --output pairs.csv")
    started = time.monotonic()
    # The command runs in-process in a child that reports its own peak RSS when it exits.
    runner = (
        "import atexit, resource, sys\n"
        "atexit.register(lambda: print('PEAK_RSS_KB', "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))\n"
        "from kliento.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-c",
            runner,
            "dedup",
            "scan",
            "--entity",
            "contacts",
            "--min-confidence",
            "0.5",
            "--output",
            str(out_csv),
        ],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    captured = []
    while True:
        chunk = proc.stderr.read(256)
        if not chunk:
            break
        captured.append(chunk)
        sys.stderr.write(chunk)
        sys.stderr.flush()
    returncode = proc.wait()
    wall = time.monotonic() - started
    summary, peak_kb = {}, 0
    for line in "".join(captured).splitlines():
        if line.startswith("SUMMARY "):
            summary = json.loads(line[len("SUMMARY ") :])
        elif line.startswith("PEAK_RSS_KB "):
            peak_kb = int(line.split()[1])
    if returncode != 0:
        return returncode
    pairs = []
    with open(out_csv, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            pairs.append((int(row["a_id"]), int(row["b_id"]), float(row["confidence"])))
    n = args.contacts
    result = {
        "benchmark": "dedup-scan",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "db": args.db,
        "contacts": n,
        "duplicates_injected": loaded["duplicates"],
        "true_pairs": len(truth),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_seconds": round(loaded["seconds"], 1),
        "scan": {
            "wall_seconds": round(wall, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "compared_pairs": summary.get("compared"),
            "all_pairs": n * (n - 1) // 2,
            "compared_share_of_all_pairs": (summary.get("compared") or 0) / (n * (n - 1) / 2),
            "blocks": summary.get("blocks"),
            "big_blocks": summary.get("big_blocks"),
            "stages": summary.get("seconds"),
            "stored": summary.get("stored"),
        },
        "quality": [confusion(pairs, truth, siblings, t) for t in THRESHOLDS],
        "targets": {"seconds_at_1m": 600, "precision": 0.98, "recall": 0.95},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"dedup-scan-{args.db}-{n}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    q = result["quality"][0]
    log(
        f"scan {wall:.1f}s, peak RSS {result['scan']['peak_rss_mb']} MB, "
        f"compared {summary.get('compared'):,} pairs of {n * (n - 1) // 2:,}"
    )
    log(
        f"at 0.5: precision {q['precision']} recall {q['recall']} "
        f"(TP {q['true_positives']}, FP {q['false_positives']}, FN {q['false_negatives']})"
    )
    log(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
