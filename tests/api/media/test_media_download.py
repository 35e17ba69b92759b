"""GET /_matrix/client/v1/media/download (authenticated) and the deprecated /_matrix/media/v3/download:
byte-identical content, safe serving headers, the freeze of new media on the legacy endpoints,
quarantine, and bad identifiers."""
from __future__ import annotations

import pytest

from apps.core.errors import Codes
from apps.media import handlers
from apps.media.models import Media
from tests.api.media.helpers import AUTHED, LEGACY, assert_fetch_error, fetch, image_bytes, upload

CSP = ("sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
       "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")


@pytest.mark.parametrize("fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_other_user_downloads_identical_bytes(alice, bob, fmt, content_type):
    data = image_bytes(fmt, 300, 200)
    media_id = upload(alice, data, content_type, filename=f"photo.{fmt.lower()}")
    got = fetch(bob, f"{AUTHED}/download/test.local/{media_id}")
    assert got.status_code == 200
    assert got.body == data
    assert got["Content-Type"] == content_type
    assert got["Content-Length"] == str(len(data))
    assert got["Content-Disposition"] == f"inline; filename=photo.{fmt.lower()}"
    assert got["Content-Security-Policy"] == CSP
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_download_with_file_name_override(alice, bob):
    media_id = upload(alice, b"hello", "text/plain", filename="a.txt")
    got = fetch(bob, f"{AUTHED}/download/test.local/{media_id}/r%C3%A9sum%C3%A9%20final.txt")
    assert got.status_code == 200 and got.body == b"hello"
    # Not a token: RFC 5987 encoding.
    assert got["Content-Disposition"] == "inline; filename*=utf-8''r%C3%A9sum%C3%A9%20final.txt"


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/javascript",
                                          "application/octet-stream"])
def test_unsafe_types_are_attachments(alice, bob, content_type):
    media_id = upload(alice, b"<script>alert(1)</script>", content_type, filename="x")
    got = fetch(bob, f"{AUTHED}/download/test.local/{media_id}")
    assert got.status_code == 200
    assert got["Content-Disposition"] == "attachment; filename=x"
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Content-Security-Policy"] == CSP


def test_authenticated_endpoints_need_a_token(alice, mx):
    media_id = upload(alice, image_bytes("PNG", 50, 50))
    for path in (f"{AUTHED}/download/test.local/{media_id}", f"{AUTHED}/download/test.local/{media_id}/x.png",
                 f"{AUTHED}/thumbnail/test.local/{media_id}?width=32&height=32", f"{AUTHED}/config"):
        assert_fetch_error(fetch(mx, path, token=None), 401, Codes.MISSING_TOKEN)
        assert_fetch_error(fetch(mx, path, token="not-a-token"), 401, Codes.UNKNOWN_TOKEN)


def test_new_media_are_frozen_on_legacy_endpoints(alice, mx):
    media_id = upload(alice, image_bytes("PNG", 50, 50))
    for prefix in (LEGACY, "/_matrix/media/r0"):
        assert_fetch_error(fetch(mx, f"{prefix}/download/test.local/{media_id}", token=None), 404, Codes.NOT_FOUND)
        assert_fetch_error(fetch(mx, f"{prefix}/thumbnail/test.local/{media_id}?width=32&height=32", token=None),
                           404, Codes.NOT_FOUND)


def test_media_from_before_the_freeze_stay_on_legacy_endpoints(alice, mx, media_config):
    media_config(enable_authenticated_media=False)
    data = image_bytes("PNG", 50, 50)
    media_id = upload(alice, data)
    assert Media.objects.get(media_id=media_id).authenticated is False
    media_config(enable_authenticated_media=True)
    got = fetch(mx, f"{LEGACY}/download/test.local/{media_id}", token=None)
    assert got.status_code == 200 and got.body == data
    assert got["Content-Security-Policy"] == CSP
    thumb = fetch(mx, f"{LEGACY}/thumbnail/test.local/{media_id}?width=32&height=32&method=crop", token=None)
    assert thumb.status_code == 200 and thumb.image().size == (32, 32)
    named = fetch(mx, f"{LEGACY}/download/test.local/{media_id}/pic.png", token=None)
    assert named.status_code == 200 and named["Content-Disposition"] == "inline; filename=pic.png"


def test_quarantine_hides_media(alice, bob):
    media_id = upload(alice, image_bytes("PNG", 50, 50))
    assert handlers.quarantine([media_id], by="@admin:test.local") == 1
    assert_fetch_error(fetch(bob, f"{AUTHED}/download/test.local/{media_id}"), 404, Codes.NOT_FOUND)
    assert_fetch_error(fetch(bob, f"{AUTHED}/thumbnail/test.local/{media_id}?width=32&height=32"),
                       404, Codes.NOT_FOUND)
    handlers.unquarantine([media_id])
    assert fetch(bob, f"{AUTHED}/download/test.local/{media_id}").status_code == 200


