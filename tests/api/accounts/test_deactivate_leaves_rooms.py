"""POST /account/deactivate parts the account from its rooms (a one-off job, apps.jobs), as the admin
API's deactivation does; `erase` is passed on."""
import pytest

from apps.jobs.models import Job
from tests.api.accounts.test_password import uia_password
from tests.api.rooms.helpers import create_room
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def _deactivate(client, body):
    first = client.post(f"{API}/account/deactivate", body)
    assert first.status_code == 401, first.json_body
    return client.post(f"{API}/account/deactivate", {**body, "auth": uia_password(
        first.json_body["session"], password="correct horse battery", user=client.user_id[1:].split(":")[0])})


def test_deactivation_leaves_joined_and_invited_rooms(alice, bob):
    joined = create_room(bob, preset="public_chat")
    assert alice.post(f"{API}/rooms/{joined}/join").status_code == 200
    invited = create_room(bob)
    assert bob.post(f"{API}/rooms/{invited}/invite", {"user_id": alice.user_id}).status_code == 200

    resp = _deactivate(alice, {})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"id_server_unbind_result": "no-support"}
    for room_id in (joined, invited):
        member = bob.get(f"{API}/rooms/{room_id}/state/m.room.member/{alice.user_id}")
        assert member.status_code == 200 and member.json_body["membership"] == "leave", (room_id, member.json_body)
    job = Job.objects.get(kind="deactivate_user", target=alice.user_id)
    assert (job.status, job.params["erase"]) == ("complete", False)
    assert_error(alice.get(f"{API}/account/whoami"), 401, "M_UNKNOWN_TOKEN")


def test_erase_is_passed_to_the_job(alice):
    assert _deactivate(alice, {"erase": True}).status_code == 200
    assert Job.objects.get(kind="deactivate_user", target=alice.user_id).params["erase"] is True


def test_erase_must_be_a_boolean(alice):
    assert_error(alice.post(f"{API}/account/deactivate", {"erase": "yes"}), 400, "M_BAD_JSON")
