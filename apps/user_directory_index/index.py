"""Keeping the user directory's tables (`models`) in step with the rooms, and rebuilding them.

Incrementally, in the persisting transaction of each event (`apps.rooms.persister.on_event_persisting`,
as the search and relations indexes), whatever path persisted it (a local request, federation):

* a remote user's `m.room.member` join writes their entry: the display name and avatar of that event
  (the latest join wins; a remote user has no profile here but their member events);
* an `m.room.join_rules` or `m.room.history_visibility` event re-reads the room's current state and lists
  it as public, or not (spec: searchUserDirectory, members of rooms with a public join rule or
  world-readable history may be found by anyone).

Other events cost nothing (the hook looks at the event's type only). Rejected, soft-failed and outlier
events are not current state and are skipped. Local users need no copy: their entry is their account.

A full rebuild (`rebuild`, `background.rebuild_user_directory`, `manage.py rebuild_user_directory`)
recomputes both tables from the rooms' current state in batches, each in its own transaction: which rooms
are public, every remote user joined somewhere with the profile of their latest join, and drops entries
of users joined nowhere. It is idempotent and safe while the server runs (both paths write what the
current state says); it repairs what the incremental path cannot see, such as a state resolution that
changed a room's join rule without a new join-rules event, and fills the tables of a server that had
rooms before this app was installed. `update_user_directory_from_worker` names the instance that runs
the task (any instance when unset).
"""
from __future__ import annotations

from django.db import transaction

from apps.core.ids import is_local_id
from apps.rooms.persister import PersistedEvent, on_event_persisting

from . import stores

REBUILD_BATCH = 500


@on_event_persisting
def _on_persisting(persisted: PersistedEvent) -> None:
    event = persisted.event
    if event.type == "m.room.member":
        watched = event.membership == "join" and event.state_key is not None and not is_local_id(event.state_key)
    else:
        watched = event.type in stores.VISIBILITY_TYPES and event.state_key == ""
    meta = event.internal
    if not watched or persisted.stream_ordering is None or event.rejected or meta.soft_failed or meta.outlier:
        return
    if event.type == "m.room.member":
        stores.save_entries({event.state_key: stores.profile_of(event.content)})
    else:
        stores.set_public_rooms([event.room_id], stores.public_among([event.room_id]))


def rebuild(batch: int = REBUILD_BATCH) -> dict:
    """Recompute the directory's tables from the rooms' current state (see the module docstring)."""
    out = {"rooms": 0, "public_rooms": 0, "entries": 0, "removed": 0}
    for rooms in _pages(stores.rooms_after, batch):
        with transaction.atomic():
            public = stores.public_among(rooms)
            stores.set_public_rooms(rooms, public)
        out["rooms"] += len(rooms)
        out["public_rooms"] += len(public)
    for users in _pages(stores.remote_joined_users_after, batch):
        with transaction.atomic():
            profiles = stores.latest_join_profiles(users)
            stores.save_entries(profiles)
        out["entries"] += len(profiles)
    for users in _pages(stores.entries_after, batch):
        with transaction.atomic():
            out["removed"] += stores.delete_entries_not_joined(users)
    return out


def _pages(read, batch: int):
    """The pages `read(after, limit)` gives, in key order, until a short one."""
    last = ""
    while True:
        page = read(last, batch)
        if page:
            yield page
        if len(page) < batch:
            return
        last = page[-1]
