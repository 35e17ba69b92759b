"""Every operation of the spec's client-server and server-server APIs is routed, or listed in
`tests/spec_pending.py` as not yet implemented; and nothing routed claims an operationId the spec lacks.

The spec is the checkout next to the repository (`../shared/matrix-spec`). Operations are named
`<api>/<operationId>` because a few operationIds exist in both APIs (see spec_pending.py).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from hsproject import routing
from tests.spec_pending import EXTRA_OPERATIONS, NOT_YET_IMPLEMENTED

SPEC_API = Path(__file__).resolve().parents[1].parent / "shared" / "matrix-spec" / "data" / "api"
APIS = ("client-server", "server-server")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

# Paths of the server-server API; everything else a homeserver serves belongs to the client-server API.
SERVER_SERVER_PATH = re.compile(r"^\^/(?:_matrix/federation/|_matrix/key/|\\?\.well-known/matrix/server\$)")


@lru_cache(maxsize=1)
def spec_operations() -> frozenset[str]:
    ops: set[str] = set()
    for api in APIS:
        files = sorted((SPEC_API / api).glob("*.yaml"))
        assert files, f"no OpenAPI files in {SPEC_API / api}"
        for f in files:
            doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
            for item in (doc.get("paths") or {}).values():
                for method, op in item.items():
                    if method in HTTP_METHODS and isinstance(op, dict) and op.get("operationId"):
                        ops.add(f"{api}/{op['operationId']}")
    return frozenset(ops)


def api_of(pattern: str) -> str:
    return "server-server" if SERVER_SERVER_PATH.match(pattern) else "client-server"


def routed_operations() -> dict[str, list[str]]:
    """`<api>/<operationId>` (or a bare EXTRA_OPERATIONS id) -> the `METHOD pattern`s routing it."""
    out: dict[str, list[str]] = {}
    for route in routing.all_routes():
        for method, op in route.operation_ids().items():
            if not op:
                continue
            key = op if op in EXTRA_OPERATIONS else f"{api_of(route.pattern)}/{op}"
            out.setdefault(key, []).append(f"{method} {route.pattern}")
    return out


pytestmark = pytest.mark.skipif(not SPEC_API.is_dir(), reason=f"spec checkout not found at {SPEC_API}")


def test_spec_is_read():
    ops = spec_operations()
    assert "client-server/getVersions" in ops and "server-server/getServerKey" in ops
    assert len(ops) > 150


def test_every_view_names_its_operation():
    unnamed = [f"{m} {r.pattern}" for r in routing.all_routes() for m, op in r.operation_ids().items() if not op]
    assert not unnamed, f"views without operation_id: {unnamed}"


def test_every_spec_operation_is_routed_or_pending():
    routed = set(routed_operations())
    missing = sorted(spec_operations() - routed - NOT_YET_IMPLEMENTED)
    assert not missing, ("spec operations neither routed nor listed in tests/spec_pending.py "
                         f"NOT_YET_IMPLEMENTED: {missing}")


def test_pending_list_shrinks_when_an_operation_is_routed():
    done = sorted(NOT_YET_IMPLEMENTED & set(routed_operations()))
    assert not done, f"routed now: delete these from tests/spec_pending.py NOT_YET_IMPLEMENTED: {done}"


def test_pending_list_names_only_spec_operations():
    unknown = sorted(NOT_YET_IMPLEMENTED - spec_operations())
    assert not unknown, f"not operations of the spec (typo, or gone from the spec?): {unknown}"


def test_routed_operations_are_spec_operations():
    spec = spec_operations()
    bogus = {op: where for op, where in routed_operations().items() if op not in spec and op not in EXTRA_OPERATIONS}
    assert not bogus, (f"routed operation_ids that are not spec operationIds of the API their path belongs to "
                       f"(fix the id, or add it to EXTRA_OPERATIONS if it is deliberately not a spec endpoint): "
                       f"{bogus}")


def test_extra_operations_are_not_spec_ids():
    bare = {op.split("/", 1)[1] for op in spec_operations()}
    assert not (EXTRA_OPERATIONS & bare), "a spec operationId must not be hidden in EXTRA_OPERATIONS"


def test_routing_helper_agrees():
    bare = {op.split("/", 1)[1] if "/" in op else op for op in routed_operations()}
    assert bare == routing.routed_operation_ids()


@pytest.mark.parametrize("pattern, api", [
    ("^/_matrix/federation/v1/version$", "server-server"),
    ("^/_matrix/key/v2/server$", "server-server"),
    (r"^/\.well-known/matrix/server$", "server-server"),
    (r"^/\.well-known/matrix/client$", "client-server"),
    ("^/_matrix/client/(?:r0|v3|unstable)/publicRooms$", "client-server"),
    ("^/_matrix/media/v3/download/(?P<server_name>[^/]+)/(?P<media_id>[^/]+)$", "client-server"),
])
def test_api_of(pattern, api):
    assert api_of(pattern) == api
