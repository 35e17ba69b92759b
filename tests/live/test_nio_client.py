"""A real client library (matrix-nio) against a real server process.

Fast tier: `manage.py runserver` on the embedded default (no config file, SQLite in a temp data dir).
Services tier: gunicorn with uvicorn workers on PostgreSQL + Redis, configured by a homeserver YAML.
"""
from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import nio
import pytest
import yaml

from .servers import free_port, gunicorn_cmd, manage, running, runserver_cmd

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = pytest.mark.live


async def _client_journey(base: str) -> None:
    client = nio.AsyncClient(base, "nio_user")
    try:
        reg = await client.register("nio_user", "first password 1", device_name="nio laptop")
        assert isinstance(reg, nio.RegisterResponse), reg
        assert reg.user_id.startswith("@nio_user:")

        who = await client.whoami()
        assert isinstance(who, nio.WhoamiResponse), who
        assert who.user_id == reg.user_id and who.device_id == reg.device_id

        second = nio.AsyncClient(base, reg.user_id)
        login = await second.login("first password 1", device_name="nio phone")
        assert isinstance(login, nio.LoginResponse), login
        assert login.device_id != reg.device_id

        devices = await second.devices()
        assert isinstance(devices, nio.DevicesResponse), devices
        names = {d.id: d.display_name for d in devices.devices}
        assert names == {reg.device_id: "nio laptop", login.device_id: "nio phone"}

        renamed = await second.update_device(login.device_id, {"display_name": "work phone"})
        assert isinstance(renamed, nio.UpdateDeviceResponse), renamed
        devices = await second.devices()
        assert {d.id: d.display_name for d in devices.devices}[login.device_id] == "work phone"

        # nio has no password-change call: speak the spec's UIA flow directly, as a client would.
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {login.access_token}"}) as h:
            first = await h.post("/_matrix/client/v3/account/password", json={"new_password": "second password 2"})
            assert first.status_code == 401 and "session" in first.json()
            done = await h.post("/_matrix/client/v3/account/password", json={
                "new_password": "second password 2",
                "auth": {"type": "m.login.password", "session": first.json()["session"],
                         "identifier": {"type": "m.id.user", "user": reg.user_id},
                         "password": "first password 1"}})
            assert done.status_code == 200, done.text

        # The password change logged out the other device (logout_devices defaults to true).
        gone = await client.whoami()
        assert isinstance(gone, nio.WhoamiError) and gone.status_code == "M_UNKNOWN_TOKEN"

        third = nio.AsyncClient(base, reg.user_id)
        assert isinstance(await third.login("first password 1"), nio.LoginError)
        relog = await third.login("second password 2")
        assert isinstance(relog, nio.LoginResponse), relog

        out = await second.logout()
        assert isinstance(out, nio.LogoutResponse), out
        assert isinstance(await second.whoami(), nio.WhoamiError)
        out_all = await third.logout(all_devices=True)
        assert isinstance(out_all, nio.LogoutResponse), out_all
        assert isinstance(await third.whoami(), nio.WhoamiError)
        await second.close()
        await third.close()
    finally:
        await client.close()


