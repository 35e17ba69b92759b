"""Initial /sync of a user in `--rooms` rooms (each with `--messages` messages from another user): the
time of a full initial sync, `--runs` times. Prints JSON.

    python bench/initial_sync.py [--rooms 50] [--messages 10] [--runs 5] [--target URL]
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


async def run(base: str, rooms: int, messages: int, runs: int) -> dict:
    async with common.client(base) as h:
        owner = await common.register(h, "owner")
        user = await common.register(h, "member")
        setup_started = time.perf_counter()
        for r in range(rooms):
            room_id = await common.create_room(h, owner, name=f"room {r}")
            await common.join(h, user, room_id)
            for i in range(messages):
                await common.send(h, owner, room_id, f"message {i}")
        setup = time.perf_counter() - setup_started
        times, sizes = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = await h.get(f"{common.API}/sync", headers=user.headers)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            sizes.append(len(r.content))
            assert len(r.json()["rooms"]["join"]) == rooms
    return {"initial_sync": common.summary_ms(times), "response_bytes": sizes[-1],
            "setup_seconds": round(setup, 1)}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--rooms", type=int, default=50)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    with common.server(args) as (base, _pid, name):
        results = asyncio.run(run(base, args.rooms, args.messages, args.runs))
    common.report("initial_sync", name, {"rooms": args.rooms, "messages": args.messages, "runs": args.runs},
                  results)


if __name__ == "__main__":
    main()
