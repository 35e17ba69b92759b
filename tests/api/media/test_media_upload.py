"""POST /_matrix/media/v3/upload, POST /_matrix/media/v1/create + PUT .../upload/{serverName}/{mediaId},
GET .../config: limits, rate limits, ownership, one upload per ID, expiry, and authentication."""
from __future__ import annotations

import pytest
from django.conf import settings

from apps.core.errors import Codes
from apps.media.models import Media
from apps.media.storage import get_storage
from hsproject.config.sections import RateLimit
from tests.api.media.helpers import AUTHED, CREATE, LEGACY, UPLOAD, assert_fetch_error, fetch, image_bytes, upload
from tests.conftest import assert_error


def test_upload_returns_mxc_and_stores_row(alice):
    data = image_bytes("PNG", 40, 30)
    media_id = upload(alice, data, "image/png", filename="cat.png")
    media = Media.objects.get(media_id=media_id)
    assert media.user_id == alice.user_id
    assert (media.media_type, media.media_length, media.upload_name) == ("image/png", len(data), "cat.png")
    assert media.authenticated and not media.is_pending
    assert get_storage().exists(media.sha256)


def test_identical_uploads_share_one_file(alice, bob):
    data = image_bytes("PNG", 20, 20)
    a, b = upload(alice, data), upload(bob, data)
    assert a != b
    rows = Media.objects.filter(media_id__in=[a, b])
    assert len({m.sha256 for m in rows}) == 1
    blobs = [p for p in settings.HS.media_store_path.rglob("*") if p.is_file() and p.parent.name != "tmp"]
    # One file per distinct content (the original and its thumbnails), not one per upload.
    media = Media.objects.get(media_id=a)
    assert len(blobs) == len({media.sha256, *media.thumbnails.values_list("sha256", flat=True)})
    assert media.thumbnails.count() == Media.objects.get(media_id=b).thumbnails.count() > 0


def test_upload_without_content_type_is_octet_stream(alice):
    resp = alice.http.generic("POST", UPLOAD, data=b"abc", content_type="",
                              HTTP_AUTHORIZATION=f"Bearer {alice.token}")
    assert resp.status_code == 200
    media_id = resp.json()["content_uri"].rsplit("/", 1)[1]
    assert Media.objects.get(media_id=media_id).media_type == "application/octet-stream"


def test_oversized_upload_is_too_large(alice, hs_config):
    hs_config(max_upload_size=1000)
    resp = alice.request("POST", UPLOAD, raw=b"x" * 1001, content_type="application/octet-stream")
    assert_error(resp, 413, Codes.TOO_LARGE)
    assert not Media.objects.exists()
    assert upload(alice, b"x" * 1000, "application/octet-stream")


def test_oversized_stream_without_declared_length_is_too_large(alice, hs_config):
    # A chunked body (ASGI) declares no length: the limit holds while streaming, and nothing is kept.
    from apps.core.errors import MatrixError
    from apps.media import handlers

    hs_config(max_upload_size=100_000)
    with pytest.raises(MatrixError) as err:
        handlers.upload(alice.user_id, (b"y" * 65536 for _ in range(5)), content_type="text/plain",
                        upload_name=None)
    assert (err.value.status, err.value.errcode) == (413, Codes.TOO_LARGE)
    assert not Media.objects.exists()
    assert [p for p in settings.HS.media_store_path.rglob("*") if p.is_file()] == []


def test_large_upload_beyond_request_body_limit_is_accepted(alice):
    # max_request_body_size (2M) bounds JSON bodies; uploads go up to max_upload_size (50M).
    data = b"z" * (3 * 1024 * 1024)
    media_id = upload(alice, data, "application/octet-stream")
    got = fetch(alice, f"{AUTHED}/download/test.local/{media_id}")
    assert got.status_code == 200 and got.body == data


def test_bad_content_type_and_filename(alice):
    resp = alice.request("POST", UPLOAD + "?filename=a%0Ab", raw=b"x", content_type="text/plain")
    assert_error(resp, 400, Codes.INVALID_PARAM)


def test_upload_requires_token(mx):
    resp = mx.request("POST", UPLOAD, raw=b"x", content_type="text/plain", token=None)
    assert_error(resp, 401, Codes.MISSING_TOKEN)
    assert_error(mx.request("POST", CREATE, token=None), 401, Codes.MISSING_TOKEN)


def test_upload_rate_limited(alice, media_config):
    media_config(rc_media_create=RateLimit(0.001, 2))
    upload(alice, b"1", "text/plain")
    upload(alice, b"2", "text/plain")
    resp = alice.request("POST", UPLOAD, raw=b"3", content_type="text/plain")
    body = assert_error(resp, 429, Codes.LIMIT_EXCEEDED)
    assert body["retry_after_ms"] > 0


def test_config(alice, mx):
    for path in (f"{AUTHED}/config", f"{LEGACY}/config", "/_matrix/media/r0/config"):
        resp = alice.get(path)
        assert resp.status_code == 200 and resp.json_body == {"m.upload.size": settings.HS.max_upload_size}
        assert_error(mx.get(path, token=None), 401, Codes.MISSING_TOKEN)


# --- asynchronous uploads -------------------------------------------------------------------------------

def create(client) -> tuple[str, dict]:
    resp = client.post(CREATE)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["content_uri"].rsplit("/", 1)[1], resp.json_body


