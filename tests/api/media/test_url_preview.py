"""URL previews: GET /_matrix/client/v1/media/preview_url and the deprecated /_matrix/media/v3/preview_url,
against a plain HTTP server on loopback: OpenGraph tags and their fallbacks, the image stored as local
media, the hour-long cache, the IP and URL blacklists (redirects included), size and error handling,
and previews switched off; plus the configuration keys."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest

from apps.core.errors import Codes
from apps.media import previews
from hsproject.config import ConfigError
from hsproject.config.sections import build
from tests.api.media.helpers import AUTHED, LEGACY, fetch, image_bytes
from tests.federation_support import LoopbackServer

PNG = image_bytes("PNG", 64, 48)

PAGE = b"""<!DOCTYPE html><html><head>
<meta charset="utf-8">
<title>Fallback title</title>
<meta property="og:title" content="Caf\xc3\xa9 &amp; Cr\xc3\xa8me">
<meta property="og:description" content="A page with OpenGraph tags">
<meta property="og:image" content="/img.png">
<meta property="og:image:width" content="999">
<meta property="og:site_name" content="Loopback">
</head><body><img src="/other.png"><p>Hello</p></body></html>"""


def route(status: int, content_type: str | None, body: bytes, extra: dict | None = None):
    def handler(_rec):
        headers = {"Content-Type": content_type} if content_type else {}
        return status, {**headers, **(extra or {})}, body
    return handler


@pytest.fixture
def site():
    server = LoopbackServer(None)
    server.routes.update({
        "/page": route(200, "text/html; charset=utf-8", PAGE),
        "/img.png": route(200, "image/png", PNG),
    })
    server.base = f"http://127.0.0.1:{server.port}"
    yield server
    server.close()


@pytest.fixture
def enabled(media_config):
    # The whitelist reopens the one loopback address the test server listens on.
    media_config(url_preview_enabled=True, url_preview_ip_range_blacklist=("127.0.0.0/8", "10.0.0.0/8"),
                 url_preview_ip_range_whitelist=("127.0.0.1/32",))


def preview(client, url: str, *, base: str = AUTHED, token: str | None = "default", **params):
    query = urlencode({"url": url, **params}) if url is not None else urlencode(params)
    return fetch(client, f"{base}/preview_url?{query}", token=token)


def assert_error(fetched, status: int, errcode: str) -> None:
    assert fetched.status_code == status, (fetched.status_code, fetched.body[:300])
    assert fetched.json["errcode"] == errcode, fetched.json
    assert isinstance(fetched.json["error"], str)


def hits(server, path: str) -> int:
    return sum(1 for r in server.requests if r.path == path)


def test_opengraph_page_preview_with_image_as_mxc(alice, bob, enabled, site):
    got = preview(alice, f"{site.base}/page")
    assert got.status_code == 200, got.body
    og = got.json
    image = og.pop("og:image")
    assert og == {
        "og:title": "Café & Crème",
        "og:description": "A page with OpenGraph tags",
        "og:site_name": "Loopback",
        "og:image:type": "image/png",
        "og:image:width": 64,  # the real size, not the page's claim
        "og:image:height": 48,
        "matrix:image:size": len(PNG),
    }
    assert image.startswith("mxc://test.local/")
    downloaded = fetch(bob, f"{AUTHED}/download/test.local/{image.split('/')[-1]}")
    assert downloaded.status_code == 200 and downloaded.body == PNG
    assert downloaded["Content-Type"] == "image/png"
    page_request = next(r for r in site.requests if r.path == "/page")
    assert "URL preview" in page_request.headers["user-agent"]


def test_cached_preview_is_not_fetched_again(alice, bob, enabled, site):
    first = preview(alice, f"{site.base}/page")
    assert first.status_code == 200
    second = preview(bob, f"{site.base}/page", ts=previews.handlers.now_ms())
    legacy = preview(bob, f"{site.base}/page", base=LEGACY)
    assert second.json == first.json == legacy.json
    assert hits(site, "/page") == 1 and hits(site, "/img.png") == 1


def test_expired_preview_is_fetched_again(alice, enabled, site):
    assert preview(alice, f"{site.base}/page").status_code == 200
    previews.UrlPreview.objects.update(expires_ts=previews.handlers.now_ms() - 1)
    assert preview(alice, f"{site.base}/page").status_code == 200
    assert hits(site, "/page") == 2
    assert previews.UrlPreview.objects.count() == 1  # the expired row of the URL went
    assert previews.expire_url_cache(previews.handlers.now_ms() + previews.CACHE_MS + 1) == 1


def test_fallbacks_title_description_first_image(alice, enabled, site):
    site.routes["/plain.html"] = route(200, "text/html", (
        b"<html><head><title>\n  Plain   page </title><meta name='description' content='Described'>"
        b"<svg><title>not this</title></svg></head><body><img alt='x'><img src='img.png'></body></html>"))
    og = preview(alice, f"{site.base}/plain.html").json
    assert og["og:title"] == "Plain page"
    assert og["og:description"] == "Described"
    assert og["og:image"].startswith("mxc://test.local/") and og["matrix:image:size"] == len(PNG)


def test_charset_from_meta_tag(alice, enabled, site):
    site.routes["/latin1"] = route(200, "text/html",
                                   b"<meta charset='iso-8859-1'><title>Caf\xe9</title>")
    assert preview(alice, f"{site.base}/latin1").json == {"og:title": "Café"}


def test_image_url_previews_as_the_image(alice, enabled, site):
    og = preview(alice, f"{site.base}/img.png").json
    assert og["og:image:type"] == "image/png"
    assert (og["og:image:width"], og["og:image:height"], og["matrix:image:size"]) == (64, 48, len(PNG))
    assert og["og:image"].startswith("mxc://test.local/")


def test_text_plain_gives_an_empty_preview(alice, enabled, site):
    site.routes["/notes.txt"] = route(200, "text/plain", b"<title>not html</title>")
    got = preview(alice, f"{site.base}/notes.txt")
    assert got.status_code == 200 and got.json == {}


def test_broken_image_leaves_no_image_keys(alice, enabled, site):
    site.routes["/noimg"] = route(200, "text/html", b"<meta property='og:title' content='T'>"
                                  b"<meta property='og:image' content='/missing.png'>"
                                  b"<meta property='og:image:width' content='10'>")
    assert preview(alice, f"{site.base}/noimg").json == {"og:title": "T"}


def test_blacklisted_address_is_refused(alice, media_config, site):
    media_config(url_preview_enabled=True, url_preview_ip_range_blacklist=("127.0.0.1/32",))
    assert_error(preview(alice, f"{site.base}/page"), 403, Codes.FORBIDDEN)
    assert site.requests == []


def test_federation_ranges_do_not_apply(alice, media_config, site, settings):
    # The test settings blacklist everything but loopback for federation; previews use their own ranges.
    media_config(url_preview_enabled=True, url_preview_ip_range_blacklist=())
    settings.HS = settings.HS.replace(ip_range_blacklist=("127.0.0.0/8",), ip_range_whitelist=())
    assert preview(alice, f"{site.base}/page").status_code == 200


def test_redirects_are_followed_and_checked(alice, media_config, site):
    media_config(url_preview_enabled=True, url_preview_ip_range_blacklist=(),
                 url_preview_url_blacklist=((("path", "/secret*"),),))
    site.routes["/moved"] = route(302, None, b"", {"Location": "/page"})
    site.routes["/sneaky"] = route(301, None, b"", {"Location": f"{site.base}/secret/area"})
    site.routes["/secret/area"] = route(200, "text/html", b"<title>secret</title>")
    assert preview(alice, f"{site.base}/moved").json["og:title"] == "Café & Crème"
    assert_error(preview(alice, f"{site.base}/sneaky"), 403, Codes.FORBIDDEN)
    assert hits(site, "/secret/area") == 0
    site.routes["/loop"] = route(302, None, b"", {"Location": "/loop"})
    assert_error(preview(alice, f"{site.base}/loop"), 502, Codes.UNKNOWN)


@pytest.mark.parametrize("entry", [
    (("netloc", "127.0.0.1:*"),),
    (("hostname", "^127\\.0\\.0\\.\\d+$"), ("path", "/page")),
    (("scheme", "http"),),
])
def test_url_blacklist_refuses_before_fetching(alice, media_config, site, entry):
    media_config(url_preview_enabled=True, url_preview_ip_range_blacklist=(), url_preview_url_blacklist=(entry,))
    assert_error(preview(alice, f"{site.base}/page"), 403, Codes.FORBIDDEN)
    assert site.requests == []


def test_url_blacklist_entry_needs_every_part_to_match(alice, media_config, site):
    media_config(url_preview_enabled=True, url_preview_ip_range_blacklist=(),
                 url_preview_url_blacklist=((("hostname", "127.0.0.1"), ("path", "/elsewhere")),))
    assert preview(alice, f"{site.base}/page").status_code == 200


def test_oversized_page_is_refused(alice, enabled, media_config, site):
    media_config(max_spider_size=1000)
    site.routes["/big"] = route(200, "text/html", b"<title>big</title>" + b"x" * 5000)
    assert_error(preview(alice, f"{site.base}/big"), 502, Codes.TOO_LARGE)
    assert previews.UrlPreview.objects.count() == 0


class _ChunkedHandler(BaseHTTPRequestHandler):
    """Sends an endless-looking HTML body in chunks, with no Content-Length to refuse it by."""

    protocol_version = "HTTP/1.1"
    delay = 0.0  # seconds between chunks

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for _ in range(200):
                time.sleep(self.delay)
                chunk = b"<p>" + b"y" * 1000 + b"</p>"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the reader stopped early, as it should


def _serve_chunked(handler) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_oversized_chunked_page_is_cut_off(alice, enabled, media_config):
    media_config(max_spider_size=5000)
    httpd = _serve_chunked(_ChunkedHandler)
    try:
        assert_error(preview(alice, f"http://127.0.0.1:{httpd.server_address[1]}/"), 502, Codes.TOO_LARGE)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_trickling_download_is_abandoned(alice, enabled, monkeypatch):
    monkeypatch.setattr(previews, "FETCH_DEADLINE_S", 0.3)
    httpd = _serve_chunked(type("Slow", (_ChunkedHandler,), {"delay": 0.05}))
    try:
        started = time.monotonic()
        assert_error(preview(alice, f"http://127.0.0.1:{httpd.server_address[1]}/"), 502, Codes.UNKNOWN)
        assert time.monotonic() - started < 3  # all 200 chunks would take 10 s
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cached_preview_query_count(alice, enabled, site, django_assert_max_num_queries):
    first = preview(alice, f"{site.base}/page")
    with django_assert_max_num_queries(2):
        assert preview(alice, f"{site.base}/page").json == first.json


def test_oversized_image_is_left_out(alice, enabled, media_config, site):
    media_config(max_spider_size=len(PAGE) + 10)
    site.routes["/img.png"] = route(200, "image/png", PNG + b"\0" * len(PAGE))
    og = preview(alice, f"{site.base}/page").json
    assert og["og:title"] == "Café & Crème" and "og:image" not in og and "matrix:image:size" not in og


def test_fetch_failures_are_502(alice, enabled, site):
    assert_error(preview(alice, f"{site.base}/nowhere"), 502, Codes.UNKNOWN)  # the server's 404
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    assert_error(preview(alice, f"http://127.0.0.1:{closed_port}/"), 502, Codes.UNKNOWN)


def test_bad_requests(alice, enabled, site):
    assert_error(preview(alice, None), 400, Codes.MISSING_PARAM)
    for url in ("ftp://127.0.0.1/x", "javascript:alert(1)", "http:///nohost", "http://127.0.0.1:99999/"):
        assert_error(preview(alice, url), 400, Codes.INVALID_PARAM)
    assert_error(preview(alice, f"{site.base}/page", ts="soon"), 400, Codes.INVALID_PARAM)


def test_names_are_not_resolved_in_tests(alice, enabled):
    # outbound_name_resolution is off in the test settings: a name is refused before any lookup.
    assert_error(preview(alice, "http://example.invalid/"), 403, Codes.FORBIDDEN)


def test_access_token_required(mx, enabled, site):
    for base in (AUTHED, LEGACY):
        assert_error(preview(mx, f"{site.base}/page", base=base, token=None), 401, Codes.MISSING_TOKEN)
    assert site.requests == []


def test_disabled_previews_are_unrecognized(alice, mx, site):
    for base in (AUTHED, LEGACY):
        assert_error(preview(alice, f"{site.base}/page", base=base), 404, Codes.UNRECOGNIZED)
        assert_error(preview(mx, f"{site.base}/page", base=base, token=None), 404, Codes.UNRECOGNIZED)
    assert site.requests == []


# --- configuration ----------------------------------------------------------------------------------------

def config(**keys):
    return build({"server_name": "example.org", "form_secret": "s", **keys}, embedded=False,
                 data_directory=Path("/tmp/hs-preview-config-test"))


def test_config_requires_the_ip_blacklist_when_enabled():
    with pytest.raises(ConfigError) as info:
        config(url_preview_enabled=True)
    assert info.value.key == "url_preview_ip_range_blacklist"
    assert config(url_preview_enabled=False).media.url_preview_enabled is False


def test_config_reads_the_preview_keys():
    media = config(url_preview_enabled=True, url_preview_ip_range_blacklist=["10.0.0.0/8"],
                   url_preview_ip_range_whitelist=["10.1.0.0/16"], max_spider_size="1M",
                   url_preview_url_blacklist=[{"netloc": "*.example.com"}, {"scheme": "http", "port": 8080}]).media
    assert media.url_preview_ip_range_blacklist == ("10.0.0.0/8",)
    assert media.url_preview_ip_range_whitelist == ("10.1.0.0/16",)
    assert media.max_spider_size == 1024 * 1024
    assert media.url_preview_url_blacklist == ((("netloc", "*.example.com"),), (("scheme", "http"), ("port", "8080")))
    assert config().media.max_spider_size == 10 * 1024 * 1024


@pytest.mark.parametrize("keys, key", [
    ({"url_preview_ip_range_blacklist": ["not-a-range"]}, "url_preview_ip_range_blacklist[0]"),
    ({"url_preview_ip_range_whitelist": ["10.0.0.0/33"]}, "url_preview_ip_range_whitelist[0]"),
    ({"url_preview_url_blacklist": {"netloc": "x"}}, "url_preview_url_blacklist"),
    ({"url_preview_url_blacklist": [{"host": "x"}]}, "url_preview_url_blacklist[0].host"),
    ({"url_preview_url_blacklist": [{"path": "^(unclosed"}]}, "url_preview_url_blacklist[0].path"),
    ({"url_preview_url_blacklist": [{}]}, "url_preview_url_blacklist[0]"),
    ({"max_spider_size": "lots"}, "max_spider_size"),
])
def test_config_errors_name_the_key(keys, key):
    with pytest.raises(ConfigError) as info:
        config(**{"url_preview_enabled": True, "url_preview_ip_range_blacklist": [], **keys})
    assert info.value.key == key
