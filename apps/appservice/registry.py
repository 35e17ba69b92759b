"""The configured application services (`settings.HS.app_services`, read and checked at start-up by
`hsproject.config.appservices`) and the namespace questions every other area asks about them.

Spec (application-service API, "Registration"): a service is *interested* in user IDs, room aliases and
room IDs matching its namespaces; an *exclusive* namespace keeps everyone else (users and other services)
from creating entities in it. Only local user IDs can be in a users namespace.
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from django.conf import settings

from apps.core.ids import is_local_id
from hsproject.config.appservices import AppServiceRegistration


def services() -> tuple[AppServiceRegistration, ...]:
    return settings.HS.app_services


@lru_cache(maxsize=4)
def _token_index(regs: tuple[AppServiceRegistration, ...]) -> dict[bytes, AppServiceRegistration]:
    return {hashlib.sha256(s.as_token.encode()).digest(): s for s in regs}


def by_as_token(token: str) -> AppServiceRegistration | None:
    regs = services()
    if not regs:
        return None
    digest = hashlib.sha256(token.encode()).digest()
    found = _token_index(regs).get(digest)
    # The dict lookup compared digests; compare the tokens themselves in constant time as well.
    if found is not None and hmac.compare_digest(found.as_token.encode(), token.encode()):
        return found
    return None


def by_id(service_id: str) -> AppServiceRegistration | None:
    return next((s for s in services() if s.id == service_id), None)


def sender_of(service: AppServiceRegistration) -> str:
    return service.sender(settings.HS.server_name)


def is_user_in_namespace(service: AppServiceRegistration, user_id: str) -> bool:
    """The service's sender, or a local user matching one of its users namespaces."""
    if user_id == sender_of(service):
        return True
    return is_local_id(user_id) and any(ns.matches(user_id) for ns in service.users)


def is_exclusive_user(service: AppServiceRegistration, user_id: str) -> bool:
    return is_local_id(user_id) and any(ns.exclusive and ns.matches(user_id) for ns in service.users)


def is_alias_in_namespace(service: AppServiceRegistration, alias: str) -> bool:
    return any(ns.matches(alias) for ns in service.aliases)


def is_exclusive_alias(service: AppServiceRegistration, alias: str) -> bool:
    return any(ns.exclusive and ns.matches(alias) for ns in service.aliases)


def is_room_in_namespace(service: AppServiceRegistration, room_id: str) -> bool:
    return any(ns.matches(room_id) for ns in service.rooms)


def exclusive_user_owners(user_id: str) -> list[AppServiceRegistration]:
    """The services holding `user_id` in an exclusive namespace (or as their sender)."""
    return [s for s in services() if user_id == sender_of(s) or is_exclusive_user(s, user_id)]


def exclusive_alias_owners(alias: str) -> list[AppServiceRegistration]:
    return [s for s in services() if is_exclusive_alias(s, alias)]


def check_user_not_exclusive(user_id: str, *, allowed: AppServiceRegistration | None = None) -> None:
    """400 M_EXCLUSIVE when another service reserved `user_id` (spec: "Server admin style permissions")."""
    from apps.core.errors import Codes, MatrixError

    if any(s is not allowed for s in exclusive_user_owners(user_id)):
        raise MatrixError(Codes.EXCLUSIVE, "This user ID is reserved by an application service.", 400)


def check_alias_not_exclusive(alias: str, *, allowed: AppServiceRegistration | None = None) -> None:
    from apps.core.errors import Codes, MatrixError

    if any(s is not allowed for s in exclusive_alias_owners(alias)):
        raise MatrixError(Codes.EXCLUSIVE, "This room alias is reserved by an application service.", 400)


def is_rate_limit_exempt(user_id: str) -> bool:
    """Whether actions of `user_id` skip the rate limits: it belongs to a service that says
    `rate_limited: false` (its sender always, as the spec's "The sender is excluded")."""
    for s in services():
        if user_id == sender_of(s):
            return True
        if not s.rate_limited and is_user_in_namespace(s, user_id):
            return True
    return False