def test_async_upload_flow(alice, bob):
    media_id, body = create(alice)
    assert body["content_uri"] == f"mxc://test.local/{media_id}"
    assert body["unused_expires_at"] > 0
    path = f"{AUTHED}/download/test.local/{media_id}"
    assert_fetch_error(fetch(bob, path + "?timeout_ms=0"), 504, Codes.NOT_YET_UPLOADED)

    put = f"{UPLOAD}/test.local/{media_id}?filename=notes.txt"
    assert_error(bob.request("PUT", put, raw=b"bob's", content_type="text/plain"), 403, Codes.FORBIDDEN)
    resp = alice.request("PUT", put, raw=b"hello", content_type="text/plain")
    assert resp.status_code == 200 and resp.json_body == {}
    got = fetch(bob, path)
    assert got.status_code == 200 and got.body == b"hello"
    assert got["Content-Disposition"] == "inline; filename=notes.txt"

    again = alice.request("PUT", put, raw=b"again", content_type="text/plain")
    assert_error(again, 409, "M_CANNOT_OVERWRITE_MEDIA")


def test_async_upload_unknown_or_expired(alice):
    assert_error(alice.request("PUT", f"{UPLOAD}/test.local/nosuchmedia", raw=b"x", content_type="text/plain"),
                 404, Codes.NOT_FOUND)
    assert_error(alice.request("PUT", f"{UPLOAD}/other.example/abc", raw=b"x", content_type="text/plain"),
                 404, Codes.NOT_FOUND)
    media_id, _ = create(alice)
    Media.objects.filter(media_id=media_id).update(unused_expires_at=1)
    assert_error(alice.request("PUT", f"{UPLOAD}/test.local/{media_id}", raw=b"x", content_type="text/plain"),
                 404, Codes.NOT_FOUND)
    assert_fetch_error(fetch(alice, f"{AUTHED}/download/test.local/{media_id}"), 404, Codes.NOT_FOUND)


def test_async_upload_too_large_keeps_id_pending(alice, hs_config):
    hs_config(max_upload_size=10)
    media_id, _ = create(alice)
    resp = alice.request("PUT", f"{UPLOAD}/test.local/{media_id}", raw=b"x" * 11, content_type="text/plain")
    assert_error(resp, 413, Codes.TOO_LARGE)
    assert Media.objects.get(media_id=media_id).is_pending
    resp = alice.request("PUT", f"{UPLOAD}/test.local/{media_id}", raw=b"x" * 10, content_type="text/plain")
    assert resp.status_code == 200


def test_pending_upload_limit(alice, media_config):
    media_config(max_pending_media_uploads=2)
    create(alice)
    create(alice)
    body = assert_error(alice.post(CREATE), 429, Codes.LIMIT_EXCEEDED)
    assert body["retry_after_ms"] > 0


def test_expired_pending_uploads_are_forgotten(alice):
    from apps.media import handlers

    media_id, _ = create(alice)
    assert handlers.expire_pending_uploads(now=0) == 0
    assert handlers.expire_pending_uploads(now=2**62) == 1
    assert not Media.objects.filter(media_id=media_id).exists()


@pytest.mark.parametrize("path", ["/_matrix/media/v3/preview_url?url=https://example.org",
                                  "/_matrix/client/v1/media/preview_url?url=https://example.org"])
def test_preview_url_is_not_served_while_disabled(alice, path):
    assert_error(alice.get(path), 404, Codes.UNRECOGNIZED)


def test_download_waits_for_a_pending_upload(alice, bob, monkeypatch):
    # The upload lands while the download waits: the waiter gets the content, not M_NOT_YET_UPLOADED.
    from apps.media import handlers, stores

    media_id, _ = create(alice)
    real_lookup = stores.local_media
    polls = []

    def upload_arrives_on_first_poll(mid):
        if len(polls) == 1:  # after the initial lookup, before the first poll
            blob = handlers.get_storage().save([b"late"])
            stores.complete_pending(mid, alice.user_id, sha256=blob.sha256, length=4, media_type="text/plain",
                                    upload_name=None)
        polls.append(mid)
        return real_lookup(mid)

    monkeypatch.setattr(handlers, "PENDING_POLL_S", 0.01)
    monkeypatch.setattr(stores, "local_media", upload_arrives_on_first_poll)
    got = fetch(bob, f"{AUTHED}/download/test.local/{media_id}?timeout_ms=5000")
    assert got.status_code == 200 and got.body == b"late"
    assert len(polls) == 2  # the lookup found it pending, the first poll found it uploaded


def test_a_process_without_the_media_repository_does_not_serve_media(alice, settings):
    """`enable_media_repo: false` (the main process of a deployment with a media worker): media requests
    reaching it are unknown endpoints; a media worker serves them whatever the key says."""
    import dataclasses

    from tests.conftest import assert_error

    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers, enable_media_repo=False))
    assert_error(alice.request("POST", UPLOAD, raw=b"x", content_type="text/plain"), 404, "M_UNRECOGNIZED")
    assert_error(alice.get("/_matrix/client/v1/media/config"), 404, "M_UNRECOGNIZED")
    settings.HS = settings.HS.replace(workers=dataclasses.replace(
        settings.HS.workers, worker_app="synapse.app.media_repository", instance_name="media1"))
    assert alice.get("/_matrix/client/v1/media/config").status_code == 200
