"""The room `summary` of /sync (client-server API, "Syncing", `RoomSummary`) is the room as of the token the
response answers at, not as of the moment it is computed: a join committed after the token is counted by
the next sync, whose timeline carries it, not by this one."""
from __future__ import annotations

import pytest

from apps.accounts.auth import authenticate_token
from apps.streams.tokens import StreamToken
from apps.sync import handlers
from apps.sync.filters import SyncFilter
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API, sync

pytestmark = pytest.mark.django_db(transaction=True)


def _summary_at(client, room_id: str, now: str) -> dict:
    requester = authenticate_token(client.token)
    params = handlers.SyncParams(filter=SyncFilter())
    response = handlers.sync(requester, params, StreamToken.parse(now))
    return response["rooms"]["join"][room_id]["summary"]


def test_summary_counts_members_as_of_the_token(alice, bob, mx):
    carol = mx
    carol.register("carol")
    room_id = create_room(alice, preset="public_chat")
    at_creation = sync(alice)["next_batch"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": carol.user_id}).status_code == 200
    after = sync(alice)
    assert after["rooms"]["join"][room_id]["summary"] == {
        "m.heroes": [bob.user_id, carol.user_id], "m.joined_member_count": 2, "m.invited_member_count": 1}

    # The same computation, answering at the token of before the join and the invite.
    assert _summary_at(alice, room_id, at_creation) == {
        "m.heroes": [], "m.joined_member_count": 1, "m.invited_member_count": 0}

    # Bob leaves; as of the earlier token he is still a member.
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    assert _summary_at(alice, room_id, after["next_batch"]) == {
        "m.heroes": [bob.user_id, carol.user_id], "m.joined_member_count": 2, "m.invited_member_count": 1}
    now = sync(alice)["next_batch"]
    assert _summary_at(alice, room_id, now) == {
        "m.heroes": [carol.user_id], "m.joined_member_count": 1, "m.invited_member_count": 1}
