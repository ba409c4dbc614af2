"""SQL expressions shared by the apps' queries."""

from __future__ import annotations

import datetime as dt

from django.db.models import DateField, F, Func


class Bucket(Func):
    """The value of the bucket a column falls in: `values[i]` for `bounds[i] <= column <
    bounds[i + 1]`, for rows known to lie within the buckets (the first bound is not
    checked). A binary search written as nested CASE, about log2(buckets) comparisons a row.

    Used for "the month of" a date or datetime (bounds: each month's first day or first
    instant in some time zone): SQLite's TruncMonth calls a Python function per row, and a tree
    of Case/When expressions took longer to compile than to run.
    """

    output_field = DateField()

    def __init__(self, field: str, bounds: list[dt.date], values: list[dt.date]):
        if len(bounds) != len(values) or not bounds:
            raise ValueError("Bucket needs as many bounds as values, at least one")
        super().__init__(F(field))
        self.bounds = list(bounds)
        self.values = list(values)

    def as_sql(self, compiler, connection, **extra):
        column, column_params = compiler.compile(self.source_expressions[0])
        ops = connection.ops
        bounds = [
            ops.adapt_datetimefield_value(b)
            if isinstance(b, dt.datetime)
            else ops.adapt_datefield_value(b)
            for b in self.bounds
        ]
        values = [ops.adapt_datefield_value(v) for v in self.values]

        def search(lo: int, hi: int) -> tuple[str, list]:
            if hi - lo == 1:
                return "%s", [values[lo]]
            mid = (lo + hi) // 2
            left, left_params = search(lo, mid)
            right, right_params = search(mid, hi)
            return (
                f"CASE WHEN {column} < %s THEN {left} ELSE {right} END",
                [*column_params, bounds[mid], *left_params, *right_params],
            )

        if len(values) == 1:
            return f"CASE WHEN {column} IS NOT NULL THEN %s END", [*column_params, values[0]]
        return search(0, len(values))
