"""End-to-end encryption with a real E2EE client library (matrix-nio with libolm) against a real server
process: device and one-time key upload, key query, one-time key claim, Olm-encrypted to-device
messages carrying a Megolm room key, and a Megolm-encrypted room message the other device decrypts.

Fast tier: `manage.py runserver` on the embedded default. Services tier: gunicorn on PostgreSQL + Redis
(the server is started as in `test_nio_client`).
"""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx
import nio
import pytest
import yaml

from .servers import free_port, gunicorn_cmd, manage, running, runserver_cmd

pytest.importorskip("olm")
TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = pytest.mark.live
ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


def _client(base: str, name: str, store: Path) -> nio.AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    return nio.AsyncClient(base, name, store_path=str(store), config=config)


async def _e2ee_journey(base: str, store: Path) -> None:
    alice = _client(base, "e2e_alice", store / "alice")
    bob = _client(base, "e2e_bob", store / "bob")
    try:
        assert isinstance(await alice.register("e2e_alice", "alice password 1"), nio.RegisterResponse)
        assert isinstance(await bob.register("e2e_bob", "bob password 1"), nio.RegisterResponse)
        for client in (alice, bob):
            assert client.should_upload_keys
            uploaded = await client.keys_upload()
            assert isinstance(uploaded, nio.KeysUploadResponse), uploaded
            assert uploaded.signed_curve25519_count > 0

        created = await alice.room_create(name="secret room", invite=[bob.user_id], initial_state=[ENCRYPTION])
        assert isinstance(created, nio.RoomCreateResponse), created
        room_id = created.room_id
        synced = await bob.sync(timeout=5000)
        assert room_id in synced.rooms.invite, synced
        assert isinstance(await bob.join(room_id), nio.JoinResponse)
        await bob.sync(timeout=0, since=bob.next_batch)
        before = (await bob.sync(timeout=0, since=bob.next_batch)).device_key_count.signed_curve25519
        assert before and before > 0

        await alice.sync(timeout=0)
        assert alice.rooms[room_id].encrypted and bob.user_id in alice.rooms[room_id].users
        # Members of an encrypted room: their device keys are to be queried.
        assert bob.user_id in alice.users_for_key_query
        queried = await alice.keys_query()
        assert isinstance(queried, nio.KeysQueryResponse), queried
        assert bob.device_id in queried.device_keys[bob.user_id]
        assert bob.device_id in alice.device_store[bob.user_id]
        assert alice.device_store[bob.user_id][bob.device_id].ed25519 == bob.olm.account.identity_keys["ed25519"]

        missing = alice.get_missing_sessions(room_id)
        assert bob.device_id in missing.get(bob.user_id, [])
        claimed = await alice.keys_claim(missing)
        assert isinstance(claimed, nio.KeysClaimResponse), claimed
        assert bob.device_id in claimed.one_time_keys[bob.user_id]
        assert alice.get_missing_sessions(room_id) == {}
        after = (await bob.sync(timeout=0, since=bob.next_batch)).device_key_count.signed_curve25519
        assert after == before - 1

        # The room key goes to bob's device as an Olm-encrypted to-device message.
        shared = await alice.share_group_session(room_id, ignore_unverified_devices=True)
        assert isinstance(shared, nio.ShareGroupSessionResponse), shared
        sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "for bob's eyes"},
                                     ignore_unverified_devices=True)
        assert isinstance(sent, nio.RoomSendResponse), sent

        synced = await bob.sync(timeout=5000, since=bob.next_batch)
        assert isinstance(synced, nio.SyncResponse), synced
        assert any(isinstance(e, nio.RoomKeyEvent) and e.room_id == room_id for e in synced.to_device_events), \
            synced.to_device_events
        events = {e.event_id: e for e in synced.rooms.join[room_id].timeline.events}
        got = events[sent.event_id]
        assert isinstance(got, nio.RoomMessageText), got
        assert got.body == "for bob's eyes" and got.decrypted and got.sender == alice.user_id

        # The server only ever saw ciphertext.
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {bob.access_token}"}) as h:
            raw = (await h.get(f"/_matrix/client/v3/rooms/{room_id}/event/{sent.event_id}")).json()
        assert raw["type"] == "m.room.encrypted", raw
        assert raw["content"]["algorithm"] == "m.megolm.v1.aes-sha2" and "for bob's eyes" not in str(raw)

        # A to-device message the server delivers once: consumed by the sync that returned it.
        again = await bob.sync(timeout=0, since=bob.next_batch)
        assert not any(isinstance(e, nio.RoomKeyEvent) for e in again.to_device_events)
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.skipif(TIER != "fast", reason="the embedded default is the fast tier's server")
def test_nio_e2ee_against_runserver_embedded_default(tmp_path):
    port = free_port()
    env = {"HS_DATA_DIR": str(tmp_path / "data")}
    manage(["migrate", "--noinput"], env)
    with running(runserver_cmd(port), env, port, tmp_path / "server.log") as base:
        asyncio.run(_e2ee_journey(base, tmp_path / "stores"))


@pytest.mark.services
@pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis")
def test_nio_e2ee_against_gunicorn_on_postgres_and_redis(tmp_path):
    import psycopg
    import redis

    dbname = f"hs_live_{uuid.uuid4().hex[:10]}"
    pg = {"host": os.environ.get("HS_TEST_PG_HOST", "127.0.0.1"),
          "port": int(os.environ.get("HS_TEST_PG_PORT", "5432")),
          "user": os.environ.get("HS_TEST_PG_USER", "postgres")}
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    port = free_port()
    redis_db = int(os.environ.get("HS_TEST_REDIS_DB", "7"))
    config = {
        "server_name": "live.test",
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "form_secret": "live-test-secret",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "signing_key_path": str(tmp_path / "signing.key"),
        "media_store_path": str(tmp_path / "media"),
        "database": {"name": "psycopg2", "args": {"database": dbname, **pg}},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                  "dbid": redis_db},
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
    }
    # Rate-limit buckets live in Redis, keyed by client address: a previous run's would still be full.
    redis.Redis(host="127.0.0.1", port=config["redis"]["port"], db=redis_db).flushdb()
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"HS_CONFIG": str(path), "HS_DATA_DIR": str(tmp_path / "data")}
    try:
        manage(["migrate", "--noinput"], env)
        with running(gunicorn_cmd(port, workers=1), env, port, tmp_path / "gunicorn.log") as base:
            asyncio.run(_e2ee_journey(base, tmp_path / "stores"))
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
