"""SQLite only: an FTS5 index of `event_search.value`, its rowid the event's `stream_ordering` (unique
per timeline event, and stable, unlike SQLite's implicit rowid of `event_search`). unicode61 folds case
and diacritics; the 2- and 3-character prefix indexes serve the prefix terms every search uses. Rows
are written by `apps.search.index` (not by triggers), so rebuilding the index rewrites both. On
PostgreSQL nothing is done: the search uses the tsvector of 0002."""
from django.db import migrations

_FORWARD = [
    "CREATE VIRTUAL TABLE event_search_fts USING fts5("
    "value, prefix='2 3', tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO event_search_fts(rowid, value) SELECT stream_ordering, value FROM event_search",
]
_BACKWARD = ["DROP TABLE IF EXISTS event_search_fts"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for sql in statements:
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0002_postgresql_fulltext")]

    operations = [migrations.RunPython(_run(_FORWARD), _run(_BACKWARD))]
