"""Bulk inserts for the import's hot path: the database's own bulk load, not the ORM's.

`bulk_create` spends most of an import's time building one SQL string per batch field by field
(`get_db_prep_save` for every value of every row). Here ids are reserved first (PostgreSQL:
`nextval` of the table's sequence; SQLite: above the highest id, under the write lock the
import's transaction already holds), then rows go in with COPY (PostgreSQL) or `executemany`
(SQLite) — the techniques of customers/demo.py — with each value converted once, as Django
would store it (JSON as text, datetimes through the backend's own adapter).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from django.db import connection, models


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        top = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(top, row[0] if row else 0) + 1
    return list(range(start, start + count))


def _converter(field: models.Field):
    vendor = connection.vendor
    if isinstance(field, models.JSONField):
        return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
    if vendor == "postgresql":
        return None
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        return lambda v: adapt(v) if isinstance(v, datetime) else v
    if isinstance(field, models.DateField):
        return lambda v: v.isoformat() if isinstance(v, date) else v
    if isinstance(field, models.BooleanField):
        return lambda v: None if v is None else int(v)
    return None


def insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert rows given as tuples in `columns` order (attnames, e.g. "owner_id")."""
    if not rows:
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    converters = [_converter(fields[c]) for c in columns]
    if any(converters):
        rows = [
            tuple(conv(v) if conv else v for conv, v in zip(converters, row, strict=True))
            for row in rows
        ]
    table = model._meta.db_table
    names = ", ".join(f'"{fields[c].column}"' for c in columns)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(["%s"] * len(columns))})', rows
        )


def insert_objects(objs: Sequence[models.Model], *, extra: dict | None = None) -> None:
    """Insert unsaved model instances with fresh ids (set on each instance), all columns."""
    if not objs:
        return
    model = type(objs[0])
    ids = reserve_ids(model, len(objs))
    columns = [f.attname for f in model._meta.concrete_fields]
    rows = []
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        rows.append(tuple(getattr(obj, c) for c in columns))
    insert(model, columns, rows)
