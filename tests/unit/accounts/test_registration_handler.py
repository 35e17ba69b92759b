"""apps.accounts.registration and `manage.py register_new_user`."""
import io
import os
import threading

import pytest
from django.core.management import CommandError, call_command

from apps.accounts import registration
from apps.accounts.models import RegistrationToken, User
from apps.core.errors import MatrixError
from hsproject.config.sections import PasswordPolicy

pytestmark = pytest.mark.django_db


def test_register_user_creates_and_logs_in():
    reg = registration.register_user("alice", password="pw", login=registration.LoginRequest(device_id="D"))
    assert reg.user.localpart == "alice" and reg.user.check_password("pw")
    assert reg.session.device_id == "D"
    assert set(reg.response()) >= {"user_id", "access_token", "device_id", "home_server"}


def test_register_user_without_login():
    reg = registration.register_user("bob", password="pw")
    assert reg.session is None
    assert reg.response() == {"user_id": "@bob:test.local", "home_server": "test.local"}


def test_concurrent_duplicate_is_user_in_use(monkeypatch):
    """Both requests passed the availability check; the database's unique key decides."""
    registration.register_user("alice", password="pw")
    monkeypatch.setattr(registration, "localpart_taken", lambda lp: False)
    with pytest.raises(MatrixError) as e:
        registration.register_user("alice", password="pw", login=registration.LoginRequest())
    assert e.value.errcode == "M_USER_IN_USE" and e.value.status == 400
    assert User.objects.filter(localpart="alice").count() == 1


def test_failed_registration_rolls_back_token_use(monkeypatch):
    RegistrationToken.objects.create(token="t", uses_allowed=1, pending=1)
    registration.register_user("alice", password="pw")
    monkeypatch.setattr(registration, "localpart_taken", lambda lp: False)
    with pytest.raises(MatrixError):
        registration.register_user("alice", password="pw", registration_token="t")
    row = RegistrationToken.objects.get(token="t")
    assert (row.pending, row.completed) == (1, 0)


def test_generated_localparts_skip_a_race(monkeypatch):
    User.objects.create_user("1")
    calls = iter(["1", "2"])  # the first guess was taken by a concurrent registration
    monkeypatch.setattr(registration, "generate_localpart", lambda: next(calls))
    assert registration.register_user(None).user.localpart == "2"


def test_generate_localpart_orders_numerically():
    for lp in ("9", "10", "abc"):
        User.objects.create_user(lp)
    assert registration.generate_localpart() == "11"


def test_case_insensitive_in_use():
    User.objects.create(localpart="Historic")
    with pytest.raises(MatrixError) as e:
        registration.check_username("historic")
    assert e.value.errcode == "M_USER_IN_USE"


def test_invalid_user_type():
    with pytest.raises(MatrixError):
        registration.register_user("x", user_type="wizard")


# manage.py register_new_user

def run(*args):
    out = io.StringIO()
    call_command("register_new_user", *args, stdout=out)
    return out.getvalue()


def test_command_creates_user():
    out = run("-u", "alice", "-p", "wonderland")
    assert "@alice:test.local" in out
    user = User.objects.get(localpart="alice")
    assert user.check_password("wonderland") and not user.admin
    assert not user.devices.exists()


def test_command_admin_flag():
    run("-u", "root", "-p", "pw", "-a")
    assert User.objects.get(localpart="root").admin
    run("--user", "plain", "--password", "pw", "--no-admin")
    assert not User.objects.get(localpart="plain").admin


def test_command_same_checks_as_register(settings):
    run("-u", "alice", "-p", "pw")
    with pytest.raises(CommandError, match="M_USER_IN_USE"):
        run("-u", "alice", "-p", "pw")
    with pytest.raises(CommandError, match="M_INVALID_USERNAME"):
        run("-u", "Bad Name", "-p", "pw")
    settings.HS = settings.HS.replace(password_policy=PasswordPolicy(enabled=True, minimum_length=8))
    with pytest.raises(CommandError, match="M_PASSWORD_TOO_SHORT"):
        run("-u", "bob", "-p", "short")
    assert not User.objects.filter(localpart="bob").exists()


def test_command_without_password_and_no_tty(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="password"):
        run("-u", "alice")
    with pytest.raises(CommandError, match="username"):
        run("-p", "pw")


def test_command_prompts_on_a_tty(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr("sys.stdin", Tty(""))
    answers = iter(["pw one", "pw one"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("builtins.input", lambda prompt="": "yes")
    run("-u", "alice")
    user = User.objects.get(localpart="alice")
    assert user.check_password("pw one") and user.admin


def test_command_password_mismatch(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr("sys.stdin", Tty(""))
    answers = iter(["pw one", "pw two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="match"):
        run("-u", "alice", "--no-admin")


@pytest.mark.services
@pytest.mark.skipif(os.environ.get("HS_TEST_TIER", "fast") != "services", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_real_concurrent_registrations_of_one_name():
    """Several connections race for one name: exactly one wins, the others get M_USER_IN_USE."""
    from django.db import connection

    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait()
            registration.register_user("racer", password_hash="!", login=registration.LoginRequest())
            outcomes.append("ok")
        except MatrixError as e:
            outcomes.append(e.errcode)
        except Exception as e:  # pragma: no cover - the failure this test exists to catch
            outcomes.append(repr(e))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["M_USER_IN_USE"] * 3 + ["ok"], outcomes
    assert User.objects.filter(localpart="racer").count() == 1
