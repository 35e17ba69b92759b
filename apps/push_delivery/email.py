"""Email pushers (`kind: email`, `app_id: m.email`, the address as pushkey): the user's unread
notifications, batched per room and throttled, in emails sent through Django's email backend.

The rule (docs/configuration.md, "Email notifications"), for each room with notifications after the
pusher's position that are neither read (apps.push.counts.read_positions) nor already emailed:
    due once its oldest such notification is older than `email.notif_delay`, and
        never emailed about            -> at once
        read since the last email      -> 1 h after the last email
        not read since                 -> after the room's throttle (1 h, doubled at each such email, at
                                          most 24 h)
One email lists every due room. The pusher's position then moves to just before the oldest notification
still waiting (or to the end of what was scanned); the newest notification emailed per room is kept
(EmailRoomThrottle), so a room emailed while an older one waits is not emailed twice. Everything is
recorded only after the backend took the email: a worker killed in between sends it again (at least
once). A backend error backs off as an HTTP pusher does; a permanent refusal of the address (SMTP 5xx)
drops the batch instead of retrying it forever.
"""
from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db import transaction

from . import stores

logger = logging.getLogger(__name__)

THROTTLE_START_MS = 3_600_000
THROTTLE_MAX_MS = 86_400_000
SCAN = 500
UNSUBSCRIBE_SALT = "push_delivery.email.unsubscribe"
UNSUBSCRIBE_PATH = "_matrix/client/unstable/pushers/remove"


@dataclass
class Outcome:
    status: str  # "idle", "waiting", "failed", "busy"
    sent: int = 0
    retry_in_ms: int | None = None
    error: str | None = None


@dataclass
class _Room:
    room_id: str
    actions: list = field(default_factory=list)  # unread, not yet emailed, oldest first


# --- the unsubscribe link ----------------------------------------------------------------------------------

def unsubscribe_token(user_id: str, app_id: str, pushkey: str) -> str:
    """Signed with SECRET_KEY (`form_secret`): only this server can make a link for a pusher."""
    return signing.dumps([user_id, app_id, pushkey], salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[str, str, str] | None:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError):
        return None
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
        return None
    return value[0], value[1], value[2]


def unsubscribe_url(pusher) -> str:
    query = urlencode({"token": unsubscribe_token(pusher.user_id, pusher.app_id, pusher.pushkey)})
    return f"{settings.HS.public_baseurl}{UNSUBSCRIBE_PATH}?{query}"


# --- batching and throttling -------------------------------------------------------------------------------

def _room_read_up_to(reads, room_id: str) -> int:
    """The furthest the user has read in the room, in any thread (to tell whether they read since an email)."""
    threaded = [p for (r, _t), p in reads.threaded.items() if r == room_id]
    return max([reads.base(room_id), *threaded])


def _next_throttle(row, room_read: int) -> int:
    if row is None or room_read >= row.last_sent_position:
        return THROTTLE_START_MS
    return min(row.throttle_ms * 2, THROTTLE_MAX_MS)


def _permanent(refused: smtplib.SMTPRecipientsRefused) -> bool:
    codes = [v[0] for v in refused.recipients.values() if isinstance(v, tuple) and v]
    return bool(codes) and all(isinstance(c, int) and c >= 500 for c in codes)


def _allowed_at(row, room_read: int) -> int:
    """When the room may be emailed again."""
    if row is None:
        return 0
    if room_read >= row.last_sent_position:
        return row.last_sent_ms + THROTTLE_START_MS
    return row.last_sent_ms + row.throttle_ms


