"""The Django admin at /admin: only server admins sign in (with their Matrix user ID or localpart); account
actions go through apps.accounts.lifecycle; tokens are only ever shown by their prefix."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.accounts.lifecycle import issue_session
from apps.accounts.models import AccessToken, Device, RefreshToken, RegistrationToken, User
from apps.accounts.tokens import token_hash

PASSWORD = "root password 1"


@pytest.fixture
def root(db) -> User:
    return User.objects.create_user("root", PASSWORD, admin=True)


@pytest.fixture
def console(root) -> Client:
    c = Client()
    c.force_login(root)
    return c


def login(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


@pytest.mark.parametrize("username", ["@root:test.local", "root"])
def test_server_admin_logs_in_and_sees_users(db, root, username):
    User.objects.create_user("alice", "pw")
    c = Client()
    resp = login(c, username, PASSWORD)
    assert resp.status_code == 302 and resp["Location"] == "/admin/", resp.content[:500]
    page = c.get("/admin/accounts/user/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "@alice:test.local" in html and "@root:test.local" in html


def test_wrong_password_or_other_server_cannot_log_in(db, root):
    for username, password in (("root", "wrong"), ("@root:other.example", PASSWORD)):
        c = Client()
        resp = login(c, username, password)
        assert resp.status_code == 200  # the login form again, with an error
        assert c.get("/admin/accounts/user/").status_code == 302


def test_non_admin_cannot_log_in(db):
    User.objects.create_user("mallory", "pw")
    c = Client()
    resp = login(c, "@mallory:test.local", "pw")
    assert resp.status_code == 200
    assert "_auth_user_id" not in c.session
    page = c.get("/admin/accounts/user/")
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/")


def test_non_admin_session_is_refused(db):
    mallory = User.objects.create_user("mallory", "pw")
    c = Client()
    c.force_login(mallory)
    assert c.get("/admin/accounts/user/").status_code == 302
    assert c.get("/admin/accounts/accesstoken/").status_code == 302


def test_deactivated_admin_cannot_log_in(db):
    User.objects.create_user("old", "pw", admin=True, deactivated=True)
    c = Client()
    assert login(c, "old", "pw").status_code == 200
    assert c.get("/admin/").status_code == 302


def test_user_search_by_localpart(console):
    User.objects.create_user("alice", "pw")
    User.objects.create_user("bob", "pw")
    html = console.get("/admin/accounts/user/?q=ali").content.decode()
    assert "@alice:test.local" in html and "@bob:test.local" not in html


def test_create_user_in_console(console):
    resp = console.post("/admin/accounts/user/add/", {"localpart": "carol", "password": "carol pw", "admin": ""})
    assert resp.status_code == 302, resp.content[:2000]
    carol = User.objects.get(localpart="carol")
    assert carol.check_password("carol pw") and not carol.admin
    resp = console.post("/admin/accounts/user/add/", {"localpart": "Bad Name", "password": "x"})
    assert resp.status_code == 200 and not User.objects.filter(localpart="Bad Name").exists()


def test_users_cannot_be_deleted(console, root):
    alice = User.objects.create_user("alice", "pw")
    assert console.get(f"/admin/accounts/user/{alice.pk}/delete/").status_code == 403


def test_deactivate_action(console, root):
    alice = User.objects.create_user("alice", "pw")
    issue_session(alice)
    resp = console.post("/admin/accounts/user/", {"action": "deactivate_users",
                                                   "_selected_action": [alice.pk, root.pk]}, follow=True)
    assert resp.status_code == 200
    alice.refresh_from_db()
    root.refresh_from_db()
    assert alice.deactivated and not root.deactivated  # an admin cannot lock themselves out here
    assert not AccessToken.objects.filter(user=alice).exists()
    assert not Device.objects.filter(user=alice).exists()


def test_reset_password_action_shows_the_new_password_once(console):
    alice = User.objects.create_user("alice", "old pw")
    session = issue_session(alice)
    resp = console.post("/admin/accounts/user/", {"action": "reset_passwords", "_selected_action": [alice.pk]})
    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]
    html = resp.content.decode()
    new = re.search(r"<td>@alice:test.local</td><td><code>([^<]+)</code></td>", html).group(1)
    alice.refresh_from_db()
    assert alice.check_password(new) and not alice.check_password("old pw")
    assert not AccessToken.objects.filter(token_hash=token_hash(session.access_token)).exists()
    # Not kept anywhere else: the next page does not show it again.
    assert new not in console.get("/admin/accounts/user/").content.decode()


def test_access_token_list_never_shows_a_full_token(console):
    alice = User.objects.create_user("alice", "pw")
    session = issue_session(alice, refreshable=True)
    row = AccessToken.objects.get(user=alice)
    pages = [console.get("/admin/accounts/accesstoken/"), console.get(f"/admin/accounts/accesstoken/{row.pk}/change/"),
             console.get(f"/admin/accounts/accesstoken/{row.pk}/delete/"),
             console.get("/admin/accounts/refreshtoken/"),
             console.get(f"/admin/accounts/refreshtoken/{RefreshToken.objects.get(user=alice).pk}/change/")]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for secret in (session.access_token, session.refresh_token):
            assert secret not in html
            assert token_hash(secret) not in html
    assert f"{row.token_prefix}…" in pages[0].content.decode()


def test_access_tokens_are_read_only_and_deleting_revokes(console):
    alice = User.objects.create_user("alice", "pw")
    session = issue_session(alice)
    row = AccessToken.objects.get(user=alice)
    assert console.get("/admin/accounts/accesstoken/add/").status_code == 403
    resp = console.post(f"/admin/accounts/accesstoken/{row.pk}/change/", {"used": "on"})
    assert resp.status_code == 403
    resp = console.post(f"/admin/accounts/accesstoken/{row.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert not AccessToken.objects.filter(token_hash=token_hash(session.access_token)).exists()


def test_device_list_and_delete_logs_out(console):
    alice = User.objects.create_user("alice", "pw")
    session = issue_session(alice, display_name="Phone")
    html = console.get("/admin/accounts/device/").content.decode()
    assert session.device_id in html and "@alice:test.local" in html
    device = Device.objects.get(user=alice)
    assert console.post(f"/admin/accounts/device/{device.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not AccessToken.objects.filter(user=alice).exists()


def test_registration_token_generated_when_blank(console):
    resp = console.post("/admin/accounts/registrationtoken/add/", {"token": "", "uses_allowed": "3",
                                                                    "expiry_time": ""})
    assert resp.status_code == 302, resp.content[:3000]
    tok = RegistrationToken.objects.get()
    assert re.fullmatch(r"[A-Za-z0-9]{16}", tok.token)
    assert (tok.uses_allowed, tok.expiry_time, tok.pending, tok.completed) == (3, None, 0, 0)


def test_registration_token_chosen_and_edited(console):
    resp = console.post("/admin/accounts/registrationtoken/add/", {"token": "invite-2025", "uses_allowed": "",
                                                                    "expiry_time": "4102444800000"})
    assert resp.status_code == 302
    tok = RegistrationToken.objects.get(token="invite-2025")
    assert tok.uses_allowed is None and tok.expiry_time == 4102444800000
    # pending/completed are read-only and the token text never changes
    resp = console.post(f"/admin/accounts/registrationtoken/{tok.pk}/change/",
                        {"token": "other", "uses_allowed": "5", "expiry_time": "", "pending": "9", "completed": "9"})
    assert resp.status_code == 302
    tok.refresh_from_db()
    assert (tok.token, tok.uses_allowed, tok.expiry_time, tok.pending, tok.completed) == (
        "invite-2025", 5, None, 0, 0)
    assert "invite-2025" in console.get("/admin/accounts/registrationtoken/").content.decode()


def test_registration_token_invalid_characters(console):
    resp = console.post("/admin/accounts/registrationtoken/add/", {"token": "no spaces!", "uses_allowed": ""})
    assert resp.status_code == 200
    assert not RegistrationToken.objects.exists()
