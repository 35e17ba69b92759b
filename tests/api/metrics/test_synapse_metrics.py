"""GET /_synapse/metrics: off unless `enable_metrics`, served only on a listener with the `metrics`
resource (Django's test client arrives on port 80), Prometheus text that prometheus_client's parser
reads, Celery task counters and run-time histograms that grow when tasks run, never routed by the
generated reverse-proxy configuration, and a `type: metrics` listener that the process starts itself."""
from __future__ import annotations

import dataclasses
import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.metrics import listeners
from hsproject.celery import app
from hsproject.config.sections import Listener
from tests.conftest import assert_error
from tests.live.servers import free_port
from workers.base import WakeupTask
from workers.queues import QUEUE_NAMES

METRICS = "/_synapse/metrics"
TEST_PORT = 80  # SERVER_PORT of Django's test client


def http_listener(port: int, *resources: str) -> Listener:
    return Listener(port, ("127.0.0.1",), "http", False, False, tuple(resources))


@pytest.fixture
def metrics_on(settings):
    settings.HS = settings.HS.replace(enable_metrics=True, listeners=(
        http_listener(8008, "client", "federation"), http_listener(TEST_PORT, "metrics")))


def scrape(mx) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    resp = mx.get(METRICS, token=None)
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.content.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_off_by_default(mx):
    assert_error(mx.get(METRICS, token=None), 404, "M_UNRECOGNIZED")


def test_off_when_enable_metrics_is_false_even_on_a_metrics_listener(mx, settings):
    settings.HS = settings.HS.replace(enable_metrics=False, listeners=(http_listener(TEST_PORT, "metrics"),))
    assert_error(mx.get(METRICS, token=None), 404, "M_UNRECOGNIZED")


def test_not_served_on_a_listener_without_the_metrics_resource(mx, settings):
    # The client/federation listener (what the reverse proxy forwards to) never answers it.
    settings.HS = settings.HS.replace(enable_metrics=True, listeners=(
        http_listener(TEST_PORT, "client", "federation"), http_listener(free_port(), "metrics")))
    assert_error(mx.get(METRICS, token=None), 404, "M_UNRECOGNIZED")


def test_a_worker_serves_metrics_on_its_own_worker_listeners(mx, settings):
    # The shared file's `listeners` are main's; a worker process goes by its worker file's.
    workers = dataclasses.replace(settings.HS.workers, worker_app="synapse.app.generic_worker",
                                  worker_listeners=(http_listener(TEST_PORT, "client"),))
    settings.HS = settings.HS.replace(enable_metrics=True, workers=workers,
                                      listeners=(http_listener(TEST_PORT, "metrics"),))
    assert_error(mx.get(METRICS, token=None), 404, "M_UNRECOGNIZED")
    settings.HS = settings.HS.replace(workers=dataclasses.replace(
        workers, worker_listeners=(http_listener(TEST_PORT, "client", "metrics"),)))
    assert mx.get(METRICS, token=None).status_code == 200


def test_text_format_with_queues_and_process_metrics(mx, metrics_on):
    samples = scrape(mx)
    for queue in QUEUE_NAMES:
        assert ("hsproject_celery_queue_length", frozenset({("queue", queue)})) in samples
    # prometheus_client's default process collector (Linux /proc).
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_start_time_seconds") > 0


def test_wrong_method(mx, metrics_on):
    assert_error(mx.post(METRICS, {}, token=None), 405, "M_UNRECOGNIZED")


def test_openmetrics_when_asked(mx, metrics_on):
    resp = mx.get(METRICS, token=None, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/openmetrics-text")
    assert resp.content.rstrip().endswith(b"# EOF")


def test_counters_and_run_time_grow_when_tasks_run(mx, metrics_on):
    from workers.background import expire_tokens

    labels = {"queue": "background", "task": "background.expire_tokens"}
    before = scrape(mx)
    expire_tokens.delay()
    expire_tokens.delay()
    after = scrape(mx)
    for name in ("hsproject_celery_tasks_started_total", "hsproject_celery_tasks_succeeded_total",
                 "hsproject_celery_task_runtime_seconds_count"):
        assert value(after, name, **labels) - value(before, name, **labels) == 2, name
    assert value(after, "hsproject_celery_task_runtime_seconds_sum", **labels) > \
        value(before, "hsproject_celery_task_runtime_seconds_sum", **labels)
    assert value(after, "hsproject_celery_task_runtime_seconds_bucket", le="+Inf", **labels) == \
        value(after, "hsproject_celery_task_runtime_seconds_count", **labels)


_flaky_runs: list[int] = []


@app.task(base=WakeupTask, name="background.metrics_test_flaky")
def _flaky() -> str:
    """Fails once with an OSError (WakeupTask retries those), then succeeds."""
    _flaky_runs.append(1)
    if len(_flaky_runs) % 2 == 1:
        raise OSError("first attempt fails")
    return "ok"


@app.task(base=WakeupTask, name="background.metrics_test_broken")
def _broken() -> None:
    raise ValueError("not retryable")


def test_retries_and_failures_are_counted(mx, metrics_on):
    flaky = {"queue": "background", "task": "background.metrics_test_flaky"}
    broken = {"queue": "background", "task": "background.metrics_test_broken"}
    before = scrape(mx)
    _flaky.delay()
    _broken.delay()
    after = scrape(mx)

    def grew(name, labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("hsproject_celery_tasks_started_total", flaky) == 2
    assert grew("hsproject_celery_tasks_retried_total", flaky) == 1
    assert grew("hsproject_celery_tasks_succeeded_total", flaky) == 1
    assert grew("hsproject_celery_tasks_failed_total", flaky) == 0
    assert grew("hsproject_celery_tasks_started_total", broken) == 1
    assert grew("hsproject_celery_tasks_failed_total", broken) == 1
    assert grew("hsproject_celery_tasks_succeeded_total", broken) == 0


def test_the_generated_proxy_never_routes_metrics(settings):
    from hsproject.proxy import haproxy, nginx
    from hsproject.proxy.plan import build_plan
    from hsproject.routing import all_routes

    plan = build_plan([settings.HS], all_routes())
    assert not [r for r in plan.rules if re.match(r.regex, METRICS)]
    assert "location = /_synapse/metrics {\n        return 404;" in nginx.render(
        plan, listen="127.0.0.1:8080", server_name="example.org", max_body=1024)
    assert "http-request deny deny_status 404 if { path /_synapse/metrics }" in haproxy.render(
        plan, listen="127.0.0.1:8080", max_body=1024)


def test_a_metrics_type_listener_is_started_by_the_process(settings):
    port = free_port()
    settings.HS = settings.HS.replace(enable_metrics=True, listeners=(
        http_listener(8008, "client", "federation"), Listener(port, ("127.0.0.1",), "metrics", False, False, ())))
    started = listeners.start_metrics_listeners()
    try:
        assert len(started) == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            body = r.read().decode()
        names = {f.name for f in text_string_to_metric_families(body)}
        assert {"hsproject_celery_queue_length", "process_resident_memory_bytes"} <= names
    finally:
        for server, thread in started:
            server.shutdown()
            server.server_close()


def test_a_metrics_type_listener_stays_closed_without_enable_metrics(settings):
    port = free_port()
    settings.HS = settings.HS.replace(enable_metrics=False, listeners=(
        Listener(port, ("127.0.0.1",), "metrics", False, False, ()),))
    assert listeners.start_metrics_listeners() == []
