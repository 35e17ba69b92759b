"""Task name -> queue. A task is named `<queue>.<verb>_<object>` and lives in `workers/<queue>.py`, so
its queue is its name's first part; this table is derived from that rule and checked at start-up."""
from .queues import QUEUE_NAMES

TASK_MODULES = ("workers.background", "workers.appservice", "workers.pusher", "workers.federation_sender")


def queue_of(task_name: str) -> str:
    return task_name.split(".", 1)[0]


def _route(name, args, kwargs, options, task=None, **kw):
    queue = queue_of(name)
    if queue not in QUEUE_NAMES:
        raise ValueError(f"task {name} names no declared queue")
    return {"queue": queue, "routing_key": queue}


TASK_ROUTES = (_route,)


def check_routes(task_names=None) -> None:
    """Every registered task must belong to a declared queue: an unknown queue is a start-up error."""
    for name in task_names or ():
        if name.startswith("celery."):
            continue
        if queue_of(name) not in QUEUE_NAMES:
            raise RuntimeError(f"task {name} is routed to undeclared queue {queue_of(name)!r}")
