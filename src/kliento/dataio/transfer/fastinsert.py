"""Bulk inserts for the import's hot path: the database's own bulk load, not the ORM's.

`bulk_create` spends most of an import's time building one SQL string per batch field by field
(`get_db_prep_save` for every value of every row). Here ids are reserved first (PostgreSQL:
`nextval` of the table's sequence; SQLite: above the highest id, under the write lock the
import's transaction already holds), then rows go in with COPY (PostgreSQL) or `executemany`
(SQLite) — the techniques of customers/demo.py — with each value converted once, as Django
would store it (JSON as text, datetimes through the backend's own adapter).

`build` makes the unsaved instances themselves without `Model.__init__` (which resolves every
field's default and every keyword one by one): the same attribute values, a fifth of the cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from operator import attrgetter
from typing import Any

from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

_encode = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(v, ensure_ascii=False)
_quote = json.encoder.encode_basestring  # one JSON string, as the encoder writes it


def _json(value: Any) -> str:
    """json.dumps(value, ensure_ascii=False), with the import's common values (empty, a list of
    strings: a contact's emails and phones) written directly — the same text, a third of the
    time."""
    if not value:
        if value == {}:
            return "{}"
        if value == []:
            return "[]"
    elif type(value) is list and all(type(v) is str for v in value):
        return "[" + ", ".join(map(_quote, value)) + "]"
    return _encode(value)


@cache
def _defaults(model: type[models.Model]) -> tuple[dict[str, Any], tuple, frozenset[str]]:
    """(constant defaults by attname, (attname, default factory) pairs, every attname)."""
    constant: dict[str, Any] = {}
    factories = []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            factories.append((f.attname, f.default))
        elif f.has_db_default():
            factories.append((f.attname, f.get_default))
        else:
            constant[f.attname] = f.get_default()
    return constant, tuple(factories), frozenset(f.attname for f in model._meta.concrete_fields)


def _has_init_listeners(model: type[models.Model]) -> bool:
    return bool(pre_init.receivers or post_init.receivers) and (
        pre_init.has_listeners(model) or post_init.has_listeners(model)
    )


def build(model: type[models.Model], values: dict[str, Any]) -> models.Model:
    """`model(**values)` for concrete-field attnames, without Model.__init__'s per-field work."""
    constant, factories, attnames = _defaults(model)
    if not values.keys() <= attnames or _has_init_listeners(model):
        return model(**values)
    obj = model.__new__(model)
    data = obj.__dict__
    data.update(constant)
    for attname, factory in factories:
        if attname not in values:  # as Model.__init__: no default for a value given
            data[attname] = factory()
    data.update(values)
    obj._state = ModelState()
    return obj


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


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    vendor = connection.vendor
    if isinstance(field, models.JSONField):
        return lambda v: None if v is None else _json(v)
    if vendor == "postgresql":
        return None
    if isinstance(field, models.DateTimeField):
        # One import batch stamps every row with the same moment: adapt each value once.
        adapt = connection.ops.adapt_datetimefield_value
        done: dict[datetime, Any] = {}

        def datetime_value(v):
            if not isinstance(v, datetime):
                return v
            if v not in done:
                done[v] = adapt(v)
            return done[v]

        return datetime_value
    if isinstance(field, models.DateField):
        return lambda v: v.isoformat() if isinstance(v, date) else v
    if isinstance(field, models.BooleanField):
        return lambda v: None if v is None else int(v)
    return None


def insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    one_statement: bool = False,
) -> None:
    """Insert rows given as tuples in `columns` order (attnames, e.g. "owner_id").

    `one_statement` (SQLite): the rows go in as few multi-row INSERTs as the parameter limit
    allows instead of one execution per row. Use it for a table whose trigger writes to an FTS5
    index (the search entries): a statement that fires a trigger opens a statement savepoint,
    and FTS5 writes its pending terms out as a new segment at every savepoint — per row with
    `executemany`, which made the search index cost 3–5× more than with one statement."""
    if not rows:
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    converters = [(i, conv) for i, c in enumerate(columns) if (conv := _converter(fields[c]))]
    if converters:
        converted = []
        for row in rows:
            row = list(row)
            for i, conv in converters:
                row[i] = conv(row[i])
            converted.append(row)
        rows = converted
    table = model._meta.db_table
    names = ", ".join(f'"{fields[c].column}"' for c in columns)
    if connection.vendor == "postgresql":
        # psycopg's own cursor, so its errors are turned into Django's here (a row the database
        # refuses must raise IntegrityError/DatabaseError, which the engine handles).
        with connection.cursor() as cursor, connection.wrap_database_errors:
            raw = cursor.cursor
            with raw.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        return
    one_row = f"({', '.join(['%s'] * len(columns))})"
    with connection.cursor() as cursor:
        if not one_statement:
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES {one_row}', rows)
            return
        step = max(1, _max_params() // len(columns))
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            cursor.execute(
                f'INSERT INTO "{table}" ({names}) VALUES {", ".join([one_row] * len(part))}',
                [value for row in part for value in row],
            )


def _max_params() -> int:
    """The most parameters one SQLite statement takes (32,766 since SQLite 3.32)."""
    connection.ensure_connection()
    getlimit = getattr(connection.connection, "getlimit", None)  # Python 3.11+
    if getlimit is None:
        return connection.features.max_query_params
    import sqlite3

    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def insert_objects(objs: Sequence[models.Model], *, extra: dict | None = None) -> None:
    """Insert unsaved model instances with fresh ids (set on each instance), all columns."""
    if not objs:
        return
    model = type(objs[0])
    ids = reserve_ids(model, len(objs))
    columns = [f.attname for f in model._meta.concrete_fields]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
    insert(model, columns, list(map(attrgetter(*columns), objs)))
