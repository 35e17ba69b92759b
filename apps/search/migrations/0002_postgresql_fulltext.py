"""PostgreSQL only: a generated tsvector of `value` (english configuration, so searches are stemmed)
and a GIN index on it. On SQLite nothing is done; the search falls back to LIKE (`stores`)."""
from django.db import migrations

_FORWARD = [
    "ALTER TABLE event_search ADD COLUMN vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', value)) STORED",
    "CREATE INDEX event_search_vector ON event_search USING GIN (vector)",
]
_BACKWARD = [
    "DROP INDEX IF EXISTS event_search_vector",
    "ALTER TABLE event_search DROP COLUMN IF EXISTS vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(_run(_FORWARD), _run(_BACKWARD))]
