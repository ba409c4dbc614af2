"""Print the results table of docs/BENCHMARKS.md from bench/results/foundation-*.json.

.venv/bin/python bench/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
NOT_MEASURED = "not yet measured"


def _ms(block: dict | None, key: str) -> str:
    if not block or block.get(key) is None:
        return NOT_MEASURED
    return f"{block[key]:g} ms"


def _page(result: dict, name: str) -> tuple[str, str, str, str]:
    page = result.get(name)
    if not page:
        return (NOT_MEASURED,) * 4
    http, sql = page.get("http", {}), page.get("sql", {})
    if http.get("error") and not http.get("p50_ms"):
        status = http["error"].get("status")
        return (f"HTTP {status}",) * 2 + (NOT_MEASURED,) * 2
    ratio = NOT_MEASURED
    if page.get("ratio_p50") is not None:
        ratio = f"{page['ratio_p50']:g} / {page['ratio_p95']:g}"
    sql_text = NOT_MEASURED
    if sql.get("p50_ms") is not None:
        sql_text = f"{sql['p50_ms']:g} / {sql['p95_ms']:g} ms"
    return _ms(http, "p50_ms"), _ms(http, "p95_ms"), sql_text, ratio


def main() -> None:
    rows, floor_rows = [], []
    for path in sorted(RESULTS.glob("foundation-*.json")):
        r = json.loads(path.read_text())
        if r.get("floors"):
            floor_rows.append(_floors(r))
        demo = r.get("demo", {}).get("seconds")
        cpu = None
        if r.get("demo", {}).get("cpu_user_s") is not None:
            cpu = r["demo"]["cpu_user_s"] + r["demo"]["cpu_sys_s"]
        lp50, lp95, lsql, lratio = _page(r, "contact_list")
        dp50, dp95, dsql, dratio = _page(r, "contact_detail")
        search, api = r.get("search", {}), r.get("api_list", {})
        load = r.get("machine", {}).get("loadavg_at_start", [None])[0]
        rows.append(
            [
                r["db"],
                f"{r['contacts']:,}",
                f"{demo:g} s" if demo is not None else NOT_MEASURED,
                lp50,
                lp95,
                lsql,
                lratio,
                _ms(search, "p50_ms"),
                _ms(search, "p95_ms"),
                dp50,
                dp95,
                f"{api['requests_per_s']:g}" if api.get("requests_per_s") is not None
                else NOT_MEASURED,
                _ms(api, "p95_ms"),
                f"{load:.1f}" if load is not None else "",
                f"`{r['command']}`",
                f"{cpu:.0f} s" if cpu is not None else NOT_MEASURED,
            ]
        )  # fmt: skip
    # Two tables so each fits on a screen; both start with db and contacts.
    first = ["db", "contacts", "demo load", "demo CPU", "list p50", "list p95",
             "list SQL p50 / p95", "list app/SQL p50 / p95", "load avg at start"]  # fmt: skip
    second = ["db", "contacts", "search p50", "search p95", "detail p50", "detail p95",
              "API req/s (8 clients)", "API p95"]  # fmt: skip
    _table(first, [[*r[:3], r[15], *r[3:7], r[13]] for r in rows])
    print()
    _table(second, [[*r[:2], *r[7:13]] for r in rows])
    print()
    if floor_rows:
        _table(
            ["db", "contacts", "list SQL p95", "/healthz p95", "÷ list SQL", "404 page p95",
             "÷ list SQL"],
            floor_rows,
        )  # fmt: skip
        print()
    for r in rows:
        print(f"- {r[0]}, {r[1]} contacts: {r[14]}")


def _floors(r: dict) -> list[str]:
    """The cost of any request on this stack (see floors() in foundation.py)."""
    f, sql = r["floors"], r.get("contact_list", {}).get("sql", {})
    cells = [r["db"], f"{r['contacts']:,}", _ms(sql, "p95_ms")]
    for key in ("healthz", "layout_404"):
        ratio = f[key].get("over_list_sql_p95")
        cells += [_ms(f[key], "p95_ms"), f"{ratio:g}" if ratio is not None else NOT_MEASURED]
    return cells


def _table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
