"""A fake remote homeserver for the federation API tests: its own signing key (known to our keyring as
if fetched), X-Matrix signed requests to this server through Django's test client, and signed events
built the way a real server would build them.

    remote = FakeRemote("remote.test")
    resp = remote.get(f"/_matrix/federation/v1/state_ids/{room_id}?event_id={eid}")
    join = remote.join(room_id, "@bob:remote.test")     # make_join + send_join
    msg = remote.event(room_id, "@bob:remote.test", "m.room.message", {"body": "hi"}, prev=[join.event_id])
    remote.send_transaction([msg])
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.test import Client
from signedjson.key import encode_verify_key_base64, get_verify_key

from apps.federation import transport_auth
from apps.federation.models import RemoteServerKey
from apps.rooms.auth_rules import auth_types_for_event
from apps.rooms.event_signing import sign_event
from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version
from tests.federation_support import new_signing_key

FED = "/_matrix/federation"


def q(value: str) -> str:
    """A path segment as a sender percent-encodes it (IDs with `!`, `$`, `@`, `:` stay readable, as
    the server re-encodes the decoded path the same way when checking the signature)."""
    return quote(value, safe="!$@:&'()*+,;=-._~")


class FakeRemote:
    def __init__(self, server_name: str = "remote.test", *, key_version: str = "r1", register_key: bool = True):
        self.server_name = server_name
        self.key = new_signing_key(key_version)
        self.http = Client()
        if register_key:
            self.register_key()

    # --- keys ------------------------------------------------------------------------------------------
    def register_key(self) -> None:
        """Our keyring holds this server's key, as after a successful fetch."""
        now = int(time.time() * 1000)
        RemoteServerKey.objects.update_or_create(
            server_name=self.server_name, key_id=f"ed25519:{self.key.version}",
            defaults={"verify_key": encode_verify_key_base64(get_verify_key(self.key)),
                      "valid_until_ts": now + 24 * 3600 * 1000, "is_old": False, "fetched_ts": now,
                      "from_server": self.server_name})

    def user(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    # --- requests --------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, *, query: dict | list | None = None,
                sign: bool = True, origin: str | None = None):
        uri = path + ("?" + urlencode(query, doseq=True) if query else "")
        extra = {}
        if sign:
            extra["HTTP_AUTHORIZATION"] = transport_auth.authorization_header(
                method, uri, settings.HS.server_name, body, origin=origin or self.server_name, key=self.key)
        data = json.dumps(body) if body is not None else ""
        resp = self.http.generic(method, uri, data=data, content_type="application/json", **extra)
        try:
            resp.json_body = json.loads(resp.content) if resp.content else None
        except ValueError:
            resp.json_body = None
        return resp

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any, **kw):
        return self.request("PUT", path, body, **kw)

    def post(self, path: str, body: Any, **kw):
        return self.request("POST", path, body, **kw)

    # --- events ----------------------------------------------------------------------------------------
    def sign(self, pdu: dict, room_version: str) -> Event:
        rv = get_room_version(room_version)
        sign_event(pdu, rv, self.server_name, self.key)
        return Event(pdu, rv)

    def event(self, room_id: str, sender: str, event_type: str, content: dict, *, prev: list[str],
              auth: list[str], depth: int, room_version: str = "12", state_key: str | None = None,
              ts: int | None = None) -> Event:
        pdu: dict[str, Any] = {"type": event_type, "room_id": room_id, "sender": sender, "content": content,
                               "origin_server_ts": ts if ts is not None else int(time.time() * 1000),
                               "depth": depth, "prev_events": list(prev), "auth_events": list(auth)}
        if state_key is not None:
            pdu["state_key"] = state_key
        rv = get_room_version(room_version)
        if rv.event_format == 1:
            pdu["event_id"] = f"${uuid.uuid4().hex}:{self.server_name}"  # v1/v2: the sender names the event
        if rv.room_id_from_create_event and event_type == "m.room.create":
            del pdu["room_id"]  # v12: the room is named after its create event
        return self.sign(pdu, room_version)

    def message(self, room_id: str, sender: str, body: str, *, after: Event | str, state: dict,
                room_version: str = "12", depth: int | None = None) -> Event:
        """An m.room.message after `after`, its auth events picked from `state` ({(type, key): id})."""
        prev_id = after if isinstance(after, str) else after.event_id
        probe = Event({"type": "m.room.message", "room_id": room_id, "sender": sender, "content": {}},
                      get_room_version(room_version))
        auth = [state[k] for k in auth_types_for_event(probe) if k in state]
        d = depth if depth is not None else (after.depth + 1 if isinstance(after, Event) else 100)
        return self.event(room_id, sender, "m.room.message", {"msgtype": "m.text", "body": body}, prev=[prev_id],
                          auth=auth, depth=d, room_version=room_version)

    def send_transaction(self, pdus: list[Event | dict], edus: list[dict] | None = None, txn_id: str | None = None):
        body = {"origin": self.server_name, "origin_server_ts": int(time.time() * 1000),
                "pdus": [p.get_pdu_json() if isinstance(p, Event) else p for p in pdus], "edus": edus or []}
        return self.put(f"{FED}/v1/send/{txn_id or uuid.uuid4().hex}", body)

    # --- handshakes ------------------------------------------------------------------------------------
    def make_membership(self, kind: str, room_id: str, user_id: str, versions=("12",)):
        query = [("ver", v) for v in versions] if kind in ("make_join", "make_knock") else None
        return self.get(f"{FED}/v1/{kind}/{q(room_id)}/{q(user_id)}", query=query)

    def sign_template(self, template: dict, room_version: str) -> Event:
        pdu = dict(template)
        pdu["origin_server_ts"] = int(time.time() * 1000)
        pdu.pop("origin", None)
        return self.sign(pdu, room_version)

    def join(self, room_id: str, user_id: str, room_version: str = "12") -> tuple[Event, dict]:
        """make_join then send_join; returns the join event and the send_join response body."""
        made = self.make_membership("make_join", room_id, user_id, (room_version,))
        assert made.status_code == 200, made.json_body
        event = self.sign_template(made.json_body["event"], made.json_body["room_version"])
        resp = self.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
        assert resp.status_code == 200, resp.json_body
        return event, resp.json_body


def state_after_join(send_join_body: dict, join: Event, room_version: str = "12") -> dict:
    """{(type, state_key): event_id} of the room after `join`, from the send_join response."""
    rv = get_room_version(room_version)
    state = {}
    for pdu in send_join_body["state"]:
        ev = Event(pdu, rv)
        state[(ev.type, ev.state_key)] = ev.event_id
    state[("m.room.member", join.state_key)] = join.event_id
    return state
