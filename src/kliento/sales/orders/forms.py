"""Turning the order form's POST into the plain dict the services take (and back)."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

LINE_FIELDS = ("product", "quantity", "price", "discount_kind", "discount_value")
ORDER_FIELDS = (
    "contact",
    "company",
    "deal",
    "owner",
    "ordered_at",
    "channel",
    "currency",
    "price_list",
    "note",
)


def order_data(post: QueryDict, *, keep_empty: bool = False) -> dict[str, Any]:
    """The order and its lines from the form; rows left completely empty are dropped (kept
    as {} with keep_empty, so the live totals line up with the rows on screen)."""
    data: dict[str, Any] = {
        k: post.get(k, "").strip() for k in ORDER_FIELDS if post.get(k, "").strip()
    }
    columns = {f: post.getlist(f"line_{f}") for f in LINE_FIELDS}
    count = max((len(v) for v in columns.values()), default=0)
    lines = []
    for i in range(count):
        row = {f: (columns[f][i].strip() if i < len(columns[f]) else "") for f in LINE_FIELDS}
        if not any(row[f] for f in ("product", "quantity", "price", "discount_value")):
            if keep_empty:
                lines.append({})
            continue
        lines.append({k: v for k, v in row.items() if v != ""})
    data["lines"] = lines
    return data


def line_rows(data: dict[str, Any], minimum: int = 1) -> list[dict[str, Any]]:
    """Rows to render in the lines editor: what was entered, at least `minimum`."""
    rows = [dict(line) for line in data.get("lines", [])]
    while len(rows) < minimum:
        rows.append({})
    return rows
