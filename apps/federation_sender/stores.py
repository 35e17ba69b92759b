"""Every query of the federation sender: the outbox, the destinations' lease, backoff and transaction in
flight, and the read-only lookups of rooms it needs (who is joined where)."""
from __future__ import annotations

import time
from typing import Any, Iterable

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import StrIndex, Substr

from apps.core import leases
from apps.rooms.models import RoomMembership

from .models import FederationDestination, OutboundEdu, OutboundPdu


def now_ms() -> int:
    return int(time.time() * 1000)


# --- rooms (read-only) ---------------------------------------------------------------------------------

def _server_part():
    # Everything after the first colon of the user ID (apps.core.ids.server_name_of), computed by the
    # database so that a large room answers with its few distinct servers, not all its members.
    return Substr("user_id", StrIndex("user_id", Value(":")) + 1)


def joined_servers(room_id: str) -> set[str]:
    """The servers with a joined member in the room now (current memberships)."""
    return set(RoomMembership.objects.filter(room_id=room_id, membership="join")
               .annotate(server=_server_part()).values_list("server", flat=True).distinct())


def rooms_joined_servers(room_ids: Iterable[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for room_id, server in (RoomMembership.objects.filter(room_id__in=list(room_ids), membership="join")
                            .annotate(server=_server_part()).values_list("room_id", "server").distinct()):
        out.setdefault(room_id, set()).add(server)
    return out


# --- the outbox ----------------------------------------------------------------------------------------

def queue_pdu(destinations: Iterable[str], stream_ordering: int, event_id: str) -> None:
    OutboundPdu.objects.bulk_create(
        [OutboundPdu(destination=d, stream_ordering=stream_ordering, event_id=event_id) for d in destinations],
        ignore_conflicts=True)


def queue_edu(destination: str, edu_type: str, content: dict, coalesce_key: str | None = None) -> None:
    """Queue one EDU; one with the same `coalesce_key` replaces the pending one. The replaced row is
    deleted and a new one made (never updated in place), so that a transaction in flight that carries
    the old row does not take the newer content with it when it succeeds."""
    with transaction.atomic():
        if coalesce_key is not None:
            OutboundEdu.objects.filter(destination=destination, coalesce_key=coalesce_key).delete()
        try:
            with transaction.atomic():
                OutboundEdu.objects.create(destination=destination, edu_type=edu_type, content=content,
                                           coalesce_key=coalesce_key)
        except IntegrityError:  # a concurrent writer of the same key won: its content is as new
            pass


def next_pdus(destination: str, up_to: int, limit: int) -> list[tuple[int, str]]:
    """(row id, event_id) of the destination's next PDUs in stream order, none past `up_to` (an event
    of a lower position may still be committing on another persister)."""
    return list(OutboundPdu.objects.filter(destination=destination, stream_ordering__lte=up_to)
                .order_by("stream_ordering").values_list("pk", "event_id")[:limit])


def next_edus(destination: str, limit: int) -> list[tuple[int, str, Any]]:
    return list(OutboundEdu.objects.filter(destination=destination).order_by("pk")
                .values_list("pk", "edu_type", "content")[:limit])


def destinations_with_work(up_to: int) -> list[str]:
    pdus = OutboundPdu.objects.filter(stream_ordering__lte=up_to).values_list("destination", flat=True).distinct()
    edus = OutboundEdu.objects.values_list("destination", flat=True).distinct()
    inflight = FederationDestination.objects.filter(txn_id__isnull=False).values_list("destination", flat=True)
    return sorted(set(pdus) | set(edus) | set(inflight))


def pending_counts(destination: str) -> tuple[int, int]:
    return (OutboundPdu.objects.filter(destination=destination).count(),
            OutboundEdu.objects.filter(destination=destination).count())


# --- destinations: lease, backoff, the transaction in flight -------------------------------------------

def take_lease(destination: str, owner: str, lease_ms: int) -> bool:
    """Become (or stay) the one sender to `destination` until now + lease_ms (apps.core.leases)."""
    FederationDestination.objects.get_or_create(destination=destination)
    return leases.take(FederationDestination, {"destination": destination}, owner, lease_ms)


def release_lease(destination: str, owner: str) -> None:
    leases.release(FederationDestination, {"destination": destination}, owner)


def state(destination: str) -> FederationDestination | None:
    return FederationDestination.objects.filter(destination=destination).first()


def update_state(destination: str, owner: str, **fields) -> bool:
    """Change the destination's row only while `owner` holds its lease."""
    return leases.update_if_held(FederationDestination, {"destination": destination}, owner, **fields)


def complete_transaction(destination: str, owner: str, pdu_rows: list[int], edu_rows: list[int]) -> bool:
    """The transaction in flight was answered 200: its rows leave the outbox, the backoff is reset."""
    with transaction.atomic():
        if not update_state(destination, owner, txn_id=None, txn_body=None, txn_pdu_rows=None, txn_edu_rows=None,
                            failures=0, retry_at_ms=None, last_error=None, last_success_ms=now_ms()):
            return False
        OutboundPdu.objects.filter(pk__in=pdu_rows).delete()
        OutboundEdu.objects.filter(pk__in=edu_rows).delete()
    return True


def reset_backoff(destination: str) -> bool:
    """The destination was heard from: retry at once. True when it was backing off."""
    return FederationDestination.objects.filter(destination=destination, failures__gt=0).update(
        failures=0, retry_at_ms=None) == 1
