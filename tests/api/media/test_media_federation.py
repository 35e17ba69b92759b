"""Media over federation: this server's media served to other servers (signed requests, multipart
answers), and other servers' media fetched (federation endpoint, its Location form, the deprecated
endpoint as fallback), cached, thumbnailed and refused when too large or unknown.

Remote servers are TLS servers on 127.0.0.1 (tests/federation_support.py) named by IP literal and port.
"""
from __future__ import annotations

import email.parser
import email.policy
from urllib.parse import quote

import pytest

from apps.core.errors import Codes
from apps.media.models import Media
from tests.api.federation.remote import FakeRemote
from tests.api.media.helpers import AUTHED, assert_fetch_error, fetch, image_bytes, upload
from tests.federation_support import federation_tls, test_ca, tls_server  # noqa: F401

FED_MEDIA = "/_matrix/federation/v1/media"
PNG = image_bytes("PNG", 120, 80)


def multipart(body: bytes, media_type: str = "image/png", *, filename: str | None = "cat.png",
              location: str | None = None) -> tuple[int, dict, bytes]:
    boundary = "b0undary"
    second = f"Location: {location}\r\n\r\n".encode() if location else (
        f"Content-Type: {media_type}\r\n"
        + (f"Content-Disposition: inline; filename={filename}\r\n" if filename else "") + "\r\n").encode() + body
    payload = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{boundary}\r\n".encode()
               + second + f"\r\n--{boundary}--\r\n".encode())
    return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, payload


def signed_get(remote: FakeRemote, path: str, query: dict | None = None, *, sign: bool = True):
    """A GET of `remote` whose answer may stream (FakeRemote.request reads `.content`)."""
    from urllib.parse import urlencode

    from django.conf import settings

    from apps.federation import transport_auth

    uri = path + ("?" + urlencode(query) if query else "")
    extra = {}
    if sign:
        extra["HTTP_AUTHORIZATION"] = transport_auth.authorization_header(
            "GET", uri, settings.HS.server_name, None, origin=remote.server_name, key=remote.key)
    return remote.http.get(uri, **extra)


def error_of(resp) -> str:
    import json

    return json.loads(resp.content)["errcode"]


def parse_multipart(resp) -> list:
    raw = b"Content-Type: " + resp["Content-Type"].encode() + b"\r\n\r\n" + b"".join(resp.streaming_content)
    return list(email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw).iter_parts())


# --- serving our media to other servers ----------------------------------------------------------------

def test_other_servers_download_our_media_as_multipart(alice):
    media_id = upload(alice, PNG, "image/png", filename="cat.png")
    remote = FakeRemote("remote.test")
    resp = signed_get(remote, f"{FED_MEDIA}/download/{media_id}")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("multipart/mixed; boundary=")
    meta, media = parse_multipart(resp)
    assert meta.get_content_type() == "application/json" and meta.get_payload(decode=True) == b"{}"
    assert media.get_content_type() == "image/png" and media.get_payload(decode=True) == PNG
    assert "cat.png" in media["Content-Disposition"]


def test_other_servers_get_thumbnails(alice):
    media_id = upload(alice, PNG, "image/png")
    resp = signed_get(FakeRemote("remote.test"), f"{FED_MEDIA}/thumbnail/{media_id}",
                      {"width": 32, "height": 32, "method": "crop"})
    assert resp.status_code == 200
    _, thumb = parse_multipart(resp)
    assert thumb.get_content_type() in ("image/png", "image/jpeg") and thumb.get_payload(decode=True)[:4]


def test_federation_media_needs_a_signed_request_and_known_media(alice):
    media_id = upload(alice, PNG, "image/png")
    remote = FakeRemote("remote.test")
    unsigned = signed_get(remote, f"{FED_MEDIA}/download/{media_id}", sign=False)
    assert unsigned.status_code == 401 and error_of(unsigned) == Codes.UNAUTHORIZED
    missing = signed_get(remote, f"{FED_MEDIA}/download/nosuchmedia")
    assert missing.status_code == 404 and error_of(missing) == Codes.NOT_FOUND
    bad = signed_get(remote, f"{FED_MEDIA}/thumbnail/{media_id}", {"width": 32})
    assert bad.status_code == 400 and error_of(bad) == Codes.MISSING_PARAM


