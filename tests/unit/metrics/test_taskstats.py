"""The task statistics' pure parts: bucket choice, the hash fields read back as cumulative histograms,
and the enqueue stamp of `before_task_publish` (the ETA when that is later)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from apps.metrics import taskstats
from apps.metrics.celery_signals import ENQUEUED_HEADER, on_before_task_publish


def test_an_observation_falls_in_the_first_bucket_that_holds_it():
    # Prometheus buckets are "less than or equal": 0.005 belongs to le=0.005, a hair more to le=0.01.
    assert taskstats.histogram_ops("runtime", "q", "t", 0.005)[0] == ("runtime|q|t|0", 1)
    assert taskstats.histogram_ops("runtime", "q", "t", 0.0051)[0] == ("runtime|q|t|1", 1)
    assert taskstats.histogram_ops("runtime", "q", "t", 10_000)[0] == (f"runtime|q|t|{len(taskstats.BUCKETS)}", 1)
    # A worker's clock a little behind the publisher's gives no negative wait.
    assert taskstats.histogram_ops("wait", "q", "t", -0.2) == [("wait|q|t|0", 1), ("wait|q|t|sum", 0.0)]


def test_fields_read_back_as_counters_and_cumulative_histograms():
    fields: dict[str, float] = {}
    ops = [taskstats.counter_op("started", "background", "background.x"),
           taskstats.counter_op("started", "background", "background.x"),
           taskstats.counter_op("failed", "background", "background.x"),
           *taskstats.histogram_ops("runtime", "background", "background.x", 0.02),
           *taskstats.histogram_ops("runtime", "background", "background.x", 3.0),
           ("someone_elses|field", 1)]
    for name, amount in ops:
        fields[name] = fields.get(name, 0) + amount
    stats = taskstats.parse(fields)
    assert stats.counters == {("started", "background", "background.x"): 2,
                              ("failed", "background", "background.x"): 1}
    h = stats.histograms[("runtime", "background", "background.x")]
    assert h.sum == 3.02
    cumulative = dict(h.cumulative())
    assert cumulative["0.01"] == 0 and cumulative["0.025"] == 1 and cumulative["2.5"] == 1
    assert cumulative["5.0"] == 2 and cumulative["+Inf"] == 2
    assert list(cumulative)[-1] == "+Inf"


def test_publish_stamps_the_enqueue_time():
    headers: dict = {"eta": None}
    before = time.time()
    on_before_task_publish(sender="background.x", headers=headers)
    assert before <= headers[ENQUEUED_HEADER] <= time.time()


def test_publish_with_a_later_eta_stamps_the_eta():
    eta = datetime.now(timezone.utc) + timedelta(seconds=90)
    headers = {"eta": eta.isoformat()}
    on_before_task_publish(sender="background.x", headers=headers)
    assert headers[ENQUEUED_HEADER] == eta.timestamp()
