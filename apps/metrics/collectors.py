"""The collectors this app adds to prometheus_client's default registry (which already holds the
process, platform and garbage-collector collectors, and where any other app may register its metrics).

Everything is read at scrape time: queue depth from the Celery broker, task counts and latencies from
`taskstats`, stream positions from this process's replication state. A source that cannot be read
(Redis down) leaves its samples out and is logged; the scrape itself still answers.

Metric names:
    hsproject_celery_queue_length{queue}                      messages waiting in the broker
    hsproject_celery_tasks_{started,succeeded,failed,retried}_total{queue,task}
    hsproject_celery_task_runtime_seconds{queue,task}          histogram, task body
    hsproject_celery_task_wait_seconds{queue,task}             histogram, enqueue (or ETA) to start
    hsproject_stream_position{stream,instance}                 each writer's position, as this process knows it
    hsproject_stream_persisted_upto_position{stream}           what readers of this process may read up to
"""
from __future__ import annotations

import logging
import threading
from typing import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from . import taskstats

logger = logging.getLogger(__name__)

QUEUE_LENGTH = "hsproject_celery_queue_length"
TASKS = "hsproject_celery_tasks"  # + _<counter> (+ _total in the exposition)
RUNTIME = "hsproject_celery_task_runtime_seconds"
WAIT = "hsproject_celery_task_wait_seconds"
STREAM_POSITION = "hsproject_stream_position"
STREAM_PERSISTED = "hsproject_stream_persisted_upto_position"

_DOCS = {
    "started": "Celery tasks started, per queue and task.",
    "succeeded": "Celery tasks that returned, per queue and task.",
    "failed": "Celery tasks that failed for good (retries exhausted or not retryable), per queue and task.",
    "retried": "Celery task runs that ended in a retry, per queue and task.",
}
_HISTOGRAM_NAMES = {"runtime": RUNTIME, "wait": WAIT}
_HISTOGRAM_DOCS = {
    "runtime": "Run time of Celery tasks in seconds, per queue and task.",
    "wait": "Time from enqueue (or from the ETA, if later) to the start of a Celery task, per queue and task.",
}


def queue_depths() -> dict[str, int]:
    """Messages waiting in the broker for each declared queue. Celery's Redis transport keeps a queue as
    a list named after it, plus one list per priority step; kombu's passive declare counts them all.
    A queue with no message has no list at all: that is a depth of 0."""
    from django.conf import settings
    from kombu.exceptions import ChannelError

    from hsproject.celery import app
    from workers.queues import QUEUE_NAMES

    if not settings.HS.redis.enabled:
        # No broker (the embedded default): a task runs in-process when it is sent, nothing ever waits.
        return {queue: 0 for queue in QUEUE_NAMES}
    # Fail fast: a scrape must not wait for the broker's connection retries.
    with app.connection_for_read(transport_options={"socket_timeout": 2, "socket_connect_timeout": 2,
                                                    "max_retries": 0}) as conn:
        channel = conn.default_channel
        depths = {}
        for queue in QUEUE_NAMES:
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except ChannelError:
                depths[queue] = 0
        return depths


class CeleryCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(QUEUE_LENGTH, "", labels=["queue"])
        for kind in taskstats.COUNTERS:
            yield CounterMetricFamily(f"{TASKS}_{kind}", "", labels=["queue", "task"])
        for name in _HISTOGRAM_NAMES.values():
            yield HistogramMetricFamily(name, "", labels=["queue", "task"])

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(QUEUE_LENGTH, "Messages waiting in the broker for each Celery queue "
                                  "(read at scrape time, priority sub-queues included).", labels=["queue"])
        try:
            for queue, n in queue_depths().items():
                depth.add_metric([queue], n)
        except Exception as e:  # noqa: BLE001 - the broker is down: the rest of the scrape still answers
            logger.warning("metrics: could not read the Celery queue lengths: %s", e)
        yield depth

        try:
            stats = taskstats.read()
        except Exception as e:  # noqa: BLE001 - as above, for the task statistics in Redis
            logger.warning("metrics: could not read the Celery task statistics: %s", e)
            stats = taskstats.TaskStats()
        for kind in taskstats.COUNTERS:
            family = CounterMetricFamily(f"{TASKS}_{kind}", _DOCS[kind], labels=["queue", "task"])
            for (k, queue, task), value in sorted(stats.counters.items()):
                if k == kind:
                    family.add_metric([queue, task], value)
            yield family
        for kind, name in _HISTOGRAM_NAMES.items():
            family = HistogramMetricFamily(name, _HISTOGRAM_DOCS[kind], labels=["queue", "task"])
            for (k, queue, task), h in sorted(stats.histograms.items()):
                if k == kind:
                    family.add_metric([queue, task], h.cumulative(), h.sum)
            yield family


class StreamCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(STREAM_POSITION, "", labels=["stream", "instance"])
        yield GaugeMetricFamily(STREAM_PERSISTED, "", labels=["stream"])

    def collect(self) -> Iterator[Metric]:
        from apps.streams import replication

        position = GaugeMetricFamily(STREAM_POSITION, "Each writer's current position of each stream, as "
                                     "this process knows it.", labels=["stream", "instance"])
        persisted = GaugeMetricFamily(STREAM_PERSISTED, "Position of each stream up to which this process "
                                      "has every row (the minimum over the stream's writers).", labels=["stream"])
        # Only a state this process already runs: a scrape must not start replication (it reads the
        # database and subscribes to Redis).
        state = replication.running_state()
        if state is not None:
            for stream, upto in sorted(state.current_positions().items()):
                persisted.add_metric([stream], upto)
                for writer, pos in sorted(state.positions(stream).items()):
                    position.add_metric([stream, writer], pos)
        yield position
        yield persisted


_registered = False
_lock = threading.Lock()


def register() -> None:
    """Add the collectors to the default registry, once per process."""
    global _registered
    with _lock:
        if not _registered:
            REGISTRY.register(CeleryCollector())
            REGISTRY.register(StreamCollector())
            _registered = True
