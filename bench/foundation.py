"""Foundation benchmark: demo load, contact list, search, detail page, API throughput.

    .venv/bin/python bench/foundation.py --contacts 100000 --db sqlite
    .venv/bin/python bench/foundation.py --contacts 100000 --db postgres

Each run loads the demo company at the given scale into a fresh database (an SQLite file in a
temporary data dir, or the PostgreSQL database `kliento_bench` on 127.0.0.1 as user postgres),
times the load, starts the real server (`kliento serve --no-worker`) on a free loopback port,
logs in over HTTP like a browser and measures, with bounded request counts:

- list:    GET /contacts/?stage=customer&sort=name (50 rows, one filter, sorted) through HTTP,
           and the SQL that page runs (captured in this process with the Django test client)
           replayed on a raw database connection in the same run; app/SQL ratio of the two;
- search:  GET /api/v1/search?q=… over a mix of queries (typos, Cyrillic/Latin, phone
           fragments, emails, company names, tax ids);
- detail:  GET /contacts/<id>/ of the contact with 5,000 interactions (tag "bench-heavy"),
           with its SQL replayed the same way;
- api:     GET /api/v1/contacts?limit=50 from 8 client threads for 10 s or 2,000 requests,
           whichever comes first: requests/s and latency percentiles.

Results go to bench/results/foundation-<db>-<contacts>.json. A page that does not answer 200 is
recorded with its status and the run goes on.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "bench-password-1"
BENCH_USER = "n.orlova"  # the demo head of sales: sees every sales rep's records
LIST_URL = "/contacts/?stage=customer&sort=name"
API_LIST_URL = "/api/v1/contacts?limit=50"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 2) if ms else None,
        "p95_ms": round(pct(ms, 95), 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
    }


# --- environment --------------------------------------------------------------------------


def prepare_database(args) -> dict[str, str]:
    env = dict(os.environ)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix=f"kliento-bench-{args.db}-"))
    if data_dir.exists() and not args.reuse:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    env["KLIENTO_DATA_DIR"] = str(data_dir)
    env["DEBUG"] = "0"
    env["HUEY_IMMEDIATE"] = "0"
    env["LOG_LEVEL"] = "ERROR"
    if args.db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'kliento.sqlite3'}"
    else:
        import psycopg

        name = args.pg_name
        if not args.reuse:
            with psycopg.connect(
                "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    return env


def kliento(env: dict, *argv: str, check: bool = True, capture: bool = False):
    cmd = [str(VENV_BIN / "kliento"), *argv]
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, env=env, check=check, text=True, capture_output=capture)


def load_demo(args, env) -> dict:
    kliento(env, "manage", "migrate", "--skip-checks", "-v0")
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(VENV_BIN / "kliento"), "demo", "--skip-checks", "--contacts", str(args.contacts),
         "--seed", str(args.seed), "--password", PASSWORD],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output = []
    for line in proc.stdout:
        output.append(line.rstrip())
        if not line.startswith("  "):
            log("  demo: " + line.rstrip())
    code = proc.wait()
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise SystemExit(f"demo load failed ({code}):\n" + "\n".join(output[-30:]))
    return {
        "seconds": round(seconds, 1),
        # CPU time of the load and its worker processes: less sensitive to a busy machine.
        "cpu_user_s": round(usage.ru_utime - usage_before.ru_utime, 1),
        "cpu_sys_s": round(usage.ru_stime - usage_before.ru_stime, 1),
        "loadavg_after": list(os.getloadavg()),
        "output": output,
    }


def machine_info(env) -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": list(os.getloadavg()),
    }
    try:
        with open("/proc/meminfo") as fh:
            info["mem_total_kb"] = int(fh.readline().split()[1])
        with open("/proc/cpuinfo") as fh:
            models = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
            info["cpu_model"] = models[0] if models else ""
    except OSError:
        pass
    if env["DATABASE_URL"].startswith("postgres"):
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres") as conn:
            info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
    return info


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env, port: int, log_path: Path) -> tuple[subprocess.Popen, list[str]]:
    """`kliento serve --no-worker`; gunicorn directly when serve is not available."""
    help_text = kliento(env, "serve", "--help", check=False, capture=True)
    if help_text.returncode == 0 and "--no-worker" in help_text.stdout:
        argv = [str(VENV_BIN / "kliento"), "serve", "--no-worker", "--no-demo", "--host",
                "127.0.0.1", "--port", str(port), "--workers", "2", "--threads", "4"]  # fmt: skip
    else:
        argv = [str(VENV_BIN / "gunicorn"), "kliento.wsgi:application", "-w", "2",
                "--threads", "4", "-b", f"127.0.0.1:{port}"]  # fmt: skip
    log("$ " + " ".join(argv))
    out = open(log_path, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        stop_server(proc)
        raise SystemExit(f"server did not listen on {port}; see {log_path}")
    return proc, argv


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- a tiny HTTP client with cookies ------------------------------------------------------


class Http:
    def __init__(self, port: int, headers: dict | None = None):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.headers = headers or {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        h = {**self.headers, **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
                elapsed = (time.perf_counter() - started) * 1000
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return resp.status, data, elapsed

    def login(self, username: str, password: str) -> None:
        status, body, _ = self.request("GET", "/login/")
        if status != 200:
            raise RuntimeError(f"GET /login/ answered {status}")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if not match:
            raise RuntimeError("no CSRF token on /login/")
        form = urlencode(
            {"username": username, "password": password,
             "csrfmiddlewaretoken": match.group(1).decode()}
        )  # fmt: skip
        status, _body, _ = self.request(
            "POST", "/login/", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Referer": f"http://127.0.0.1:{self.port}/login/"},
        )  # fmt: skip
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login as {username} failed (status {status})")


def measure(
    client: Http,
    paths: list[str],
    count: int,
    warmup: int = 5,
    expect: int = 200,
    after_each=None,
) -> dict:
    """Percentiles of `count` requests; `after_each(measured)` runs after every request,
    the warm-up ones (measured=False) included (page_with_sql replays the page's SQL there)."""
    load_before = os.getloadavg()[0]
    for i in range(warmup):
        client.request("GET", paths[i % len(paths)])
        if after_each:
            after_each(False)
    times, statuses = [], {}
    first_error = None
    for i in range(count):
        status, body, ms = client.request("GET", paths[i % len(paths)])
        statuses[status] = statuses.get(status, 0) + 1
        if status == expect:
            times.append(ms)
        elif first_error is None:
            first_error = {"path": paths[i % len(paths)], "status": status,
                           "body": body[:300].decode(errors="replace")}  # fmt: skip
        if after_each:
            after_each(True)
    result = {**summary(times), "statuses": {str(k): v for k, v in statuses.items()}}
    # The machine may be shared: the 1-minute load average around this figure, to read it by.
    result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if first_error:
        result["error"] = first_error
        log(f"  !! {first_error['path']} answered {first_error['status']}")
    return result


def throughput(port: int, headers: dict, path: str, clients: int, seconds: float, cap: int):
    times: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    sent = [0]
    stop_at = time.monotonic() + seconds

    def worker():
        client = Http(port, headers)
        client.request("GET", path)  # connect and warm up
        while True:
            with lock:
                if sent[0] >= cap or time.monotonic() >= stop_at:
                    return
                sent[0] += 1
            status, _body, ms = client.request("GET", path)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    times.append(ms)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    ok = statuses.get(200, 0)
    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": sum(statuses.values()),
        "requests_per_s": round(ok / wall, 1) if wall else None,
        "statuses": {str(k): v for k, v in statuses.items()},
        **summary(times),
    }