async def _rooms_journey(base: str) -> None:
    """Two real clients: create (v10, v11, v12), invite, join, chat through /sync, power levels,
    redaction, history pagination, aliases and the room directory."""
    alice = nio.AsyncClient(base, "room_alice")
    bob = nio.AsyncClient(base, "room_bob")
    try:
        assert isinstance(await alice.register("room_alice", "alice password 1"), nio.RegisterResponse)
        assert isinstance(await bob.register("room_bob", "bob password 1"), nio.RegisterResponse)
        await bob.sync(timeout=0)
        for version in ("10", "11", "12"):
            created = await alice.room_create(name=f"room v{version}", room_version=version,
                                              alias=f"journey{version}", visibility=nio.RoomVisibility.public)
            assert isinstance(created, nio.RoomCreateResponse), created
            room_id = created.room_id
            assert isinstance(await alice.room_invite(room_id, bob.user_id), nio.RoomInviteResponse)
            synced = await bob.sync(timeout=5000, since=bob.next_batch)
            assert room_id in synced.rooms.invite, synced
            resolved = await bob.room_resolve_alias(f"#journey{version}:{alice.user_id.split(':', 1)[1]}")
            assert isinstance(resolved, nio.RoomResolveAliasResponse) and resolved.room_id == room_id
            assert isinstance(await bob.join(room_id), nio.JoinResponse)

            sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"hi {version}"})
            assert isinstance(sent, nio.RoomSendResponse), sent
            synced = await bob.sync(timeout=5000, since=bob.next_batch)
            assert isinstance(synced, nio.SyncResponse), synced
            bodies = [getattr(e, "body", None) for e in synced.rooms.join[room_id].timeline.events]
            assert f"hi {version}" in bodies

            # Default power levels: bob may not rename; alice raises him, then he may.
            refused = await bob.room_put_state(room_id, "m.room.name", {"name": "bob's"})
            assert isinstance(refused, nio.RoomPutStateError) and refused.status_code == "M_FORBIDDEN"
            levels = await alice.room_get_state_event(room_id, "m.room.power_levels")
            content = dict(levels.content)
            content["users"] = {**content.get("users", {}), bob.user_id: 50}
            assert isinstance(await alice.room_put_state(room_id, "m.room.power_levels", content),
                              nio.RoomPutStateResponse)
            assert isinstance(await bob.room_put_state(room_id, "m.room.name", {"name": "bob's"}),
                              nio.RoomPutStateResponse)

            redacted = await alice.room_redact(room_id, sent.event_id, reason="typo")
            assert isinstance(redacted, nio.RoomRedactResponse), redacted
            history = await bob.room_messages(room_id, start="", limit=50)
            assert isinstance(history, nio.RoomMessagesResponse), history
            ids = [e.event_id for e in history.chunk]
            assert sent.event_id in ids and redacted.event_id in ids

        directory = await bob.room_get_visibility(room_id) if hasattr(bob, "room_get_visibility") else None
        async with httpx.AsyncClient(base_url=base) as h:
            public = (await h.get("/_matrix/client/v3/publicRooms")).json()
        assert {r["name"] for r in public["chunk"]} >= {"bob's"}
        del directory
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.skipif(TIER != "fast", reason="the embedded default is the fast tier's server")
def test_nio_against_runserver_embedded_default(tmp_path):
    port = free_port()
    env = {"HS_DATA_DIR": str(tmp_path / "data")}
    manage(["migrate", "--noinput"], env)
    with running(runserver_cmd(port), env, port, tmp_path / "server.log") as base:
        asyncio.run(_client_journey(base))
        asyncio.run(_rooms_journey(base))
    assert (tmp_path / "data" / "homeserver.db").exists()


@pytest.mark.services
@pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis")
def test_nio_against_gunicorn_on_postgres_and_redis(tmp_path):
    import psycopg

    dbname = f"hs_live_{uuid.uuid4().hex[:10]}"
    pg = {"host": os.environ.get("HS_TEST_PG_HOST", "127.0.0.1"),
          "port": int(os.environ.get("HS_TEST_PG_PORT", "5432")),
          "user": os.environ.get("HS_TEST_PG_USER", "postgres")}
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    port = free_port()
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
                  "dbid": 6},
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
    }
    # Rate-limit buckets live in Redis, keyed by client address: a previous run's would still be full.
    import redis
    redis.Redis(host="127.0.0.1", port=config["redis"]["port"], db=config["redis"]["dbid"]).flushdb()
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"HS_CONFIG": str(path), "HS_DATA_DIR": str(tmp_path / "data")}
    try:
        manage(["migrate", "--noinput"], env)
        with running(gunicorn_cmd(port, workers=1), env, port, tmp_path / "gunicorn.log") as base:
            asyncio.run(_client_journey(base))
            asyncio.run(_rooms_journey(base))
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
