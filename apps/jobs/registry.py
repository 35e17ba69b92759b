"""The kinds of job: `kind -> runner`. A runner is `runner(job, progress) -> dict | None`:

  * `job` is the claimed `Job` row (its `params`; `progress_done` and `result` as an earlier, interrupted
    run left them);
  * `progress(done, total=None, *, result=None)` reports progress (and renews the run's lease; with
    `result`, stores it for a later run to resume from). It raises `LeaseLost` when another worker has
    taken the job over (this run's lease expired): the runner must then stop, which letting the
    exception through does;
  * the returned dict becomes the job's `result`.

A runner must be idempotent: a run may be interrupted anywhere (a killed worker) and the job run again
from the start of the runner, which must then continue the work rather than redo or undo it.

Apps register their kinds in their `AppConfig.ready()`:

    from apps.jobs.registry import register

    @register("purge_history")
    def run(job, progress): ...
"""
from __future__ import annotations

from typing import Any, Callable

Runner = Callable[[Any, Callable[..., None]], "dict | None"]

_RUNNERS: dict[str, Runner] = {}


class UnknownKind(KeyError):
    pass


def register(kind: str) -> Callable[[Runner], Runner]:
    def decorator(runner: Runner) -> Runner:
        existing = _RUNNERS.get(kind)
        if existing is not None and existing is not runner:
            raise ValueError(f"job kind {kind!r} is registered twice")
        _RUNNERS[kind] = runner
        return runner
    return decorator


def runner_for(kind: str) -> Runner:
    try:
        return _RUNNERS[kind]
    except KeyError:
        raise UnknownKind(kind) from None


def kinds() -> list[str]:
    return sorted(_RUNNERS)