# --- in-process Django: ids, queries, SQL capture and replay ------------------------------


def django_setup(env) -> None:
    for key in ("KLIENTO_DATA_DIR", "DATABASE_URL", "DEBUG", "HUEY_IMMEDIATE"):
        os.environ[key] = env[key]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kliento.settings")
    import django

    django.setup()


def heavy_contact_id() -> int | None:
    from kliento.customers.demo import HEAVY_TAG
    from kliento.customers.models import Contact

    return (
        Contact.objects.filter(tags__contains=f",{HEAVY_TAG},")
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def search_queries(seed: int, contacts: int) -> list[str]:
    """Realistic queries drawn from the loaded data: typos, other alphabet, phone fragments."""
    from kliento.customers.demo import _typo, translit
    from kliento.customers.models import Company, Contact

    rng = random.Random(seed)
    ids = [rng.randint(1, contacts) for _ in range(40)]
    people = list(
        Contact.objects.filter(id__in=ids).values_list(
            "first_name", "last_name", "email", "phone", "country"
        )
    )
    queries: list[str] = []
    for i, (first, last, email, phone, country) in enumerate(people[:24]):
        kind = i % 6
        if kind == 0:
            queries.append(_typo(rng, last))
        elif kind == 1 and country == "RU":
            queries.append(f"{translit(first)} {translit(last)}")  # Cyrillic name typed in Latin
        elif kind == 1:
            queries.append(f"{first} {_typo(rng, last)}")
        elif kind == 2 and phone:
            digits = phone.lstrip("+")
            if phone.startswith("+7"):
                queries.append(f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}")
            else:
                queries.append(digits[-7:])
        elif kind == 3 and email:
            queries.append(email)
        elif kind == 4 and email:
            queries.append(email.split("@")[0])
        else:
            queries.append(f"{first} {last}")
    companies = list(Company.objects.filter(id__in=ids[:10]).values_list("name", "tax_id"))
    for name, tax_id in companies[:6]:
        queries.append(_typo(rng, name.removeprefix("ИП ")))
        queries.append(tax_id)
    return queries


def capture_sql(username: str, path: str, headers: dict | None = None) -> tuple[int, list[str]]:
    """The SQL one request to `path` runs, captured in-process with the test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from kliento.core.models import User

    client = Client(headers=headers)
    if not headers:
        client.force_login(User.objects.get(username=username))
    client.get(path)  # warm caches the app keeps per process
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    sql = [q["sql"] for q in ctx.captured_queries]
    return response.status_code, sql


def replay_runner(env, statements: list[str]):
    """(once, close): `once()` runs the captured statements on a raw connection, fetching every
    row, and returns its milliseconds: the database's share of a page."""
    statements = [
        s for s in statements if not s.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[1]
        conn = sqlite3.connect(path)
        for pragma in ("PRAGMA cache_size=-65536", "PRAGMA temp_store=MEMORY",
                       "PRAGMA mmap_size=268435456"):  # fmt: skip
            conn.execute(pragma)

        def run(sql):
            conn.execute(sql).fetchall()
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True)
        conn.execute("SET TIME ZONE 'UTC'")

        def run(sql):
            cur = conn.execute(sql)  # no parameters: sent verbatim
            if cur.description:
                cur.fetchall()

    def once() -> float:
        started = time.perf_counter()
        for sql in statements:
            run(sql)
        return (time.perf_counter() - started) * 1000

    return once, conn.close, len(statements)


def replay_sql(env, statements: list[str], count: int, warmup: int = 5) -> dict:
    """The captured statements `count` times on a raw connection (see replay_runner)."""
    once, close, n = replay_runner(env, statements)
    try:
        for _ in range(warmup):
            once()
        times = [once() for _ in range(count)]
    finally:
        close()
    return {**summary(times), "statements": n}


def page_with_sql(env, client: Http, path: str, count: int) -> dict:
    """The page over HTTP and its SQL replayed, alternately (a request, then a replay), so
    that both see the same moments of a shared machine: a busy spell then slows both sides of
    the ratio instead of one."""
    status, statements = capture_sql(BENCH_USER, path, client.headers)
    result: dict = {"url": path}
    if status != 200:
        result["http"] = measure(client, [path], count)
        result["sql"] = {"error": f"in-process request answered {status}"}
        return result
    once, close, n = replay_runner(env, statements)
    sql_times: list[float] = []

    def replay(measured: bool) -> None:
        ms = once()
        if measured:
            sql_times.append(ms)

    try:
        http_result = measure(client, [path], count, after_each=replay)
    finally:
        close()
    sql_result = {**summary(sql_times), "statements": n}
    result.update(http=http_result, sql=sql_result, interleaved=True)
    # The same statements back to back, as the earlier runs measured them: every cache hot,
    # the database's best case (the replay interleaved with requests runs after the server's
    # work, as the page's own queries do).
    result["sql_back_to_back"] = replay_sql(env, statements, count)
    if http_result.get("p50_ms") and sql_result.get("p50_ms"):
        result["ratio_p50"] = round(http_result["p50_ms"] / sql_result["p50_ms"], 2)
        result["ratio_p95"] = round(http_result["p95_ms"] / sql_result["p95_ms"], 2)
        tight = result["sql_back_to_back"]
        result["ratio_p95_back_to_back"] = round(http_result["p95_ms"] / tight["p95_ms"], 2)
    result["queries"] = statements
    return result


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200, help="requests per page measured")
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument("--api-requests", type=int, default=2000)
    parser.add_argument("--data-dir", help="data dir for SQLite and the server (default: temp)")
    parser.add_argument("--pg-name", default="kliento_bench")
    parser.add_argument("--reuse", action="store_true", help="skip the load, reuse --data-dir")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--load-only", action="store_true", help="only time the demo load")
    parser.add_argument("--out", help="result file (default bench/results/foundation-…json)")
    args = parser.parse_args()

    command = " ".join([".venv/bin/python", "bench/foundation.py", *sys.argv[1:]])
    env = prepare_database(args)
    result: dict = {
        "benchmark": "foundation",
        "command": command,
        "db": args.db,
        "contacts": args.contacts,
        "seed": args.seed,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(env),
    }
    out_path = Path(args.out or RESULTS / f"foundation-{args.db}-{args.contacts}.json")
    server = None
    try:
        if not args.reuse:
            log(f"loading the demo company: {args.contacts:,} contacts into {args.db}")
            result["demo"] = load_demo(args, env)
            log(f"demo load took {result['demo']['seconds']}s")
        if args.load_only:
            return
        django_setup(env)
        from kliento.core.models import User
        from kliento.core.services import apikey_create

        user = User.objects.get(username=BENCH_USER)
        _key, raw_key = apikey_create(actor=user, user=user, name="bench")
        heavy = heavy_contact_id()
        queries = search_queries(args.seed, args.contacts)
        result["bench_user"] = {"username": BENCH_USER, "role": user.role}
        result["heavy_contact_id"] = heavy

        port = free_port()
        server, argv = start_server(env, port, Path(env["KLIENTO_DATA_DIR"]) / "server.log")
        result["server"] = " ".join(Path(argv[0]).name if i == 0 else a for i, a in
                                    enumerate(argv))  # fmt: skip
        browser = Http(port)
        browser.login(BENCH_USER, PASSWORD)
        n = args.requests

        log(f"contact list page: {LIST_URL}")
        result["contact_list"] = page_with_sql(env, browser, LIST_URL, n)
        log(f"  {_fmt(result['contact_list'])}")
        result["floors"] = floors(port, browser, result["contact_list"], n)
        log(f"  floors: {result['floors']}")

        log(f"search: {len(queries)} queries")
        api_headers = {"Authorization": f"Bearer {raw_key}"}
        api = Http(port, api_headers)
        paths = [f"/api/v1/search?q={quote(q)}" for q in queries]
        result["search"] = {"queries": queries, **measure(api, paths, max(n, len(paths)))}
        counts = []
        for p in paths:
            status, body, _ = api.request("GET", p)
            counts.append(_hit_count(body) if status == 200 else None)
        result["search"]["hits_per_query"] = counts
        log(f"  {_fmt(result['search'])}")

        if heavy:
            path = f"/contacts/{heavy}/"
            log(f"detail page of the contact with the longest timeline: {path}")
            result["contact_detail"] = page_with_sql(env, browser, path, n)
            log(f"  {_fmt(result['contact_detail'])}")
        else:
            result["contact_detail"] = {"error": "no bench-heavy contact (needs ≥ 10,000)"}

        log(f"API throughput: {API_LIST_URL}, 8 clients")
        result["api_list"] = {
            "url": API_LIST_URL,
            **throughput(port, api_headers, API_LIST_URL, 8, args.api_seconds, args.api_requests),
        }
        log(f"  {result['api_list']['requests_per_s']} req/s, {_fmt(result['api_list'])}")
        status, statements = capture_sql(BENCH_USER, API_LIST_URL, api_headers)
        if status == 200:
            # Single-client view of the same endpoint: its SQL replayed, for the app/SQL ratio.
            result["api_list"]["single_client"] = page_with_sql(env, api, API_LIST_URL, 30)
        result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    finally:
        if server is not None:
            stop_server(server)
        result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {out_path}")
        if not args.keep:
            cleanup(args, env)


