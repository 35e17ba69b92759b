"""Prometheus metrics of this process and of the Celery queues, served at `/_synapse/metrics` on the
listener that has the `metrics` resource (and on `type: metrics` listeners) when `enable_metrics` is on.

Queue depth is read from the broker at scrape time; task counts and latencies are recorded by Celery
signal handlers in whichever process runs the task (`celery_signals`) into Redis (`taskstats`), so any
homeserver process exports the numbers of every worker (`collectors`).
"""
