"""Sales benchmark: kanban board, forecast and sales-cycle reports, quote PDF, web-form capture.

    .venv/bin/python bench/sales.py --contacts 100000 --db sqlite
    .venv/bin/python bench/sales.py --contacts 1000000 --db postgres
    .venv/bin/python bench/sales.py --report     # the tables of docs/BENCHMARKS.md

Each run loads the demo company (`kliento demo`: customers, then the sales demo of
`kliento.sales.demo` — about 0.3 deals and 3 orders per contact) into a fresh database (an
SQLite file in a temporary data dir, or the PostgreSQL database `kliento_bench_sales`), times
the load, starts the real server (`kliento serve --no-worker`) with the per-IP web-form limit
raised (KLIENTO_WEBFORM_RATE_PER_MINUTE, through a settings module in the data dir), logs in
as the demo head of sales (who sees every rep's deals) and measures:

- board:    GET /deals/?pipeline=<id> of the pipeline "Повторные продажи" (>10,000 open deals at
            1M contacts) through HTTP, and its SQL replayed on a raw connection; app/SQL ratio;
- forecast: GET /reports/forecast/ over 36 months (30 back, 5 ahead: every open deal and the
            won ones) with its SQL replayed;
- cycle:    GET /reports/sales-cycle/ over the whole three years of deals, SQL replayed;
- pnl:      GET /reports/pnl/?by=product over the same three years (every order line), SQL
            replayed;
- pdf:      GET /quotes/<id>/pdf/ of the demo quote with the most lines;
- capture:  POST /api/v1/forms/<key>/submit (the public web-form endpoint: rate check,
            assignment rules, duplicate check against contacts and leads) from 8 client
            threads for 10 s or 2,000 requests, whichever comes first; one submission in five
            reuses the email of an existing contact (the duplicate path). Requests/s and
            latency percentiles; leads created, and whether any lead was lost or assigned twice.

Results go to bench/results/sales-<db>-<contacts>.json. A page that does not answer 200 is
recorded with its status and the first error body, and the run goes on. The helpers (HTTP
client, server start, SQL capture and replay) are bench/foundation.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import foundation as fb  # noqa: E402 - the sibling module, after the path is set

ROOT = fb.ROOT
RESULTS = fb.RESULTS
BENCH_USER = fb.BENCH_USER
PASSWORD = fb.PASSWORD
RATE_SETTING = "KLIENTO_WEBFORM_RATE_PER_MINUTE"
log = fb.log


def bench_settings(env: dict) -> None:
    """The server's settings: Kliento's, with the per-IP web-form limit out of the way."""
    data_dir = Path(env["KLIENTO_DATA_DIR"])
    (data_dir / "kliento_bench_settings.py").write_text(
        f"from kliento.settings import *  # noqa: F403\n\n{RATE_SETTING} = 1_000_000_000\n"
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(data_dir), env.get("PYTHONPATH", "")) if p)
    env["DJANGO_SETTINGS_MODULE"] = "kliento_bench_settings"


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# --- in-process look-ups -------------------------------------------------------------------


def scale_facts() -> dict:
    from django.db.models import Count

    from kliento.customers.models import Contact
    from kliento.sales.deals.models import Deal, Pipeline, StageChange
    from kliento.sales.demo import BOARD_PIPELINE
    from kliento.sales.leads.models import Lead
    from kliento.sales.orders.models import Order, OrderLine
    from kliento.sales.quotes.models import Quote

    board = Pipeline.objects.filter(name=BOARD_PIPELINE).order_by("id").first()
    open_by_pipeline = dict(
        Deal.objects.filter(status="open").values_list("pipeline_id").annotate(n=Count("id"))
    )
    quote = Quote.objects.annotate(n=Count("lines")).order_by("-n", "id").values("id", "n").first()
    return {
        "contacts": Contact.objects.count(),
        "deals": Deal.objects.count(),
        "open_deals_by_pipeline": {str(k): v for k, v in open_by_pipeline.items()},
        "stage_changes": StageChange.objects.count(),
        "orders": Order.objects.count(),
        "order_lines": OrderLine.objects.count(),
        "leads": Lead.objects.count(),
        "quotes": Quote.objects.count(),
        "board_pipeline_id": board.pk if board else None,
        "board_open_deals": open_by_pipeline.get(board.pk, 0) if board else 0,
        "pdf_quote_id": quote["id"] if quote else None,
        "pdf_quote_lines": quote["n"] if quote else 0,
    }


def web_form_key() -> str | None:
    from kliento.sales.leads.models import WebForm

    form = WebForm.objects.filter(active=True).order_by("id").first()  # the Russian site's
    return form.key if form else None


def existing_emails(seed: int, contacts: int, n: int = 400) -> list[str]:
    from kliento.customers.models import Contact

    rng = random.Random(f"{seed}:capture")
    ids = [rng.randint(1, max(contacts, 1)) for _ in range(n)]
    return [e for e in Contact.objects.filter(id__in=ids).values_list("email", flat=True) if e]


def lead_stats(since_id: int) -> dict:
    from django.db.models import Count

    from kliento.sales.leads.models import Lead

    new = Lead.objects.filter(id__gt=since_id)
    twice = new.values("email").annotate(n=Count("id")).filter(n__gt=1, email__gt="").count()
    return {
        "leads_created": new.count(),
        "leads_without_owner": new.filter(owner=None).count(),
        "emails_with_two_new_leads": twice,
        "assigned_by_rule": new.exclude(assigned_by_rule=None).count(),
    }


def max_lead_id() -> int:
    from kliento.sales.leads.models import Lead

    return Lead.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- web-form capture throughput -----------------------------------------------------------


def capture_throughput(port: int, key: str, emails: list[str], clients: int, seconds: float,
                       cap: int, seed: int) -> dict:  # fmt: skip
    """POST submissions from `clients` threads; every new email is unique to the run."""
    path = f"/api/v1/forms/{key}/submit"
    times: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    sent = [0]
    first_error: dict = {}
    stop_at = time.monotonic() + seconds
    run = f"{seed}-{int(time.time())}"

    def body(n: int, rng: random.Random) -> str:
        if emails and n % 5 == 0:  # an existing customer writes again: the duplicate path
            email = emails[n // 5 % len(emails)]
        else:
            email = f"bench.{run}.{n}@example.org"
        return json.dumps(
            {
                "first_name": rng.choice(["Анна", "Олег", "Мария", "Jane", "Пётр"]),
                "last_name": rng.choice(["Смирнова", "Ковалёв", "Ильина", "Carter", "Орлов"]),
                "email": email,
                "phone": f"+7916{n % 10_000_000:07d}",
                "company_name": rng.choice(["", "ООО «Вектор»", "Bluestone Ltd"]),
                "message": "Нужен счёт на 5 ноутбуков.",
                "utm_source": "bench",
            },
            ensure_ascii=False,
        )

    def worker(no: int):
        rng = random.Random(f"{seed}:{no}")
        client = fb.Http(port, {"Content-Type": "application/json"})
        while True:
            with lock:
                if sent[0] >= cap or time.monotonic() >= stop_at:
                    return
                n = sent[0]
                sent[0] += 1
            status, data, ms = client.request("POST", path, body=body(n, rng).encode())
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    times.append(ms)
                elif not first_error:
                    first_error.update(status=status, body=data[:300].decode(errors="replace"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    ok = statuses.get(200, 0)
    result = {
        "url": path,
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": sum(statuses.values()),
        "requests_per_s": round(ok / wall, 1) if wall else None,
        "statuses": {str(k): v for k, v in statuses.items()},
        **fb.summary(times),
    }
    if first_error:
        result["error"] = first_error
        log(f"  !! {path} answered {first_error['status']}: {first_error['body'][:120]}")
    return result


# --- main ----------------------------------------------------------------------------------


def replay_sql(env, statements: list[str], count: int, warmup: int = 3) -> dict:
    """foundation.replay_sql, with Django's SQLite functions (date_trunc, …) registered."""
    statements = [
        s for s in statements if not s.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        import sqlite3

        from django.db.backends.sqlite3._functions import register

        conn = sqlite3.connect(url.split("sqlite:///", 1)[1])
        register(conn)
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
            cur = conn.execute(sql)
            if cur.description:
                cur.fetchall()

    times = []
    try:
        for i in range(warmup + count):
            started = time.perf_counter()
            for sql in statements:
                run(sql)
            if i >= warmup:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        conn.close()
    return {**fb.summary(times), "statements": len(statements)}


def timed_page(env, client, name: str, path: str, count: int, result: dict) -> None:
    """HTTP percentiles, then the page's SQL captured in-process and replayed directly."""
    log(f"{name}: {path}")
    page: dict = {"url": path, "http": fb.measure(client, [path], count, warmup=2)}
    result[name] = page
    try:
        status, statements = fb.capture_sql(BENCH_USER, path, client.headers)
        if status != 200:
            page["sql"] = {"error": f"in-process request answered {status}"}
        else:
            page["sql"] = replay_sql(env, statements, count)
            page["queries"] = statements
            http, sql = page["http"], page["sql"]
            if http.get("p50_ms") and sql.get("p50_ms"):
                page["ratio_p50"] = round(http["p50_ms"] / sql["p50_ms"], 2)
                page["ratio_p95"] = round(http["p95_ms"] / sql["p95_ms"], 2)
    except Exception as exc:  # a failing replay must not lose the HTTP figures
        page["sql"] = {"error": f"{type(exc).__name__}: {exc}"}
    log(f"  {fb._fmt(page)}" + (f" ({page['sql']['error']})" if "error" in page["sql"] else ""))


def _ms(block: dict | None, key: str) -> str:
    if not block or block.get(key) is None:
        return "not measured"
    return f"{block[key]:g} ms"


def _page_cells(page: dict | None) -> list[str]:
    """p50 / p95 through HTTP, SQL p50 / p95, app/SQL p50 / p95."""
    if not page or "http" not in page:
        return ["not measured"] * 3
    http, sql = page["http"], page.get("sql", {})
    if not http.get("p50_ms"):
        return [f"HTTP {http.get('error', {}).get('status', '?')}", "", ""]
    cells = [f"{http['p50_ms']:g} / {http['p95_ms']:g} ms"]
    cells.append(f"{sql['p50_ms']:g} / {sql['p95_ms']:g} ms" if sql.get("p50_ms") else
                 sql.get("error", "not measured")[:40])  # fmt: skip
    cells.append(f"{page['ratio_p50']:g} / {page['ratio_p95']:g}" if page.get("ratio_p50")
                 else "")  # fmt: skip
    return cells


def report() -> None:
    """Print docs/BENCHMARKS.md's Sales tables from bench/results/sales-*.json."""
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("sales-*.json"))]
    runs = [r for r in runs if r.get("scale") or r.get("demo")]
    head = ["db", "contacts", "deals / orders", "demo load (sales part)", "board: open deals",
            "board p50 / p95", "board SQL p50 / p95", "board app/SQL"]  # fmt: skip
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in runs:
        scale, demo = r.get("scale", {}), r.get("demo", {})
        load = (f"{demo['seconds']:g} s ({demo.get('sales_seconds', 0):g} s)"
                if demo.get("seconds") else "")  # fmt: skip
        counts = f"{scale['deals']:,} / {scale['orders']:,}" if scale else ""
        board = r.get("board")
        cells = [
            r["db"],
            f"{r['contacts']:,}",
            counts,
            load,
            f"{board.get('open_deals', 0):,}" if board else "",
            *_page_cells(board),
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    head = ["db", "contacts", "forecast p50 / p95", "forecast SQL", "forecast app/SQL",
            "cycle p50 / p95", "cycle SQL", "cycle app/SQL",
            "P&L by product p50 / p95", "P&L SQL", "P&L app/SQL", "quote PDF p50 / p95",
            "capture req/s (8 clients)", "capture p95", "leads created / requests"]  # fmt: skip
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in runs:
        if not r.get("scale"):
            continue
        cap, pdf = r.get("capture") or {}, r.get("pdf") or {}
        pdf_cell = (f"{pdf['p50_ms']:g} / {pdf['p95_ms']:g} ms" if pdf.get("p50_ms")
                    else "not measured")  # fmt: skip
        cells = [
            r["db"],
            f"{r['contacts']:,}",
            *_page_cells(r.get("forecast")),
            *_page_cells(r.get("cycle")),
            *_page_cells(r.get("pnl")),
            pdf_cell,
            f"{cap['requests_per_s']:g}" if cap.get("requests_per_s") else "not measured",
            _ms(cap, "p95_ms"),
            f"{cap.get('leads_created', 0):,} / {cap.get('requests', 0):,}" if cap else "",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    for r in runs:
        print(f"- {r['db']}, {r['contacts']:,} contacts: `{r['command']}`")


def main() -> None:
    if sys.argv[1:] == ["--report"]:
        report()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100, help="requests for board and PDF")
    parser.add_argument("--report-requests", type=int, default=20, help="requests per report")
    parser.add_argument("--capture-seconds", type=float, default=10.0)
    parser.add_argument("--capture-requests", type=int, default=2000)
    parser.add_argument("--data-dir", help="data dir for SQLite and the server (default: temp)")
    parser.add_argument("--pg-name", default="kliento_bench_sales")
    parser.add_argument("--reuse", action="store_true", help="skip the load, reuse the database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--load-only", action="store_true", help="only time the demo load")
    parser.add_argument(
        "--only", help="comma-separated figures: board,forecast,cycle,pnl,pdf,capture"
    )
    parser.add_argument("--out", help="result file (default bench/results/sales-…json)")
    args = parser.parse_args()
    only = set((args.only or "board,forecast,cycle,pnl,pdf,capture").split(","))

    command = " ".join([".venv/bin/python", "bench/sales.py", *sys.argv[1:]])
    env = fb.prepare_database(args)
    result: dict = {
        "benchmark": "sales",
        "command": command,
        "db": args.db,
        "contacts": args.contacts,
        "seed": args.seed,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": fb.machine_info(env),
    }
    out_path = Path(args.out or RESULTS / f"sales-{args.db}-{args.contacts}.json")
    server = None
    try:
        if not args.reuse:
            log(f"loading the demo company: {args.contacts:,} contacts into {args.db}")
            result["demo"] = fb.load_demo(args, env)
            sales_line = [ln for ln in result["demo"]["output"] if ln.startswith("sales done")]
            if sales_line:
                result["demo"]["sales_seconds"] = float(sales_line[-1].split()[-1].rstrip("s"))
            log(f"demo load took {result['demo']['seconds']}s")
        else:
            fb.kliento(env, "manage", "migrate", "--skip-checks", "-v0")
        if args.load_only:
            return
        bench_settings(env)
        fb.django_setup(env)
        from django.conf import settings

        result["scale"] = facts = scale_facts()
        log(f"scale: {json.dumps(facts)}")
        result["bench_user"] = BENCH_USER
        key = web_form_key()
        emails = existing_emails(args.seed, args.contacts)

        port = fb.free_port()
        server, argv = fb.start_server(env, port, Path(env["KLIENTO_DATA_DIR"]) / "server.log")
        result["server"] = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        result["server_settings"] = {RATE_SETTING: 1_000_000_000}
        browser = fb.Http(port)
        browser.login(BENCH_USER, PASSWORD)
        # The in-process SQL capture runs with the same settings as the server.
        setattr(settings, RATE_SETTING, 1_000_000_000)

        if "board" in only and facts["board_pipeline_id"]:
            path = f"/deals/?pipeline={facts['board_pipeline_id']}"
            timed_page(env, browser, "board", path, args.requests, result)
            result["board"]["open_deals"] = facts["board_open_deals"]

        today = datetime.now(UTC).date()
        if "forecast" in only:
            first = add_months(today.replace(day=1), -30)
            last = add_months(today.replace(day=1), 5)
            path = f"/reports/forecast/?month_from={first:%Y-%m}&month_to={last:%Y-%m}"
            timed_page(env, browser, "forecast", path, args.report_requests, result)
        if "cycle" in only:
            start = add_months(today.replace(day=1), -37)
            path = f"/reports/sales-cycle/?date_from={start.isoformat()}&date_to={today}"
            timed_page(env, browser, "cycle", path, args.report_requests, result)
        if "pnl" in only:
            start = add_months(today.replace(day=1), -37)
            path = f"/reports/pnl/?by=product&date_from={start.isoformat()}&date_to={today}"
            timed_page(env, browser, "pnl", path, args.report_requests, result)

        if "pdf" in only and facts["pdf_quote_id"]:
            path = f"/quotes/{facts['pdf_quote_id']}/pdf/"
            log(f"quote PDF: {path} ({facts['pdf_quote_lines']} lines)")
            result["pdf"] = {"url": path, "lines": facts["pdf_quote_lines"],
                             **fb.measure(browser, [path], args.requests)}  # fmt: skip
            status, body, _ = browser.request("GET", path)
            result["pdf"]["bytes"] = len(body) if status == 200 else None
            result["pdf"]["is_pdf"] = body[:5] == b"%PDF-"
            log(f"  {fb._fmt(result['pdf'])}")

        if "capture" in only and key:
            log("web-form capture: 8 clients")
            before = max_lead_id()
            result["capture"] = capture_throughput(
                port, key, emails, 8, args.capture_seconds, args.capture_requests, args.seed
            )
            result["capture"].update(lead_stats(before))
            log(f"  {result['capture']['requests_per_s']} req/s, {fb._fmt(result['capture'])}")
        result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    finally:
        if server is not None:
            fb.stop_server(server)
        result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
        log(f"wrote {out_path}")
        if not args.keep:
            fb.cleanup(args, env)


if __name__ == "__main__":
    main()
