"""POST /_synapse/admin/v1/deactivate/{userId} (Synapse's admin API) and the Django admin's "Deactivate
selected users": the account is locked out at once, and a background job leaves every room the user is
in, invited to or knocking on, one by one with progress, and clears what remains of the account."""
from __future__ import annotations

import pytest
from django.test import Client

from apps.account_data.models import AccountData
from apps.accounts.models import AccessToken, Device, User
from apps.jobs.models import Job
from apps.rooms.models import RoomMembership
from tests.api.admin_api.helpers import ADMIN, say
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def deactivate(client, user_id: str, body: dict | None = None):
    return client.post(f"{ADMIN}/deactivate/{user_id}", body if body is not None else {})


def memberships(user_id: str) -> dict[str, str]:
    return dict(RoomMembership.objects.filter(user_id=user_id).values_list("room_id", "membership"))


def test_deactivation_leaves_every_room_and_locks_the_account_out(root, alice, bob):
    rooms = [create_room(bob, preset="public_chat", name=f"room {i}") for i in range(3)]
    for room_id in rooms:
        assert alice.post(f"{API}/rooms/{room_id}/join").status_code == 200
    say(alice, rooms[0], "hello")
    invited = create_room(bob)
    assert bob.post(f"{API}/rooms/{invited}/invite", {"user_id": alice.user_id}).status_code == 200
    assert alice.put(f"{API}/user/{alice.user_id}/account_data/org.example.secret", {"x": 1}).status_code == 200
    old_token = alice.token

    resp = deactivate(root, alice.user_id, {"erase": True})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"id_server_unbind_result": "no-support"}

    # Every room left (the invite rejected), as the other members see.
    assert memberships(alice.user_id) == {**{r: "leave" for r in rooms}, invited: "leave"}
    for room_id in rooms:
        joined = bob.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]
        assert set(joined) == {bob.user_id}
    # The job's record: complete, one step per room.
    job = Job.objects.get(kind="deactivate_user", target=alice.user_id)
    assert job.status == Job.COMPLETE and job.error == ""
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert job.result["rooms_left"] == 4 and job.result["failed"] == {} and job.result["erased"] is True
    assert job.started_at is not None and job.finished_at is not None and job.finished_at >= job.started_at
    # Locked out: the token is gone, the password no longer works, the profile and account data are erased.
    assert_error(alice.get(f"{API}/account/whoami", token=old_token), 401, "M_UNKNOWN_TOKEN")
    login = alice.post(f"{API}/login", {"type": "m.login.password", "identifier": {"type": "m.id.user",
                                        "user": "alice"}, "password": "correct horse battery"}, token=None)
    assert login.status_code == 403 and login.json_body["errcode"] in ("M_FORBIDDEN", "M_USER_DEACTIVATED")
    user = User.objects.get(localpart="alice")
    assert user.deactivated and user.displayname is None
    assert not Device.objects.filter(user=user).exists() and not AccessToken.objects.filter(user=user).exists()
    assert not AccountData.objects.filter(user_id=alice.user_id).exists()
    # Deactivating again is harmless and leaves nothing more to do.
    assert deactivate(root, alice.user_id).status_code == 200
    again = Job.objects.filter(kind="deactivate_user", target=alice.user_id).order_by("-id").first()
    assert again.status == Job.COMPLETE and again.result["rooms_left"] == 0


def test_without_erase_account_data_is_kept(root, alice):
    room_id = create_room(alice)
    assert alice.put(f"{API}/user/{alice.user_id}/account_data/org.example.prefs", {"x": 1}).status_code == 200
    assert deactivate(root, alice.user_id).status_code == 200
    assert memberships(alice.user_id) == {room_id: "leave"}
    assert AccountData.objects.filter(user_id=alice.user_id, data_type="org.example.prefs").exists()
    assert Job.objects.get(kind="deactivate_user").result["erased"] is False


def test_bad_deactivation_requests(root, alice):
    assert_error(deactivate(root, "@someone:elsewhere.example"), 400, "M_INVALID_PARAM")
    assert_error(deactivate(root, "not-a-user"), 400, "M_INVALID_PARAM")
    assert_error(deactivate(root, "@nobody:test.local"), 404, "M_NOT_FOUND")
    assert_error(deactivate(root, alice.user_id, {"erase": "yes"}), 400, "M_BAD_JSON")
    assert_error(root.request("POST", f"{ADMIN}/deactivate/{alice.user_id}", raw=b"[1]"), 400, "M_BAD_JSON")
    # Only server admins; and the refused requests changed nothing.
    assert_error(deactivate(alice, root.user_id), 403, "M_FORBIDDEN")
    assert_error(root.post(f"{ADMIN}/deactivate/{alice.user_id}", {}, token=None), 401, "M_MISSING_TOKEN")
    assert not User.objects.filter(deactivated=True).exists()
    assert not Job.objects.exists()
    assert alice.get(f"{API}/account/whoami").status_code == 200


def test_django_admin_action_starts_deactivation_jobs(root, alice, bob):
    room_id = create_room(bob, preset="public_chat")
    assert alice.post(f"{API}/rooms/{room_id}/join").status_code == 200
    console = Client()
    console.force_login(User.objects.get(localpart="root"))
    users = User.objects.filter(localpart__in=["alice", "root"])
    resp = console.post("/admin/accounts/user/", {"action": "deactivate_users",
                                                   "_selected_action": [u.pk for u in users]}, follow=True)
    assert resp.status_code == 200
    job = Job.objects.get(kind="deactivate_user")
    assert job.target == alice.user_id and job.status == Job.COMPLETE
    text = resp.content.decode()
    assert "Deactivated 1 user(s)" in text and f"#{job.pk}" in text
    assert memberships(alice.user_id) == {room_id: "leave"}
    assert not User.objects.get(localpart="root").deactivated
    # The job shows in the jobs console with its progress.
    page = console.get("/admin/jobs/job/?status__exact=complete")
    assert page.status_code == 200
    html = page.content.decode()
    assert alice.user_id in html and "1 / 1 (100%)" in html
