"""Events per second for sends into one room: `--count` messages by one user, `--concurrency` requests in
flight at a time (each waits for its 200 before the next is sent). Prints JSON.

    python bench/send.py [--count 500] [--concurrency 1 4] [--target URL]
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


async def run(base: str, count: int, concurrencies: list[int]) -> dict:
    results = {}
    async with common.client(base) as h:
        user = await common.register(h, "sender")
        for conc in concurrencies:
            room_id = await common.create_room(h, user)
            for i in range(5):  # warm up (connections, caches)
                await common.send(h, user, room_id, f"warm {i}")
            latencies: list[float] = []
            queue = iter(range(count))

            async def worker():
                for i in queue:
                    t0 = time.perf_counter()
                    await common.send(h, user, room_id, f"message {i}")
                    latencies.append(time.perf_counter() - t0)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(conc)))
            elapsed = time.perf_counter() - started
            results[f"concurrency_{conc}"] = {"events_per_s": round(count / elapsed, 1),
                                              "seconds": round(elapsed, 2), "latency": common.summary_ms(latencies)}
    return results


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = p.parse_args()
    with common.server(args) as (base, _pid, name):
        results = asyncio.run(run(base, args.count, args.concurrency))
    common.report("send", name, {"count": args.count, "concurrency": args.concurrency}, results)


if __name__ == "__main__":
    main()
