"""Server administration through the client-server API: /admin/whois, /admin/lock, /admin/suspend, and
what a locked or suspended account may still do (spec: "Account locking", "Account suspension")."""
from __future__ import annotations

import pytest

from apps.accounts.models import User
from tests.api.rooms.helpers import create_room, send
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)

V1 = "/_matrix/client/v1"
V3 = "/_matrix/client/v3"


@pytest.fixture
def admin(db) -> MatrixClient:
    c = MatrixClient()
    c.register("root")
    User.objects.filter(localpart="root").update(admin=True)
    return c


def _lock(admin, user_id, value=True):
    return admin.put(f"{V1}/admin/lock/{user_id}", {"locked": value})


def _suspend(admin, user_id, value=True):
    return admin.put(f"{V1}/admin/suspend/{user_id}", {"suspended": value})


def test_a_locked_account_is_refused_everywhere_but_logout(admin, alice):
    assert alice.get(f"{V3}/account/whoami").status_code == 200
    resp = _lock(admin, alice.user_id)
    assert resp.status_code == 200 and resp.json_body == {"locked": True}
    assert admin.get(f"{V1}/admin/lock/{alice.user_id}").json_body == {"locked": True}
    for path in (f"{V3}/account/whoami", f"{V3}/sync", f"{V3}/joined_rooms"):
        body = assert_error(alice.get(path), 401, "M_USER_LOCKED")
        assert body["soft_logout"] is True
    # No new token while locked, even with the right password.
    login = MatrixClient().post(f"{V3}/login", {"type": "m.login.password", "identifier": {
        "type": "m.id.user", "user": "alice"}, "password": "correct horse battery"}, token=None)
    assert_error(login, 401, "M_USER_LOCKED")
    # Unlocked: the same session works again (the token was kept).
    assert _lock(admin, alice.user_id, False).json_body == {"locked": False}
    assert alice.get(f"{V3}/account/whoami").status_code == 200
    _lock(admin, alice.user_id)
    assert alice.post(f"{V3}/logout", {}).status_code == 200
    assert_error(alice.get(f"{V3}/account/whoami"), 401, "M_UNKNOWN_TOKEN")


def test_a_suspended_account_reads_and_leaves_but_does_not_send_join_or_edit(admin, alice, bob):
    room = create_room(bob, preset="public_chat")
    assert alice.post(f"{V3}/rooms/{room}/join").status_code == 200
    own = send(alice, room, {"msgtype": "m.text", "body": "before"}).json_body["event_id"]
    other_room = create_room(bob, preset="public_chat")
    assert _suspend(admin, alice.user_id).json_body == {"suspended": True}
    assert admin.get(f"{V1}/admin/suspend/{alice.user_id}").json_body == {"suspended": True}

    assert_error(send(alice, room, {"msgtype": "m.text", "body": "no"}), 403, "M_USER_SUSPENDED")
    assert_error(alice.put(f"{V3}/rooms/{room}/state/m.room.topic/", {"topic": "x"}), 403, "M_USER_SUSPENDED")
    assert_error(alice.post(f"{V3}/rooms/{other_room}/join"), 403, "M_USER_SUSPENDED")
    assert_error(alice.post(f"{V3}/createRoom", {}), 403, "M_USER_SUSPENDED")
    assert_error(alice.post(f"{V3}/rooms/{room}/invite", {"user_id": "@carol:test.local"}), 403,
                 "M_USER_SUSPENDED")
    assert_error(alice.put(f"{V3}/profile/{alice.user_id}/displayname", {"displayname": "A"}), 403,
                 "M_USER_SUSPENDED")
    theirs = send(bob, room, {"msgtype": "m.text", "body": "bob's"}).json_body["event_id"]
    assert_error(alice.put(f"{V3}/rooms/{room}/redact/{theirs}/r1", {}), 403, "M_USER_SUSPENDED")
    # Allowed: reading, redacting its own events, leaving.
    assert alice.get(f"{V3}/sync").status_code == 200
    assert alice.get(f"{V3}/rooms/{room}/messages?dir=b").status_code == 200
    assert alice.put(f"{V3}/rooms/{room}/redact/{own}/r2", {}).status_code == 200
    assert alice.post(f"{V3}/rooms/{room}/leave", {}).status_code == 200
    # Unsuspended: joining works again.
    assert _suspend(admin, alice.user_id, False).json_body == {"suspended": False}
    assert alice.post(f"{V3}/rooms/{other_room}/join").status_code == 200


def test_whois_lists_devices_with_their_last_connection(admin, alice):
    alice.get(f"{V3}/account/whoami")
    resp = admin.get(f"{V3}/admin/whois/{alice.user_id}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["user_id"] == alice.user_id
    [(device_id, info)] = resp.json_body["devices"].items()
    assert device_id == alice.device_id
    [session] = info["sessions"]
    [connection] = session["connections"]
    assert isinstance(connection["last_seen"], int) and "ip" in connection
    # A user may ask about themselves, not about others.
    assert alice.get(f"{V3}/admin/whois/{alice.user_id}").status_code == 200
    assert_error(alice.get(f"{V3}/admin/whois/{admin.user_id}"), 403, "M_FORBIDDEN")


def test_moderation_errors(admin, alice):
    assert_error(alice.get(f"{V1}/admin/lock/{admin.user_id}"), 403, "M_FORBIDDEN")
    assert_error(_lock(alice, admin.user_id), 403, "M_FORBIDDEN")
    assert_error(_lock(admin, admin.user_id), 403, "M_FORBIDDEN")  # not one's own account
    other_admin = MatrixClient()
    other_admin.register("root2")
    User.objects.filter(localpart="root2").update(admin=True)
    assert_error(_suspend(admin, other_admin.user_id), 403, "M_FORBIDDEN")  # nor another admin's
    assert_error(_lock(admin, "@alice:elsewhere.example"), 400, "M_INVALID_PARAM")
    assert_error(_lock(admin, "not-a-user-id"), 400, "M_INVALID_PARAM")
    assert_error(_lock(admin, "@nobody:test.local"), 404, "M_NOT_FOUND")
    assert_error(admin.put(f"{V1}/admin/lock/{alice.user_id}", {}), 400, "M_MISSING_PARAM")
    assert_error(admin.put(f"{V1}/admin/lock/{alice.user_id}", {"locked": "yes"}), 400, "M_BAD_JSON")
    assert_error(MatrixClient().get(f"{V1}/admin/lock/{alice.user_id}", token=None), 401, "M_MISSING_TOKEN")