def test_safe_from_quarantine(alice):
    media_id = upload(alice, b"x", "text/plain")
    Media.objects.filter(media_id=media_id).update(safe_from_quarantine=True)
    assert handlers.quarantine([media_id], by="@admin:test.local") == 0
    assert fetch(alice, f"{AUTHED}/download/test.local/{media_id}").status_code == 200


def test_delete_removes_files_not_shared(alice, bob, settings):
    data = image_bytes("PNG", 64, 64)
    a, b = upload(alice, data), upload(bob, data)
    store = settings.HS.media_store_path
    files_before = {p for p in store.rglob("*") if p.is_file()}
    handlers.delete_media(Media.objects.get(media_id=a))
    assert {p for p in store.rglob("*") if p.is_file()} == files_before  # still used by b
    handlers.delete_media(Media.objects.get(media_id=b))
    assert [p for p in store.rglob("*") if p.is_file()] == []
    assert_fetch_error(fetch(alice, f"{AUTHED}/download/test.local/{a}"), 404, Codes.NOT_FOUND)


@pytest.mark.parametrize("path, status, errcode", [
    (f"{AUTHED}/download/test.local/doesnotexist", 404, Codes.NOT_FOUND),
    # An encoded "/" is decoded before routing: no row matches, so never a path into the store.
    (f"{AUTHED}/download/test.local/..%2F..%2Fetc%2Fpasswd", 404, Codes.UNRECOGNIZED),
    (f"{AUTHED}/download/..%2F/abc", 404, Codes.UNRECOGNIZED),
    (f"{AUTHED}/download/test.local/abc.def", 404, Codes.NOT_FOUND),
    (f"{AUTHED}/download/bad%20server!/abc", 400, Codes.INVALID_PARAM),
    (f"{AUTHED}/download/under_score.example/abc", 400, Codes.INVALID_PARAM),
    (f"{AUTHED}/thumbnail/test.local/doesnotexist?width=32&height=32", 404, Codes.NOT_FOUND),
    # A remote server this one cannot reach (tests refuse every outside host): the fetch fails.
    (f"{AUTHED}/download/other.example/abcdef", 502, Codes.UNKNOWN),
    (f"{AUTHED}/thumbnail/other.example/abcdef?width=32&height=32", 502, Codes.UNKNOWN),
    # The deprecated endpoints never fetch for a client (authenticated media freeze).
    ("/_matrix/media/v3/download/other.example/abcdef", 404, Codes.NOT_FOUND),
    (f"{AUTHED}/download/test.local/abc?timeout_ms=banana", 400, Codes.INVALID_PARAM),
])
def test_bad_ids_are_client_errors(alice, path, status, errcode):
    assert_fetch_error(fetch(alice, path), status, errcode)


def test_last_access_is_recorded(alice):
    media_id = upload(alice, b"x", "text/plain")
    assert Media.objects.get(media_id=media_id).last_access_ts is None
    fetch(alice, f"{AUTHED}/download/test.local/{media_id}")
    assert Media.objects.get(media_id=media_id).last_access_ts is not None


def test_retention_deletes_unused_local_media(alice, media_config):
    media_config(local_media_lifetime_ms=1000)
    old = upload(alice, b"old", "text/plain")
    kept = upload(alice, b"kept", "text/plain")
    Media.objects.filter(media_id=old).update(created_ts=1)
    Media.objects.filter(media_id=kept).update(created_ts=1, safe_from_quarantine=True)
    assert handlers.apply_media_retention() == 1
    assert list(Media.objects.values_list("media_id", flat=True)) == [kept]


def test_asgi_download_streams_in_chunks(alice, bob):
    # Under ASGI the file is sent by an asynchronous iterator (a synchronous one would be read whole).
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    data = bytes(range(256)) * 1024  # 256 KiB: several chunks
    media_id = upload(alice, data, "application/octet-stream")

    async def get():
        resp = await AsyncClient().get(f"{AUTHED}/download/test.local/{media_id}",
                                       headers={"Authorization": f"Bearer {bob.token}"})
        assert resp.is_async
        chunks = [c async for c in resp.streaming_content]
        return resp, chunks

    resp, chunks = async_to_sync(get)()
    assert resp.status_code == 200 and len(chunks) > 1 and b"".join(chunks) == data
    assert resp["Content-Disposition"] == "attachment"
