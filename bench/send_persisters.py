"""Sending with one event persister and with two: `--rooms` rooms (spread over the persisters by the
room-placement hash), one sender per room, `--count` messages each, all at once, through nginx in front of
the local topology (`manage.py run_topology`: two generic workers as event creators, the persisters, main,
the stream writer). Prints JSON: events per second with each, and the ratio. Needs PostgreSQL, Redis and
nginx, all on this machine.

    python bench/send_persisters.py [--rooms 8] [--count 100]
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402


async def load(base: str, rooms: int, count: int) -> dict:
    async with common.client(base, connections=rooms * 2 + 10) as h:
        users = [await common.register(h, "sender") for _ in range(rooms)]
        room_ids = [await common.create_room(h, u) for u in users]
        for u, r in zip(users, room_ids):
            for i in range(3):
                await common.send(h, u, r, f"warm {i}")
        latencies: list[float] = []

        async def sender(u, r):
            for i in range(count):
                t0 = time.perf_counter()
                await common.send(h, u, r, f"message {i}")
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(sender(u, r) for u, r in zip(users, room_ids)))
        elapsed = time.perf_counter() - started
    total = rooms * count
    return {"events_per_s": round(total / elapsed, 1), "seconds": round(elapsed, 2),
            "latency": common.summary_ms(latencies)}


def run_with(persisters: int, rooms: int, count: int) -> dict:
    import django
    import psycopg

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hsproject.settings")
    django.setup()
    from hsproject import localtopology

    pg = {"host": "127.0.0.1", "port": 5432, "user": os.environ.get("HS_BENCH_PG_USER", "postgres")}
    name = f"hs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    many = {"per_second": 100000, "burst_count": 100000}
    topo = None
    try:
        tmp = tempfile.mkdtemp(prefix="hs-bench-topology-")
        if True:
            topo = localtopology.build(Path(tmp), base_port=localtopology.free_port_range(24),
                                       database={"database": name, **pg},
                                       redis={"host": "127.0.0.1", "port": 6379, "dbid": 13},
                                       celery=False, persisters=persisters,
                                       extra_config={"rc_message": many, "rc_registration": many,
                                                     "rc_joins": {"local": many, "remote": many}})
            localtopology.migrate(topo)
            topo.start()
            try:
                result = asyncio.run(load(topo.base_url, rooms, count))
            except Exception:
                print(f"the topology's logs are in {tmp}", file=sys.stderr)
                raise
            finally:
                topo.stop()
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
            return result
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--rooms", type=int, default=8)
    p.add_argument("--count", type=int, default=100)
    args = p.parse_args()
    if args.target:
        raise SystemExit("this benchmark starts its own topologies; --target is not supported")
    one = run_with(1, args.rooms, args.count)
    two = run_with(2, args.rooms, args.count)
    common.report("send_persisters", "hsproject local topology (nginx, 2 event creators)",
                  {"rooms": args.rooms, "count": args.count},
                  {"one_persister": one, "two_persisters": two,
                   "ratio": round(two["events_per_s"] / one["events_per_s"], 2)})


if __name__ == "__main__":
    main()
