"""The `push_rules` stream as the replication machinery sees it: one row per user whose rules changed
(read back from `push_rules_versions` on catch-up); it concerns that user only (the default notify keys
read the row's `user_id`)."""
from __future__ import annotations

from apps.streams import registry

from . import stores

registry.attach("push_rules", fetch_rows=stores.fetch_rules_rows)
