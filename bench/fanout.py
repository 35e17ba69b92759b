"""Fan-out latency: one sender, `--clients` users joined to the room each long-polling /sync; for each of
`--messages` messages (one at a time), the time from the send's start to each client's /sync returning it.
Prints JSON.

    python bench/fanout.py [--clients 50] [--messages 20] [--target URL]
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

FILTER = '{"room":{"timeline":{"limit":50}},"presence":{"not_types":["*"]}}'


async def run(base: str, clients: int, messages: int) -> dict:
    async with common.client(base, connections=clients + 10) as h:
        sender = await common.register(h, "sender")
        room_id = await common.create_room(h, sender)
        users = [await common.register(h, "reader") for _ in range(clients)]
        for u in users:
            await common.join(h, u, room_id)
        tokens = {u.user_id: (await common.sync(h, u, filter_json=FILTER))["next_batch"] for u in users}
        sent_at: dict[str, float] = {}
        arrived: dict[str, list[float]] = {}
        done = asyncio.Event()

        async def reader(u: common.User):
            token = tokens[u.user_id]
            seen = 0
            while seen < messages:
                body = await common.sync(h, u, token, timeout_ms=30000, filter_json=FILTER)
                now = time.perf_counter()
                token = body["next_batch"]
                room = body["rooms"]["join"].get(room_id)
                for e in (room or {}).get("timeline", {}).get("events", []):
                    if e["type"] == "m.room.message" and e["sender"] == sender.user_id:
                        arrived.setdefault(e["content"]["body"], []).append(now)
                        seen += 1

        readers = [asyncio.create_task(reader(u)) for u in users]
        await asyncio.sleep(1.0)  # every reader is parked in its long-poll
        for i in range(messages):
            key = f"fanout {i}"
            sent_at[key] = time.perf_counter()
            await common.send(h, sender, room_id, key)
            deadline = time.perf_counter() + 30
            while len(arrived.get(key, ())) < clients and time.perf_counter() < deadline:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)  # readers re-park before the next message
        await asyncio.wait_for(asyncio.gather(*readers), 60)
        done.set()
    lat = [t - sent_at[k] for k, ts in arrived.items() for t in ts]
    last = [max(ts) - sent_at[k] for k, ts in arrived.items()]
    return {"deliveries": len(lat), "expected": clients * messages,
            "send_to_client": common.summary_ms(lat), "send_to_last_client": common.summary_ms(last)}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--messages", type=int, default=20)
    args = p.parse_args()
    with common.server(args) as (base, _pid, name):
        results = asyncio.run(run(base, args.clients, args.messages))
    common.report("fanout", name, {"clients": args.clients, "messages": args.messages}, results)


if __name__ == "__main__":
    main()
