"""`kliento import` as a real subprocess: progress, exit codes, and kill -9 then rerun.

Each test gets scratch databases (SQLite files, or PostgreSQL databases when the suite runs
there) so the subprocess and the test see the same committed data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from kliento.dataio.transfer.tests.conftest import csv_bytes

KLIENTO = shutil.which("kliento", path=str(Path(sys.executable).parent)) or "kliento"
TIMEOUT = 180
DUMP = r"""
import json
from kliento.customers.models import Contact, Company, ContactCompany, SearchEntry
from kliento.dataio.transfer.models import ExternalRef
refs = {r.object_id: r.external_id for r in ExternalRef.objects.filter(entity="contact")}
contacts = sorted(
    [refs.get(c.pk, ""), c.first_name, c.last_name, c.emails, c.phones, str(c.birth_date),
     c.city, c.owner.username, c.tags, c.version]
    for c in Contact.objects.select_related("owner")
)
print(json.dumps({
    "contacts": contacts,
    "companies": sorted(Company.objects.values_list("name", flat=True)),
    "links": sorted(
        [link.contact.email, link.company.name]
        for link in ContactCompany.objects.select_related("contact", "company")
    ),
    "search": sorted(SearchEntry.objects.values_list("entity", "title", "text")),
    "refs": ExternalRef.objects.count(),
}))
"""


@pytest.fixture
def scratch_env(tmp_path):
    db = settings.DATABASES["default"]
    created: list[str] = []

    def make(label: str) -> dict[str, str]:
        data_dir = tmp_path / label
        data_dir.mkdir()
        if db["ENGINE"] == "django.db.backends.postgresql":
            name = f"kliento_imp_{secrets.token_hex(4)}"
            with _pg(db) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
            auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
            url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
        else:
            url = f"sqlite:///{data_dir / 'kliento.sqlite3'}"
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "HUEY_IMMEDIATE"}}
        env.update(
            KLIENTO_DATA_DIR=str(data_dir),
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="kliento.settings",
            SECRET_KEY="test-import-secret",
        )
        run(env, "manage", "migrate", "--noinput", "-v", "0")
        result = run(env, "user", "add", "boss", "--role", "admin", "--password", "boss-password-1")
        assert result.returncode == 0, result.stderr
        return env

    yield make
    if created:
        with _pg(db) as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg(db):
    import psycopg

    return psycopg.connect(
        dbname="postgres",
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        autocommit=True,
    )


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KLIENTO, *args],
        env=env,
        cwd=env["KLIENTO_DATA_DIR"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def dump(env: dict[str, str]) -> dict:
    result = run(env, "manage", "shell", "-v", "0", "-c", DUMP)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def people_file(path: Path, n: int) -> Path:
    rows = [
        ["External id", "Фамилия", "Имя", "E-mail", "Телефон", "Дата рождения", "Компания", "Город"]
    ]
    for i in range(n):
        if i % 97 == 13:
            rows.append([f"X{i}", f"Broken{i}", "Row", f"broken{i}@", "", "", "", ""])
            continue
        # Every 50th person appears again later without an external id: merged by email.
        rows.append(
            [
                f"X{i}",
                f"Фамилия{i}",
                f"Имя{i % 300}",
                f"person{i}@example.com",
                f"8 (916) {i // 10000:03d}-{(i // 100) % 100:02d}-{i % 100:02d}",
                f"{1 + i % 28:02d}.{1 + i % 12:02d}.{1950 + i % 50}",
                f"Компания {i % 40}",
                "Москва" if i % 2 else "Казань",
            ]
        )
        if i % 50 == 7:
            rows.append(["", "", "", f"person{i}@example.com", "", "", "", "Тверь"])
    path.write_bytes(csv_bytes(rows))
    return path


def test_exit_codes_progress_and_summary(scratch_env, tmp_path):
    env = scratch_env("a")
    source = people_file(tmp_path / "people.csv", 300)
    result = run(
        env, "import", str(source), "--entity", "contacts", "--errors", str(tmp_path / "err.csv")
    )
    assert result.returncode == 1, result.stderr
    assert "[####" in result.stderr and "100.0%" in result.stderr
    # 300 people, 5 of them again by email (merged), 3 broken (i = 13, 110, 207).
    assert "305 rows" in result.stdout
    assert "297 created, 5 updated, 0 unchanged or skipped, 3 failed." in result.stdout
    report = (tmp_path / "err.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 1 + 3
    assert report[1].startswith("16,Not imported,E-mail: Invalid email 'broken13@'")


def test_dry_run_writes_nothing(scratch_env, tmp_path):
    env = scratch_env("a")
    source = people_file(tmp_path / "people.csv", 120)
    result = run(env, "import", str(source), "--dry-run", "--quiet")
    assert result.returncode == 1, result.stderr
    assert "dry run" in result.stdout
    assert dump(env)["contacts"] == []


def test_missing_header_is_refused(scratch_env, tmp_path):
    env = scratch_env("a")
    source = tmp_path / "data.csv"
    source.write_bytes(csv_bytes([["Ivanov", "ivan@example.com", "+79161234567"]]))
    result = run(env, "import", str(source))
    assert result.returncode == 2
    assert "looks like data" in result.stderr


def test_kill_9_and_rerun_equals_one_clean_run(scratch_env, tmp_path):
    source = people_file(tmp_path / "people.csv", 4000)
    clean = scratch_env("clean")
    result = run(clean, "import", str(source), "--quiet", "--batch-size", "100")
    assert result.returncode == 1, result.stderr
    expected = dump(clean)
    assert len(expected["contacts"]) > 3900

    crashed = scratch_env("crashed")
    proc = subprocess.Popen(
        [KLIENTO, "import", str(source), "--batch-size", "100"],
        env=crashed,
        cwd=crashed["KLIENTO_DATA_DIR"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    while b"/4," not in seen.split(b"\r")[-1] and time.monotonic() < deadline:
        # Wait until some batches are committed ("1,000/4,0xx" on the bar), then kill.
        chunk = os.read(proc.stderr.fileno(), 256)
        if not chunk:
            break
        seen += chunk
        if seen.count(b"\r[") >= 12:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = dump(crashed)
    assert 0 < len(partial["contacts"]) < len(expected["contacts"])

    result = run(crashed, "import", str(source), "--quiet", "--batch-size", "100")
    assert result.returncode == 1, result.stderr
    assert "Resuming import" in result.stderr
    assert dump(crashed) == expected

    # A third, separate run of the same file leaves every value as it was (only the records
    # the file itself changes twice — the Тверь rows — count a new version).
    again = run(crashed, "import", str(source), "--quiet", "--batch-size", "100")
    assert again.returncode == 1
    after = dump(crashed)
    assert [c[:-1] for c in after["contacts"]] == [c[:-1] for c in expected["contacts"]]
    assert {k: v for k, v in after.items() if k != "contacts"} == {
        k: v for k, v in expected.items() if k != "contacts"
    }


SALES_DUMP = r"""
import json
from kliento.sales.catalog.models import Product
from kliento.sales.orders.models import Order
print(json.dumps({
    "products": sorted([p.sku, str(p.cost), p.version] for p in Product.objects.all()),
    "orders": sorted(
        [o.contact.email, o.status, str(o.total), str(o.margin_company), o.lines.count(), o.version]
        for o in Order.objects.select_related("contact")
    ),
}))
"""


def test_sales_entities_from_the_command_line(scratch_env, tmp_path):
    env = scratch_env("a")
    files = {
        "people.csv": [["External id", "Email"], ["C1", "anna@example.com"]],
        "catalogue.csv": [
            ["Артикул", "Наименование", "Себестоимость", "НДС"],
            ["CRM", "CRM licence", "300", "20"],
            ["IMPL", "Implementation", "900", "20"],
        ],
        "orders.csv": [
            ["Номер заказа", "Дата", "Статус", "Email", "Артикул", "Кол-во", "Цена", "Скидка"],
            ["1001", "01.03.2025", "paid", "anna@example.com", "CRM", "2", "1000", "10%"],
            ["1002", "02.03.2025", "", "anna@example.com", "IMPL", "-1", "3000", ""],
            ["1001", "", "", "", "IMPL", "1", "3000", ""],
        ],
    }
    for name, rows in files.items():
        (tmp_path / name).write_bytes(csv_bytes(rows))
    for name, entity in (("people.csv", "contacts"), ("catalogue.csv", "products")):
        result = run(env, "import", str(tmp_path / name), "--entity", entity, "--quiet")
        assert result.returncode == 0, result.stderr + result.stdout
    errors = tmp_path / "errors.csv"
    orders = str(tmp_path / "orders.csv")
    result = run(env, "import", orders, "--entity", "orders", "--errors", str(errors))
    assert result.returncode == 1, result.stderr
    assert "2 created, 0 updated, 0 unchanged or skipped, 1 failed." in result.stdout
    report = errors.read_text(encoding="utf-8-sig").splitlines()
    assert report[1].startswith("3,Not imported,Кол-во: The quantity must be greater than zero.")
    expected = {
        "products": [["CRM", "300.00", 1], ["IMPL", "900.00", 1]],
        # 2 × 1000 − 10 % + 1 × 3000, 20 % VAT: 5760; margin 4800 − (600 + 900).
        "orders": [["anna@example.com", "paid", "5760.00", "3300.00", 2, 1]],
    }
    result = run(env, "manage", "shell", "-v", "0", "-c", SALES_DUMP)
    assert json.loads(result.stdout) == expected, result.stderr

    again = run(env, "import", orders, "--entity", "orders", "--quiet")
    assert again.returncode == 1
    assert "0 created, 0 updated, 2 unchanged or skipped, 1 failed." in again.stdout
    result = run(env, "manage", "shell", "-v", "0", "-c", SALES_DUMP)
    assert json.loads(result.stdout) == expected