# --- fetching other servers' media -----------------------------------------------------------------------

@pytest.fixture
def origin(tls_server):  # noqa: F811
    return tls_server()


def test_remote_media_is_fetched_once_and_served_from_the_cache(alice, origin):
    origin.routes[f"{FED_MEDIA}/download/abc"] = lambda rec: multipart(PNG)
    first = fetch(alice, f"{AUTHED}/download/{origin.server_name}/abc")
    assert first.status_code == 200, first.body[:300]
    assert first.body == PNG and first.headers["Content-Type"] == "image/png"
    assert "cat.png" in first.headers["Content-Disposition"]
    # The request was signed by this server.
    assert origin.requests[0].headers["authorization"].startswith("X-Matrix ")
    again = fetch(alice, f"{AUTHED}/download/{origin.server_name}/abc")
    assert again.body == PNG and len(origin.requests) == 1
    cached = Media.objects.get(origin=origin.server_name, media_id="abc")
    assert cached.is_remote and cached.mxc_uri == f"mxc://{origin.server_name}/abc"
    # Thumbnails of a remote image are made here.
    thumb = fetch(alice, f"{AUTHED}/thumbnail/{origin.server_name}/abc?width=32&height=32&method=scale")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] in ("image/png", "image/jpeg")
    assert len(origin.requests) == 1


def test_remote_media_behind_a_location(alice, origin):
    from tests.federation_support import LoopbackServer

    files = LoopbackServer(None)  # where the origin keeps its files (plain HTTP, on loopback too)
    try:
        files.routes["/files/abc"] = lambda rec: (200, {"Content-Type": "text/plain",
                                                         "Content-Disposition": "attachment; filename=notes.txt"},
                                                  b"hello from elsewhere")
        origin.routes[f"{FED_MEDIA}/download/loc"] = lambda rec: multipart(
            b"", location=f"http://127.0.0.1:{files.port}/files/abc")
        got = fetch(alice, f"{AUTHED}/download/{origin.server_name}/loc")
        assert got.status_code == 200, got.body[:300]
        assert got.body == b"hello from elsewhere" and got.headers["Content-Type"].startswith("text/plain")
        assert Media.objects.get(origin=origin.server_name, media_id="loc").upload_name == "notes.txt"
    finally:
        files.close()


def test_remote_media_from_an_origin_without_authenticated_media(alice, origin):
    legacy = f"/_matrix/media/v3/download/{quote(origin.server_name, safe='')}/old"
    origin.routes[legacy] = lambda rec: (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 legacy")
    got = fetch(alice, f"{AUTHED}/download/{origin.server_name}/old")
    assert got.status_code == 200, got.body[:300]
    assert got.body == b"%PDF-1.4 legacy"
    paths = [r.path for r in origin.requests]
    assert paths[0].startswith(f"{FED_MEDIA}/download/old") and paths[1].startswith(legacy)
    assert "allow_remote=false" in paths[1]


def test_unknown_and_too_large_remote_media(alice, origin, hs_config):
    origin.routes[f"{FED_MEDIA}/download/gone"] = lambda rec: (404, {}, {"errcode": "M_NOT_FOUND", "error": "no"})
    assert_fetch_error(fetch(alice, f"{AUTHED}/download/{origin.server_name}/gone"), 404, Codes.NOT_FOUND)
    hs_config(max_upload_size=100)
    origin.routes[f"{FED_MEDIA}/download/big"] = lambda rec: multipart(b"x" * 1000, "application/octet-stream")
    assert_fetch_error(fetch(alice, f"{AUTHED}/download/{origin.server_name}/big"), 502, Codes.TOO_LARGE)
    assert not Media.objects.filter(origin=origin.server_name).exists()


def test_an_unreachable_origin_is_a_502(alice, origin):
    origin.routes[f"{FED_MEDIA}/download/err"] = lambda rec: (500, {}, {"errcode": "M_UNKNOWN", "error": "boom"})
    assert_fetch_error(fetch(alice, f"{AUTHED}/download/{origin.server_name}/err"), 502, Codes.UNKNOWN)
