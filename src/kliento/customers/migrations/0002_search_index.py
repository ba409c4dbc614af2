"""Full-text/trigram index over SearchEntry.text: FTS5 on SQLite, pg_trgm on PostgreSQL."""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE customers_search_fts USING fts5(
        text, content='customers_searchentry', content_rowid='id', tokenize='trigram'
    )""",
    """CREATE TRIGGER customers_search_ai AFTER INSERT ON customers_searchentry BEGIN
        INSERT INTO customers_search_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER customers_search_ad AFTER DELETE ON customers_searchentry BEGIN
        INSERT INTO customers_search_fts(customers_search_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER customers_search_au AFTER UPDATE ON customers_searchentry BEGIN
        INSERT INTO customers_search_fts(customers_search_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
        INSERT INTO customers_search_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_search_au",
    "DROP TRIGGER IF EXISTS customers_search_ad",
    "DROP TRIGGER IF EXISTS customers_search_ai",
    "DROP TABLE IF EXISTS customers_search_fts",
]
PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX customers_search_trgm ON customers_searchentry USING gin (text gin_trgm_ops)",
]
PG_REVERSE = ["DROP INDEX IF EXISTS customers_search_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": PG_REVERSE}),
        )
    ]
