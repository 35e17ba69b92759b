"""Tables of the replication machinery (DESIGN section 4).

- `stream_positions`: each writer's committed *current* position per stream (Synapse's
  `stream_positions`, `_update_stream_positions_table_txn`). A process that missed Redis messages
  reads it to learn how far every writer has got, then reads the stream's rows up to there.
- `stream_allocator`: the position allocator on SQLite (one row per stream, bumped inside the writing
  transaction; SQLite serialises writers). On PostgreSQL positions come from one sequence per stream,
  `hs_stream_<name>`, created by migrations (`apps.streams.stores.sequence_operation`).
- `stream_instances`: compact numeric ids of instance names, used in sync tokens (matrix-org/synapse#8439).
"""
from django.db import models


class StreamPosition(models.Model):
    stream = models.CharField(max_length=64)
    instance = models.CharField(max_length=128)
    position = models.BigIntegerField()

    class Meta:
        db_table = "stream_positions"
        constraints = [models.UniqueConstraint(fields=["stream", "instance"], name="stream_positions_uniq")]

    def __str__(self) -> str:
        return f"{self.stream}@{self.instance}={self.position}"


class StreamAllocator(models.Model):
    stream = models.CharField(max_length=64, primary_key=True)
    last = models.BigIntegerField(default=0)

    class Meta:
        db_table = "stream_allocator"


class StreamInstance(models.Model):
    name = models.CharField(max_length=128, unique=True)

    class Meta:
        db_table = "stream_instances"
