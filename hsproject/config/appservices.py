"""Application service registration files (`app_service_config_files`, Synapse's key).

Each file is one YAML registration (spec: application-service API, "Registration"): `id`, `url` (may be
null: no traffic is sent), `as_token`, `hs_token`, `sender_localpart`, `namespaces` (`users`, `aliases`,
`rooms`: lists of `{exclusive, regex}`), and the optional `rate_limited`, `receive_ephemeral` (also read
under MSC2409's name `de.sorunome.msc2409.push_ephemeral`) and `protocols`.

The files are read and checked when the configuration is built, so a bad registration stops the process
at start-up with a `ConfigError` naming the file and the field. The spec requires `id` and `as_token` to
be unique across services; we also refuse a shared `hs_token` (a service could not tell its requests
apart) and an `as_token` equal to another service's `hs_token`.

Namespace regexes are matched from the start of the ID (`re.match`), as Synapse does, so registrations
written for it (`@_irc_.*`, `@telegram_[0-9]+`) mean the same here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import ConfigError

NAMESPACE_KINDS = ("users", "aliases", "rooms")
MSC2409_EPHEMERAL = "de.sorunome.msc2409.push_ephemeral"
_KNOWN_KEYS = {"id", "url", "as_token", "hs_token", "sender_localpart", "namespaces", "rate_limited",
               "receive_ephemeral", MSC2409_EPHEMERAL, "protocols",
               # Accepted for Synapse compatibility, not used.
               "org.matrix.msc3202", "io.element.msc4190"}
_LOCALPART_RE = re.compile(r"[a-z0-9._=\-/+]+")


@dataclass(frozen=True)
class Namespace:
    regex: re.Pattern
    exclusive: bool

    def matches(self, value: str) -> bool:
        return self.regex.match(value) is not None


@dataclass(frozen=True)
class AppServiceRegistration:
    id: str
    url: str | None
    as_token: str
    hs_token: str
    sender_localpart: str
    users: tuple[Namespace, ...]
    aliases: tuple[Namespace, ...]
    rooms: tuple[Namespace, ...]
    rate_limited: bool
    receive_ephemeral: bool
    protocols: tuple[str, ...]
    source: str  # the file it came from, for messages

    def sender(self, server_name: str) -> str:
        return f"@{self.sender_localpart}:{server_name}"


def _where(path: str, field: str) -> str:
    return f"app_service_config_files[{path}].{field}"


def _string(path: str, raw: dict, name: str, *, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise ConfigError(_where(path, name), "is required")
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(_where(path, name), "must be a non-empty string")
    return value


def _bool(path: str, raw: dict, name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(_where(path, name), f"must be true or false, not {value!r}")
    return value


def _namespaces(path: str, raw: Any, kind: str) -> tuple[Namespace, ...]:
    key = f"namespaces.{kind}"
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(_where(path, key), "must be a list of {exclusive, regex} mappings")
    out = []
    for i, entry in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(_where(path, where), "must be a mapping with exclusive and regex")
        regex = entry.get("regex")
        if not isinstance(regex, str) or not regex:
            raise ConfigError(_where(path, f"{where}.regex"), "is required and must be a string")
        exclusive = entry.get("exclusive")
        if not isinstance(exclusive, bool):
            raise ConfigError(_where(path, f"{where}.exclusive"), "is required and must be true or false")
        try:
            compiled = re.compile(regex)
        except re.error as e:
            raise ConfigError(_where(path, f"{where}.regex"), f"{regex!r} is not a valid regular expression: {e}") \
                from None
        out.append(Namespace(compiled, exclusive))
    return tuple(out)


def parse_registration(path: str, raw: Any) -> AppServiceRegistration:
    if not isinstance(raw, dict):
        raise ConfigError(f"app_service_config_files[{path}]", "must hold a mapping (a registration)")
    unknown = sorted(k for k in raw if k not in _KNOWN_KEYS)
    if unknown:
        raise ConfigError(_where(path, unknown[0]), "unknown key (check the spelling; see docs/configuration.md)")
    service_id = _string(path, raw, "id")
    if "url" not in raw:
        # Required by the spec; null (no traffic) must be said explicitly.
        raise ConfigError(_where(path, "url"), "is required (null when the service wants no traffic)")
    url = _string(path, raw, "url", required=False)
    if url is not None and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", url):
        raise ConfigError(_where(path, "url"), f"{url!r} is not an http(s) URL")
    as_token = _string(path, raw, "as_token")
    hs_token = _string(path, raw, "hs_token")
    sender = _string(path, raw, "sender_localpart")
    if not _LOCALPART_RE.fullmatch(sender):
        raise ConfigError(_where(path, "sender_localpart"), f"{sender!r} is not a valid user ID localpart")
    namespaces = raw.get("namespaces")
    if not isinstance(namespaces, dict):
        raise ConfigError(_where(path, "namespaces"), "is required and must be a mapping of users, aliases, rooms")
    for k in namespaces:
        if k not in NAMESPACE_KINDS:
            raise ConfigError(_where(path, f"namespaces.{k}"), "unknown namespace (users, aliases or rooms)")
    protocols = raw.get("protocols") or []
    if not isinstance(protocols, list) or not all(isinstance(p, str) and p for p in protocols):
        raise ConfigError(_where(path, "protocols"), "must be a list of strings")
    ephemeral = _bool(path, raw, "receive_ephemeral", False) or _bool(path, raw, MSC2409_EPHEMERAL, False)
    return AppServiceRegistration(
        id=service_id, url=url.rstrip("/") if url else None, as_token=as_token, hs_token=hs_token,
        sender_localpart=sender,
        users=_namespaces(path, namespaces.get("users"), "users"),
        aliases=_namespaces(path, namespaces.get("aliases"), "aliases"),
        rooms=_namespaces(path, namespaces.get("rooms"), "rooms"),
        # Synapse's default: masqueraded users are rate limited unless the registration says not.
        rate_limited=_bool(path, raw, "rate_limited", True),
        receive_ephemeral=ephemeral,
        protocols=tuple(protocols),
        source=path,
    )


def load_registrations(paths: tuple[str, ...] | list[str]) -> tuple[AppServiceRegistration, ...]:
    """Read and check every registration file; duplicates across files are errors."""
    services: list[AppServiceRegistration] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                raw = yaml.safe_load(f)
        except FileNotFoundError:
            raise ConfigError("app_service_config_files", f"file {path!r} does not exist") from None
        except OSError as e:
            raise ConfigError("app_service_config_files", f"file {path!r} cannot be read: {e}") from None
        except yaml.YAMLError as e:
            raise ConfigError("app_service_config_files", f"file {path!r} is not valid YAML: {e}") from None
        services.append(parse_registration(path, raw))
    check_unique(services)
    return tuple(services)


def check_unique(services: list[AppServiceRegistration]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for s in services:
        for field, value in (("id", s.id), ("as_token", s.as_token), ("hs_token", s.hs_token),
                             ("sender_localpart", s.sender_localpart)):
            other = seen.get((field, value))
            if other is not None:
                raise ConfigError(_where(s.source, field), f"is the same as in {other}; it must be unique")
            seen[(field, value)] = s.source
    tokens_as = {s.as_token: s.source for s in services}
    for s in services:
        if s.hs_token in tokens_as:
            raise ConfigError(_where(s.source, "hs_token"),
                              f"is the as_token of {tokens_as[s.hs_token]}; every token must be distinct")
