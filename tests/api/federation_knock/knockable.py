"""A room hosted by the fake remote server whose join rule is `knock`, served over make_knock /
send_knock and make_leave / send_leave as a resident server would."""
from __future__ import annotations

import json
import time

from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version

FED = "/_matrix/federation"


def user_in_path(rec) -> str:
    return rec.path.split("?")[0].rsplit("/", 1)[1].replace("%40", "@").replace("%3A", ":")


class KnockableRoom:
    """Its admin created it (v10 or v12) with join rule `knock` and a name; knocks sent to it join its
    state. `knock_state` builds the `knock_room_state` answered (full PDUs, as spec 1.16 asks)."""

    def __init__(self, server, remote, *, rv: str = "10"):
        self.server, self.remote, self.rv = server, remote, rv
        self.admin = admin = remote.user("admin")
        v12 = rv == "12"

        def ev(etype, content, prev, auth, depth, state_key=""):
            return remote.event(self.room_id, admin, etype, content, prev=prev,
                                auth=[a for a in auth if not (v12 and a == self.create.event_id)], depth=depth,
                                room_version=rv, state_key=state_key)

        self.room_id = f"!knockable:{remote.server_name}"
        self.create = remote.event(self.room_id, admin, "m.room.create",
                                   {"room_version": rv, **({} if v12 else {"creator": admin})}, prev=[], auth=[],
                                   depth=1, room_version=rv, state_key="")
        if v12:
            self.room_id = "!" + self.create.event_id[1:]
        c = self.create.event_id
        self.member = ev("m.room.member", {"membership": "join"}, [c], [c], 2, admin)
        m = self.member.event_id
        self.pl = ev("m.room.power_levels", {"users": {} if v12 else {admin: 100}, "users_default": 0,
                                             "invite": 0, "events_default": 0, "state_default": 50}, [m], [c, m], 3)
        p = self.pl.event_id
        self.jr = ev("m.room.join_rules", {"join_rule": "knock"}, [p], [c, m, p], 4)
        self.name = ev("m.room.name", {"name": "Knock knock"}, [self.jr.event_id], [c, m, p], 5)
        self.tip = self.name
        self._ev = ev
        self.knocks: list[dict] = []
        self.leaves: list[dict] = []
        self.make_knock_queries: list[str] = []
        self.knock_state = lambda: [e.get_pdu_json() for e in (self.create, self.jr, self.name)]
        server.routes[f"{FED}/v1/make_knock/"] = self.make_knock
        server.routes[f"{FED}/v1/send_knock/"] = self.send_knock
        server.routes[f"{FED}/v1/make_leave/"] = self.make_leave
        server.routes[f"{FED}/v2/send_leave/"] = self.send_leave

    def _auth(self, *extra: str) -> list[str]:
        return ([] if self.rv == "12" else [self.create.event_id]) + [self.pl.event_id, *extra]

    def _template(self, user: str, membership: str, auth: list[str]) -> dict:
        return {"type": "m.room.member", "room_id": self.room_id, "sender": user, "state_key": user,
                "content": {"membership": membership}, "prev_events": [self.tip.event_id], "auth_events": auth,
                "depth": self.tip.depth + 1, "origin_server_ts": int(time.time() * 1000),
                "origin": self.remote.server_name}

    def make_knock(self, rec):
        self.make_knock_queries.append(rec.path.split("?", 1)[1] if "?" in rec.path else "")
        user = user_in_path(rec)
        return 200, {}, {"event": self._template(user, "knock", self._auth(self.jr.event_id)), "room_version": self.rv}

    def send_knock(self, rec):
        knock = json.loads(rec.body)
        self.knocks.append(knock)
        self.tip = Event(knock, get_room_version(self.rv))
        return 200, {}, {"knock_room_state": self.knock_state()}

    def make_leave(self, rec):
        user = user_in_path(rec)
        return 200, {}, {"event": self._template(user, "leave", self._auth(self.tip.event_id)), "room_version": self.rv}

    def send_leave(self, rec):
        self.leaves.append(json.loads(rec.body))
        return 200, {}, {}
