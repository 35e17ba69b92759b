"""SQLite only: an `event_search` row takes its FTS5 row with it, whoever deletes it (the rebuild, a
test database flush between transactional tests: Django flushes only the tables of its models, so
without this the FTS5 table would keep text for stream positions that no longer index anything).
Orphans left before this migration are dropped."""
from django.db import migrations

_FORWARD = [
    "CREATE TRIGGER event_search_fts_delete AFTER DELETE ON event_search BEGIN "
    "DELETE FROM event_search_fts WHERE rowid = old.stream_ordering; END",
    "DELETE FROM event_search_fts WHERE rowid NOT IN (SELECT stream_ordering FROM event_search)",
]
_BACKWARD = ["DROP TRIGGER IF EXISTS event_search_fts_delete"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for sql in statements:
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0003_sqlite_fts5")]

    operations = [migrations.RunPython(_run(_FORWARD), _run(_BACKWARD))]
