"""Third-party networks (client-server API, "Third-party Networks"; application-service API, "Third-party
networks"): the homeserver asks the application services that declared a protocol in their registration
(`protocols`) and merges their answers.

    GET /thirdparty/protocols                 getProtocols            every declared protocol's metadata
    GET /thirdparty/protocol/{protocol}       getProtocolMetadata
    GET /thirdparty/location/{protocol}       queryLocationByProtocol  portal rooms for fields
    GET /thirdparty/user/{protocol}           queryUserByProtocol      Matrix users for fields
    GET /thirdparty/location?alias=           queryLocationByAlias     every service asked
    GET /thirdparty/user?userid=              queryUserByID            every service asked

Each instance of a protocol gets an `instance_id`, "<appservice id>|<network_id>" (Synapse's form), the
value clients pass as publicRooms' `third_party_instance_id`.
"""
from __future__ import annotations

from urllib.parse import quote

from apps.core.errors import Codes, MatrixError

from . import client, registry


def _services_for(protocol: str):
    return [s for s in registry.services() if s.url is not None and protocol in s.protocols]


def _metadata(protocol: str) -> dict | None:
    merged: dict | None = None
    for service in _services_for(protocol):
        answer = client.thirdparty_get(service, f"protocol/{quote(protocol, safe='')}")
        if not isinstance(answer, dict):
            continue
        instances = []
        for inst in answer.get("instances") or []:
            if isinstance(inst, dict):
                inst = dict(inst)
                if isinstance(inst.get("network_id"), str):
                    inst["instance_id"] = f"{service.id}|{inst['network_id']}"
                instances.append(inst)
        if merged is None:
            merged = {**answer, "instances": instances}
        else:
            merged["instances"].extend(instances)
    return merged


def protocols() -> dict:
    names = sorted({p for s in registry.services() if s.url is not None for p in s.protocols})
    out = {}
    for name in names:
        meta = _metadata(name)
        if meta is not None:
            out[name] = meta
    return out


def protocol(name: str) -> dict:
    meta = _metadata(name)
    if meta is None:
        raise MatrixError(Codes.NOT_FOUND, "The protocol is unknown", 404)
    return meta


def _collect(services, path: str, params: dict[str, str], what: str) -> list:
    found: list = []
    for service in services:
        answer = client.thirdparty_get(service, path, params)
        if isinstance(answer, list):
            found.extend(a for a in answer if isinstance(a, dict))
    if not found:
        raise MatrixError(Codes.NOT_FOUND, f"No {what} found", 404)
    return found


def locations_by_protocol(name: str, fields: dict[str, str]) -> list:
    if not _services_for(name):
        raise MatrixError(Codes.NOT_FOUND, "The protocol is unknown", 404)
    return _collect(_services_for(name), f"location/{quote(name, safe='')}", fields, "portal rooms")


def users_by_protocol(name: str, fields: dict[str, str]) -> list:
    if not _services_for(name):
        raise MatrixError(Codes.NOT_FOUND, "The protocol is unknown", 404)
    return _collect(_services_for(name), f"user/{quote(name, safe='')}", fields, "users")


def locations_by_alias(alias: str) -> list:
    return _collect([s for s in registry.services() if s.url is not None], "location", {"alias": alias},
                    "third-party locations")


def users_by_id(user_id: str) -> list:
    return _collect([s for s in registry.services() if s.url is not None], "user", {"userid": user_id},
                    "third-party users")
