"""Every query of the streams app: position allocation, writer positions, instance ids.

Allocation (`next_position`) must run inside the writing transaction, as late as possible (STYLE
convention 10, element-hq/synapse#16633): on PostgreSQL `nextval` of the stream's sequence, shared by all
writers of the stream, so positions are globally unique; on SQLite a counter row bumped in the
transaction (SQLite serialises writers, so the row lock costs nothing extra).
"""
from __future__ import annotations

from django.db import connection, migrations

from . import registry


def sequence_name(stream: str) -> str:
    registry.get(stream)  # only declared names reach SQL
    return f"hs_stream_{stream}"


def next_position(stream: str, floor: int = 0) -> int:
    """A new position for `stream`, greater than `floor` (the highest position this process has seen;
    only matters on SQLite when a test rolled the counter back)."""
    seq = sequence_name(stream)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT nextval('{seq}')")
        else:
            cur.execute(
                "INSERT INTO stream_allocator (stream, last) VALUES (%s, %s) "
                "ON CONFLICT (stream) DO UPDATE SET last = MAX(stream_allocator.last + 1, excluded.last) "
                "RETURNING last", [stream, floor + 1])
        return int(cur.fetchone()[0])


def highest_allocated(stream: str) -> int:
    """The highest position handed out so far (by any writer); 0 if none."""
    seq = sequence_name(stream)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT last_value, is_called FROM {seq}")
            last, called = cur.fetchone()
            return int(last) if called else int(last) - 1
        cur.execute("SELECT last FROM stream_allocator WHERE stream = %s", [stream])
        row = cur.fetchone()
        return int(row[0]) if row else 0


def upsert_writer_position(stream: str, instance: str, position: int) -> None:
    """Record a writer's current position; it never goes back."""
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO stream_positions (stream, instance, position) VALUES (%s, %s, %s) "
            "ON CONFLICT (stream, instance) DO UPDATE "
            f"SET position = {greatest}(stream_positions.position, excluded.position)",
            [stream, instance, position])


def writer_positions(stream: str | None = None) -> dict[str, dict[str, int]]:
    """{stream: {instance: position}} from `stream_positions` (one stream, or all)."""
    from .models import StreamPosition

    qs = StreamPosition.objects.all()
    if stream is not None:
        qs = qs.filter(stream=stream)
    out: dict[str, dict[str, int]] = {}
    for s, i, p in qs.values_list("stream", "instance", "position"):
        out.setdefault(s, {})[i] = p
    return out


def instance_ids() -> dict[str, int]:
    from .models import StreamInstance

    return dict(StreamInstance.objects.values_list("name", "id"))


def get_or_create_instance_id(name: str) -> int:
    from .models import StreamInstance

    return StreamInstance.objects.get_or_create(name=name)[0].id


def sequence_operation(*streams: str) -> migrations.RunPython:
    """A migration operation creating the PostgreSQL sequences of `streams` (no-op on SQLite). An app
    that declares a new stream adds one of these to its migrations."""
    names = tuple(streams)

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for n in names:
            schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS hs_stream_{n}")

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for n in names:
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS hs_stream_{n}")

    return migrations.RunPython(forwards, backwards, elidable=False)
