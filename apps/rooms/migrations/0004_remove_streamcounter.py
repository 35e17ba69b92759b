"""The events stream's positions now come from apps.streams (the sequence `hs_stream_events` on
PostgreSQL, the `stream_allocator` row on SQLite): drop the rooms app's own counter, and start the new
allocator past every position already given to an event."""
from django.db import migrations


def _carry_positions_over(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(stream_ordering), 0) FROM events")
        top = int(cur.fetchone()[0])
        if top <= 0:
            return
        if schema_editor.connection.vendor == "postgresql":
            cur.execute("SELECT setval('hs_stream_events', GREATEST(%s, (SELECT last_value FROM hs_stream_events)))",
                        [top])
        else:
            cur.execute("INSERT INTO stream_allocator (stream, last) VALUES ('events', %s) "
                        "ON CONFLICT (stream) DO UPDATE SET last = MAX(stream_allocator.last, excluded.last)", [top])


def _drop_old_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS events_stream_seq")


def _create_old_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS events_stream_seq")


class Migration(migrations.Migration):

    dependencies = [
        ("rooms", "0003_room_aliases"),
        ("streams", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_carry_positions_over, migrations.RunPython.noop),
        migrations.RunPython(_drop_old_sequence, _create_old_sequence),
        migrations.DeleteModel(name="StreamCounter"),
    ]
