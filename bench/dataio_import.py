"""Import benchmark: Kliento's CSV import against the database's own bulk load of the same rows.

    .venv/bin/python bench/dataio_import.py --rows 100000 --db sqlite postgres

For each database, in one run: a fresh database (an SQLite file in a temporary data dir, or the
PostgreSQL database `kliento_bench_import` — `--pg-name` to change it — on 127.0.0.1 as user
postgres) is migrated and gets an admin user; a deterministic CSV of N contacts is written
(Russian names, emails, phones in mixed formats, dates as 31.12.1990, about 0.5% broken rows,
Windows-1251 like a Russian Excel export);

- raw:     the same rows loaded by the database's own bulk path into the contact table —
           PostgreSQL COPY, SQLite executemany in one transaction — with only the type
           conversions the columns need (no validation, no normalisation, no search index);
- kliento: `kliento import FILE --entity contacts` as a subprocess: encoding and delimiter
           detection, header mapping, validation and normalisation of every value, duplicate
           keys (external id, email, phone), bulk writes per batch of 1,000, the search index
           and vocabulary, one audit row per batch, the error report.

Reported: rows/s of both, the ratio raw/kliento (target: within 4×), and the import process's
peak RSS (target: < 300 MB; its VmHWM polled from /proc every 50 ms). Results go to
bench/results/dataio-import-<db>-<rows>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PG_NAME = "kliento_bench_import"

LAST = [
    "Иванов",
    "Петров",
    "Сидоров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
]
FIRST = ["Иван", "Пётр", "Сергей", "Андрей", "Алексей", "Дмитрий", "Михаил", "Николай",
         "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана"]  # fmt: skip
MIDDLE = ["Иванович", "Петрович", "Сергеевич", "Андреевич", "Алексеевна", "Дмитриевна", ""]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Тверь", "Омск"]
TRANSLIT = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "sch", "ы": "y", "э": "e", "ю": "yu", "я": "ya", "ь": "", "ъ": ""})  # fmt: skip
HEADER = ["Внешний ID", "Фамилия", "Имя", "Отчество", "E-mail", "Телефон", "Дата рождения", "Город"]


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def write_csv(path: Path, rows: int, seed: int) -> int:
    """N contacts as a Russian Excel export would write them; returns the broken-row count."""
    rng = random.Random(seed)
    broken = 0
    with path.open("w", encoding="cp1251", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(HEADER)
        for i in range(rows):
            last, first = rng.choice(LAST), rng.choice(FIRST)
            latin = f"{first.lower().translate(TRANSLIT)}.{last.lower().translate(TRANSLIT)}"
            email = f"{latin}{i}@example.ru"
            n = 9000000000 + i
            phone = rng.choice(
                [f"+7{n}", f"8 ({str(n)[:3]}) {str(n)[3:6]}-{str(n)[6:8]}-{str(n)[8:]}", f"7{n}"]
            )
            born = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2004)}"
            if rng.random() < 0.005:
                broken += 1
                email, born = f"{latin}{i}@", "31.02.1990"
            writer.writerow(
                [
                    f"EXT{i:07d}",
                    last,
                    first,
                    rng.choice(MIDDLE),
                    email,
                    phone,
                    born,
                    rng.choice(CITIES),
                ]
            )
    return broken


def prepare(db: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    env.update(KLIENTO_DATA_DIR=str(data_dir), DEBUG="0", HUEY_IMMEDIATE="0", LOG_LEVEL="ERROR")
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'kliento.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{PG_NAME}"')
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    kliento(env, "manage", "migrate", "--noinput", "-v", "0")
    kliento(env, "user", "add", "admin", "--role", "admin", "--password", "bench-password-1")
    return env


def kliento(env: dict, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "kliento"), *argv], env=env, check=True, capture_output=True, text=True
    )


def _raw_rows(path: Path, owner_id: int):
    now = datetime.now(UTC).isoformat()
    with path.open(encoding="cp1251", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        for _ext, last, first, middle, email, phone, born, city in reader:
            d, m, y = born.split(".")
            birth = f"{y}-{m}-{d}" if (m, d) != ("02", "31") else None
            yield (
                owner_id, "", "{}", 1, now, now, first, middle, last, email, phone[:20],
                json.dumps([email], ensure_ascii=False), json.dumps([phone], ensure_ascii=False),
                birth, "", "", "", "", city, "{}", "lead", "", "",
            )  # fmt: skip


RAW_COLS = [
    "owner_id", "tags", "custom", "version", "created_at", "updated_at", "first_name",
    "middle_name", "last_name", "email", "phone", "emails", "phones", "birth_date", "gender",
    "language", "country", "region", "city", "social", "lifecycle_stage", "preferred_channel",
    "preferences",
]  # fmt: skip


def raw_load(db: str, env: dict, path: Path, rows: int) -> dict:
    """The database's own bulk load of the same rows into the contact table, then emptied."""
    cpu = None  # PostgreSQL's work happens in the server process
    if db == "sqlite":
        conn = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
        # The pragmas Kliento's own connections use (settings.py), so both sides are equal.
        for pragma in (
            "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "temp_store=MEMORY",
            "cache_size=-65536", "mmap_size=268435456",
        ):  # fmt: skip
            conn.execute(f"PRAGMA {pragma}")
        owner = conn.execute("SELECT id FROM core_user WHERE username='admin'").fetchone()[0]
        started = time.monotonic()
        cpu = time.process_time()
        with conn:
            conn.executemany(
                f"INSERT INTO customers_contact ({', '.join(RAW_COLS)}) "
                f"VALUES ({', '.join('?' * len(RAW_COLS))})",
                _raw_rows(path, owner),
            )
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu
        count = conn.execute("SELECT COUNT(*) FROM customers_contact").fetchone()[0]
        with conn:
            conn.execute("DELETE FROM customers_contact")
        conn.execute("VACUUM")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={PG_NAME}") as conn:
            owner = conn.execute("SELECT id FROM core_user WHERE username='admin'").fetchone()[0]
            started = time.monotonic()
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY customers_contact ({', '.join(RAW_COLS)}) FROM STDIN") as copy,
            ):
                for row in _raw_rows(path, owner):
                    copy.write_row(row)
            conn.commit()
            seconds = time.monotonic() - started
            count = conn.execute("SELECT COUNT(*) FROM customers_contact").fetchone()[0]
            conn.execute("TRUNCATE customers_contact CASCADE")
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE customers_contact")
    result = {"seconds": round(seconds, 2), "rows": count, "rows_per_s": round(rows / seconds)}
    if cpu:
        # On a shared machine wall time mostly measures the neighbours; CPU time does not.
        result["cpu_s"] = round(cpu, 2)
        result["rows_per_cpu_s"] = round(rows / cpu)
    return result