def deliver(pusher, now_ms: int, owner: str) -> Outcome:
    """One pass over the pusher's notifications (the caller holds the pusher's lease)."""
    from apps.push.counts import read_positions
    from apps.push.stores import actions_for_pusher
    from apps.streams.replication import persisted_up_to

    cfg = settings.HS.email
    sent = 0
    while True:
        up_to = persisted_up_to("events")
        actions = actions_for_pusher(pusher.user_id, pusher.last_stream_ordering, up_to, SCAN)
        if not actions:
            return Outcome("idle", sent)
        scan_end = actions[-1].stream_ordering if len(actions) == SCAN else up_to
        room_ids = list(dict.fromkeys(a.room_id for a in actions))
        reads = read_positions(pusher.user_id, room_ids)
        throttles = stores.email_throttles(pusher.pk)
        rooms: dict[str, _Room] = {}
        for a in actions:
            row = throttles.get(a.room_id)
            if a.stream_ordering <= reads.position(a.room_id, a.thread_id):
                continue
            if row is not None and a.stream_ordering <= row.last_sent_position:
                continue
            rooms.setdefault(a.room_id, _Room(a.room_id)).actions.append(a)

        due: list[_Room] = []
        waits: list[int] = []
        for room in rooms.values():
            room_read = _room_read_up_to(reads, room.room_id)
            ready_at = max(min(a.ts for a in room.actions) + cfg.notif_delay_ms,
                           _allowed_at(throttles.get(room.room_id), room_read))
            if ready_at <= now_ms:
                due.append(room)
            else:
                waits.append(ready_at - now_ms)

        if due:
            try:
                _send(pusher, due)
                sent += 1
            except smtplib.SMTPRecipientsRefused as e:
                if not _permanent(e):
                    return Outcome("failed", sent, error=f"SMTPRecipientsRefused: {e.recipients}")
                # A 5xx for the address cannot succeed later: these notifications are dropped, as an HTTP
                # pusher drops what a gateway refuses with a 4xx.
                logger.warning("email pusher %s: the server refused %s (%s); dropped", pusher.pk,
                               pusher.pushkey, e.recipients)
            except Exception as e:  # noqa: BLE001 - any other backend error (SMTP, network, TLS) is retried
                return Outcome("failed", sent, error=f"{type(e).__name__}: {e}")
        due_ids = {r.room_id for r in due}
        waiting = [r for r in rooms.values() if r.room_id not in due_ids]
        position = min((r.actions[0].stream_ordering for r in waiting), default=scan_end + 1) - 1
        with transaction.atomic():
            if due:
                stores.record_emailed(pusher.pk, {
                    r.room_id: (r.actions[-1].stream_ordering,
                                _next_throttle(throttles.get(r.room_id), _room_read_up_to(reads, r.room_id)))
                    for r in due}, now_ms)
            if position > pusher.last_stream_ordering and not stores.advance(
                    pusher.pk, owner, position, success_ts=now_ms):
                return Outcome("busy", sent)
        if waits:
            return Outcome("waiting", sent, retry_in_ms=min(waits))
        if len(actions) < SCAN:
            return Outcome("idle", sent)
        pusher.last_stream_ordering = max(pusher.last_stream_ordering, position)


# --- the email ---------------------------------------------------------------------------------------------

def _describe(room: _Room, user_id: str) -> dict:
    from apps.rooms import state_store
    from apps.rooms import stores as room_stores

    events = room_stores.get_events([a.event_id for a in room.actions])
    senders = list(dict.fromkeys(e.sender for e in events.values()))
    keys = [("m.room.name", ""), ("m.room.canonical_alias", "")] + [("m.room.member", s) for s in senders]
    state = state_store.current_state(room.room_id, keys)
    state_events = room_stores.get_events(list(state.values()))

    def content(key) -> dict:
        ev = state_events.get(state.get(key, ""))
        return ev.content if ev is not None and isinstance(ev.content, dict) else {}

    def name_of(user: str) -> str:
        display = content(("m.room.member", user)).get("displayname")
        return display if isinstance(display, str) and display else user

    room_name = content(("m.room.name", "")).get("name") or content(("m.room.canonical_alias", "")).get("alias")
    if not isinstance(room_name, str) or not room_name:
        room_name = ", ".join(name_of(s) for s in senders) or room.room_id
    messages = []
    for a in room.actions:
        event = events.get(a.event_id)
        if event is None:
            continue
        messages.append({"sender": name_of(event.sender), "body": _body_of(event, user_id),
                         "time": datetime.fromtimestamp(event.origin_server_ts / 1000, timezone.utc)
                         .strftime("%Y-%m-%d %H:%M UTC")})
    return {"room_id": room.room_id, "name": room_name, "messages": messages,
            "link": f"{settings.HS.email.client_base_url}/#/room/{room.room_id}"}


def _body_of(event, user_id: str) -> str:
    content = event.content if isinstance(event.content, dict) else {}
    if event.type == "m.room.member" and event.state_key == user_id and content.get("membership") == "invite":
        return "invited you to the room"
    if event.type == "m.room.encrypted":
        return "(an encrypted message)"
    body = content.get("body")
    if isinstance(body, str) and body:
        return body
    return f"({event.type})"


def render(pusher, rooms: list[dict]) -> tuple[str, str, str, str]:
    """(subject, plain text, HTML, unsubscribe URL) of the email about `rooms`."""
    from django.template.loader import render_to_string

    app = settings.HS.email.app_name
    if len(rooms) == 1:
        subject = f"[{app}] New messages in {rooms[0]['name']}"
    else:
        subject = f"[{app}] New messages in {len(rooms)} rooms"
    # A header cannot hold a line break (Django refuses to send it): room names are users' text.
    subject = re.sub(r"\s+", " ", subject).strip()[:200]
    context = {"app_name": app, "user_id": pusher.user_id, "rooms": rooms,
               "client_url": settings.HS.email.client_base_url, "unsubscribe_url": unsubscribe_url(pusher)}
    return (subject, render_to_string("push_delivery/notif_mail.txt", context),
            render_to_string("push_delivery/notif_mail.html", context), context["unsubscribe_url"])


def _send(pusher, due: list[_Room]) -> None:
    from django.core.mail import EmailMultiAlternatives

    subject, text, html, unsubscribe = render(pusher, [_describe(r, pusher.user_id) for r in due])
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.HS.email.from_address, to=[pusher.pushkey],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
