"""Database access of the reports app."""
from __future__ import annotations

import time

from .models import Report


def add_report(kind: str, reporter: str, reason: str, *, room_id: str | None = None,
               event_id: str | None = None, target_user_id: str | None = None) -> Report:
    return Report.objects.create(kind=kind, reporter=reporter, reason=reason, room_id=room_id,
                                 event_id=event_id, target_user_id=target_user_id,
                                 received_ts=int(time.time() * 1000))