def kliento_import(env: dict, path: Path, rows: int, batch_size: int | None = None) -> dict:
    argv = [str(VENV_BIN / "kliento"), "import", str(path), "--entity", "contacts", "--quiet",
            "--user", "admin", "--errors", str(path.with_suffix(".errors.csv"))]  # fmt: skip
    if batch_size:
        argv += ["--batch-size", str(batch_size)]
    started = time.monotonic()
    # stdout/stderr to files: a pipe nobody reads while we poll could fill and block the import.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(argv, env=env, stdout=out_file, stderr=err_file)
        # The peak RSS is read from /proc (VmHWM of the import's own address space): wait4's
        # ru_maxrss also counts this benchmark process's memory at the fork, which the child
        # inherits as its high-water mark until it execs.
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
            time.sleep(0.05)
        seconds = time.monotonic() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"kliento import failed ({code}):\n{out}\n{err}")
    return {
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "cpu_user_s": round(usage.ru_utime, 1),
        "cpu_sys_s": round(usage.ru_stime, 1),
        "rows_per_cpu_s": round(rows / max(usage.ru_utime + usage.ru_stime, 1e-6)),
        "exit_code": code,
        "summary": out.strip().splitlines(),
    }


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def counts(db: str, env: dict) -> dict:
    code = (
        "from kliento.customers.models import Contact, SearchEntry;"
        "from kliento.dataio.transfer.models import ImportJob, ImportRowError;"
        "import json; j=ImportJob.objects.latest('id');"
        "print(json.dumps({'contacts': Contact.objects.count(),"
        "'search_entries': SearchEntry.objects.count(),"
        "'failed_rows': ImportRowError.objects.count(), 'job_rows_per_s': j.rows_per_s}))"
    )
    return json.loads(kliento(env, "manage", "shell", "-v", "0", "-c", code).stdout)


def main() -> None:
    global PG_NAME
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and database")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="rows per batch (default: the import's own)"
    )
    parser.add_argument(
        "--pg-name", default=PG_NAME, help="PostgreSQL database to create, use and drop"
    )
    args = parser.parse_args()
    PG_NAME = args.pg_name
    work = Path(tempfile.mkdtemp(prefix="kliento-bench-import-"))
    source = work / f"contacts-{args.rows}.csv"
    log(f"writing {args.rows:,} contacts to {source}")
    broken = write_csv(source, args.rows, args.seed)
    log(f"  {source.stat().st_size / 1e6:.1f} MB, {broken} broken rows")
    try:
        for db in args.db:
            data_dir = work / db
            data_dir.mkdir()
            result: dict = {
                "benchmark": "dataio-import",
                "command": " ".join([".venv/bin/python", "bench/dataio_import.py", *sys.argv[1:]]),
                "db": db,
                "rows": args.rows,
                "broken_rows": broken,
                "file_mb": round(source.stat().st_size / 1e6, 1),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "sqlite": sqlite3.sqlite_version,
                    "loadavg_at_start": list(os.getloadavg()),
                },
            }
            log(f"{db}: preparing a fresh database")
            env = prepare(db, data_dir)
            log(f"{db}: raw bulk load ({'COPY' if db == 'postgres' else 'executemany'})")
            result["raw"] = raw_load(db, env, source, args.rows)
            log(f"  {result['raw']['rows_per_s']:,} rows/s ({result['raw']['seconds']} s)")
            log(f"{db}: kliento import")
            result["kliento"] = kliento_import(env, source, args.rows, args.batch_size)
            log(
                f"  {result['kliento']['rows_per_s']:,} rows/s ({result['kliento']['seconds']} s), "
                f"peak RSS {result['kliento']['peak_rss_mb']} MB"
            )
            result["after"] = counts(db, env)
            result["ratio"] = round(
                result["raw"]["rows_per_s"] / result["kliento"]["rows_per_s"], 2
            )
            result["targets"] = {
                "ratio_within_4x": result["ratio"] <= 4,
                "peak_rss_under_300mb": result["kliento"]["peak_rss_mb"] < 300,
            }
            result["machine"]["loadavg_at_end"] = list(os.getloadavg())
            result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            log(f"{db}: ratio {result['ratio']}×, after: {result['after']}")
            out = RESULTS / f"dataio-import-{db}-{args.rows}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
            log(f"wrote {out}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if "postgres" in args.db:
                import psycopg

                with psycopg.connect(
                    "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
                ) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