def floors(port: int, browser: Http, contact_list: dict, count: int) -> dict:
    """What any request costs before a page does its own work, on the same server: the health
    check (the middleware stack and one SELECT 1, no session) and the cheapest page in the
    layout for the signed-in user (a 404: session, user, menu). Each divided by the list's SQL
    p95 says how far below 3 the app/SQL ratio of any page can go on this stack."""
    result = {
        "healthz": measure(Http(port), ["/healthz"], count),
        "layout_404": measure(browser, ["/contacts/0/"], count, expect=404),
    }
    sql_p95 = (contact_list.get("sql") or {}).get("p95_ms")
    for key in ("healthz", "layout_404"):
        p95 = result[key].get("p95_ms")
        if sql_p95 and p95:
            result[key]["over_list_sql_p95"] = round(p95 / sql_p95, 2)
    return result


def _hit_count(body: bytes) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        data = data.get("items", data.get("results", data.get("hits", [])))
    return len(data) if isinstance(data, list) else None


def _fmt(result: dict) -> str:
    if "http" in result:
        h, s = result["http"], result.get("sql", {})
        t = result.get("sql_back_to_back", {})
        return (f"HTTP p50 {h.get('p50_ms')} ms p95 {h.get('p95_ms')} ms | SQL p50 "
                f"{s.get('p50_ms')} ms p95 {s.get('p95_ms')} ms | ratio p50 "
                f"{result.get('ratio_p50')} p95 {result.get('ratio_p95')} | back to back: SQL "
                f"p95 {t.get('p95_ms')} ms, ratio p95 {result.get('ratio_p95_back_to_back')} | "
                f"load {h.get('loadavg_1m')}")  # fmt: skip
    return (f"p50 {result.get('p50_ms')} ms p95 {result.get('p95_ms')} ms | load "
            f"{result.get('loadavg_1m')}")  # fmt: skip


def cleanup(args, env) -> None:
    if args.db == "postgres":
        import psycopg
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{args.pg_name}" WITH (FORCE)')
    if not args.data_dir:
        shutil.rmtree(env["KLIENTO_DATA_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
