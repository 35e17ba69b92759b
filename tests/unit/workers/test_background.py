"""The background queue: routing and the token-expiry task, run through Celery (eagerly in tests)."""
import time

import pytest

from apps.accounts.models import AccessToken, Device, RefreshToken, UIASession, User
from hsproject.celery import app
from workers import background
from workers.queues import QUEUE_NAMES
from workers.routing import check_routes, queue_of


def test_four_queues_declared_once():
    assert QUEUE_NAMES == ("pusher", "appservice", "federation_sender", "background")
    assert [q.name for q in app.conf.task_queues] == list(QUEUE_NAMES)


def test_tasks_route_to_the_queue_in_their_name():
    app.loader.import_default_modules()
    names = [n for n in app.tasks if not n.startswith("celery.")]
    assert "background.expire_tokens" in names
    check_routes(names)
    route = app.amqp.router.route({}, "background.expire_tokens", (), {})
    assert route["queue"].name == "background"
    assert queue_of("pusher.process_user") == "pusher"
    with pytest.raises(RuntimeError):
        check_routes(["nosuchqueue.do_thing"])


@pytest.mark.django_db(transaction=True)
def test_expire_tokens_task_removes_only_expired_rows():
    now = int(time.time() * 1000)
    user = User.objects.create_user("carol", "pw")
    device = Device.objects.create(user=user, device_id="D1")
    live = AccessToken.objects.create(user=user, device=device, token_hash="a" * 64, token_prefix="syt_a")
    dead = AccessToken.objects.create(user=user, device=device, token_hash="b" * 64, token_prefix="syt_b",
                                      valid_until_ms=now - 30 * 24 * 3600 * 1000)
    old_refresh = RefreshToken.objects.create(user=user, device=device, token_hash="c" * 64, token_prefix="syr_c",
                                              expiry_ts=now - 1000)
    UIASession.objects.create(session_id="old", uri="/x", method="POST", created_ts=now - 10 * 24 * 3600 * 1000)
    UIASession.objects.create(session_id="new", uri="/x", method="POST", created_ts=now)

    result = background.expire_tokens.delay().get()

    assert result == {"access_tokens": 1, "refresh_tokens": 1, "uia_sessions": 1}
    assert AccessToken.objects.filter(pk=live.pk).exists()
    assert not AccessToken.objects.filter(pk=dead.pk).exists()
    assert not RefreshToken.objects.filter(pk=old_refresh.pk).exists()
    assert list(UIASession.objects.values_list("session_id", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_clean_media_task_runs_the_media_jobs_only_on_its_instance(settings):
    from hsproject.config.workers import WorkerTopology

    assert background.clean_media.delay().get() == {"expired_pending": 0, "retention_deleted": 0,
                                                    "remote_cache_expired": 0, "url_previews_expired": 0}
    settings.HS = settings.HS.replace(workers=WorkerTopology(
        worker_app=None, instance_name="main", media_instance_running_background_jobs="media1"))
    assert background.clean_media.delay().get() == {"skipped": "media1"}
