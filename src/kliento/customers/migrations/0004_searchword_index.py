"""Trigram index over the search vocabulary (typo correction): FTS5 on SQLite, pg_trgm on PG."""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE customers_searchword_fts USING fts5(
        word, content='customers_searchword', content_rowid='rowid', tokenize='trigram'
    )""",
    """CREATE TRIGGER customers_searchword_ai AFTER INSERT ON customers_searchword BEGIN
        INSERT INTO customers_searchword_fts(rowid, word) VALUES (new.rowid, new.word);
    END""",
    """CREATE TRIGGER customers_searchword_ad AFTER DELETE ON customers_searchword BEGIN
        INSERT INTO customers_searchword_fts(customers_searchword_fts, rowid, word)
        VALUES ('delete', old.rowid, old.word);
    END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_searchword_ad",
    "DROP TRIGGER IF EXISTS customers_searchword_ai",
    "DROP TABLE IF EXISTS customers_searchword_fts",
]
PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX customers_searchword_trgm ON customers_searchword USING gin (word gin_trgm_ops)",
]
PG_REVERSE = ["DROP INDEX IF EXISTS customers_searchword_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_searchword")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": PG_REVERSE}),
        )
    ]
