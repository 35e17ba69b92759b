"""What an idle /sync long-poll costs the server: `--polls` concurrent long-polls that nothing wakes, and
the server process's threads and resident memory before and while they wait (needs the server's pid: this
project's is known; give `--pid` with `--target`). Then one message wakes the one long-poll it concerns,
timed. Prints JSON.

    python bench/idle_syncs.py [--polls 500] [--target URL --pid PID]
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def _settle(pid: int | None, quiet: float = 1.0, limit: float = 120) -> None:
    """Until the server used no CPU for `quiet` seconds (every long-poll computed and parked)."""
    if pid is None:
        await asyncio.sleep(5)
        return
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = _cpu_ticks(pid)
        await asyncio.sleep(quiet)
        if _cpu_ticks(pid) == before:
            return


async def run(base: str, pid: int | None, polls: int) -> dict:
    async with common.client(base, connections=polls + 10) as h:
        idle_user = await common.register(h, "idle")
        waker = await common.register(h, "waker")
        room_id = await common.create_room(h, waker)
        idle_since = (await common.sync(h, idle_user))["next_batch"]
        waker_since = (await common.sync(h, waker))["next_batch"]
        await _settle(pid)
        before = common.proc_status(pid)
        tasks = [asyncio.create_task(common.sync(h, idle_user, idle_since, timeout_ms=300000))
                 for _ in range(polls)]
        started = time.perf_counter()
        await asyncio.sleep(1.0)
        await _settle(pid)
        parked_after = time.perf_counter() - started
        during = common.proc_status(pid)
        woken = asyncio.create_task(common.sync(h, waker, waker_since, timeout_ms=60000))
        await asyncio.sleep(0.5)
        t0 = time.perf_counter()
        await common.send(h, waker, room_id, "wake")
        await asyncio.wait_for(woken, 30)
        wake = time.perf_counter() - t0
        still_waiting = sum(not t.done() for t in tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    out = {"polls": polls, "still_waiting": still_waiting, "seconds_to_park_all": round(parked_after, 2),
           "wake_one_ms": round(wake * 1000, 1), "before": before, "while_waiting": during}
    if before and during:
        out["threads_added"] = during["threads"] - before["threads"]
        out["rss_kib_per_poll"] = round((during["rss_kib"] - before["rss_kib"]) / polls, 1)
    return out


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--polls", type=int, default=500)
    args = p.parse_args()
    with common.server(args) as (base, pid, name):
        results = asyncio.run(run(base, pid, args.polls))
    common.report("idle_syncs", name, {"polls": args.polls}, results)


if __name__ == "__main__":
    main()
