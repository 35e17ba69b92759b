"""URL previews (`GET /_matrix/client/v1/media/preview_url`, and the deprecated `/_matrix/media/v3/...`).

Flow: the URL is checked (http/https only; `url_preview_url_blacklist`) -> a cached preview of the last hour
is returned if there is one -> otherwise the URL is fetched with `outbound.preview_client()` (connections
checked against `url_preview_ip_range_blacklist`/`_whitelist`; redirects followed by hand so that each
hop is checked against the URL blacklist as well; at most `max_spider_size` bytes read) -> an HTML page
gives its OpenGraph tags (html.parser; fallbacks: `<title>`, meta description, first `<img>`), an image
is its own preview, anything else previews as `{}` -> the image is fetched with the same guards and stored
as local media, so `og:image` is an `mxc://` URI with `matrix:image:size` -> the preview is cached.

`build` does the network work and touches no database (the view runs it off the request thread pool);
`cached` and `save` are the database side.

Errors (documented in docs/configuration.md, `url_preview_enabled`): previews off -> 404
M_UNRECOGNIZED (as if unrouted, as Synapse); a URL or address refused by the blacklists -> 403
M_FORBIDDEN; not http(s) -> 400 M_INVALID_PARAM; unreachable, failed, non-2xx, too many redirects -> 502
M_UNKNOWN; larger than `max_spider_size` -> 502 M_TOO_LARGE.

Spec: client-server-api/modules/content_repo.md; data/api/client-server/authed-content-repo.yaml
(getUrlPreviewAuthed) and content-repo.yaml (getUrlPreview).
"""
from __future__ import annotations

import codecs
import fnmatch
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx
from django.conf import settings
from django.db import transaction

from apps.core import outbound
from apps.core.errors import Codes, MatrixError, unrecognized

from . import handlers, stores
from .models import UrlPreview
from .storage import get_storage
from .thumbnails import ThumbnailError, Thumbnailer, base_type

logger = logging.getLogger(__name__)

CACHE_MS = 3_600_000  # previews are kept an hour (as Synapse)
MAX_REDIRECTS = 5
FETCH_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
# The read timeout bounds each wait; this bounds a whole download, so a server trickling bytes cannot
# hold a thread for long.
FETCH_DEADLINE_S = 60.0
USER_AGENT = f"{outbound.USER_AGENT} (URL preview bot)"
MAX_OG_TAGS = 50  # a page with thousands of meta tags is not a preview
MAX_VALUE_LENGTH = 1000  # longer titles and descriptions are cut
HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _cfg():
    return settings.HS.media


def check_enabled() -> None:
    if not _cfg().url_preview_enabled:
        raise unrecognized("GET", "preview_url")


def forbidden(what: str) -> MatrixError:
    return MatrixError(Codes.FORBIDDEN, f"{what} is not allowed for URL previews", 403)


def fetch_failed(message: str) -> MatrixError:
    return MatrixError(Codes.UNKNOWN, message, 502)


# --- URL checks ----------------------------------------------------------------------------------------

def _part(parts: SplitResult, name: str) -> str | None:
    try:
        value = getattr(parts, name)
    except ValueError:  # `port` of a URL with an invalid port
        return None
    return None if value is None else str(value)


def url_blacklisted(url: str) -> bool:
    """`url_preview_url_blacklist` (Synapse's format): an entry matches when every URL part it names
    matches its pattern, a regular expression if it starts with `^`, else a glob."""
    parts = urlsplit(url)
    for entry in _cfg().url_preview_url_blacklist:
        matched = True
        for name, pattern in entry:
            value = _part(parts, name)
            if value is None:
                matched = False
            elif pattern.startswith("^"):
                matched = re.match(pattern, value) is not None
            else:
                matched = fnmatch.fnmatchcase(value, pattern)
            if not matched:
                break
        if matched:
            return True
    return False


def check_url(url: str) -> str:
    """The URL to fetch, or the error: http(s) with a host, not blacklisted."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise MatrixError(Codes.INVALID_PARAM, "Invalid URL", 400) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise MatrixError(Codes.INVALID_PARAM, "Only http and https URLs can be previewed", 400)
    if url_blacklisted(url):
        raise forbidden("This URL")
    return url


# --- fetching -------------------------------------------------------------------------------------------

@dataclass
class Fetched:
    url: str  # after redirects
    media_type: str  # the Content-Type header, parameters included
    body: bytes


def fetch(url: str) -> Fetched:
    """GET `url` with the preview guards, following redirects (each one checked), at most `max_spider_size`
    bytes."""
    client = outbound.preview_client()
    limit = _cfg().max_spider_size
    deadline = time.monotonic() + FETCH_DEADLINE_S
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url)
        try:
            with client.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=False,
                               headers={"User-Agent": USER_AGENT, "Accept-Language": "en",
                                        # Compressed bodies could expand far past what was counted.
                                        "Accept-Encoding": "identity"}) as resp:
                location = resp.headers.get("Location")
                if resp.is_redirect and location:
                    url = urljoin(url, location)
                    continue
                if not resp.is_success:
                    raise fetch_failed(f"The URL answered with HTTP status {resp.status_code}")
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise too_large(limit)
                body = bytearray()
                for chunk in resp.iter_bytes():  # as received: a chunk size would wait to fill it
                    body += chunk
                    if len(body) > limit:
                        raise too_large(limit)
                    if time.monotonic() > deadline:
                        raise fetch_failed("The URL took too long to download")
                return Fetched(str(resp.url), resp.headers.get("Content-Type", "application/octet-stream"),
                               bytes(body))
        except outbound.OutboundRefused as e:
            logger.info("URL preview of %s refused: %s", url, e)
            raise forbidden("This address") from None
        except httpx.HTTPError as e:
            logger.info("URL preview of %s failed: %s", url, e)
            raise fetch_failed("Could not fetch the URL") from None
    raise fetch_failed("Too many redirects")


def too_large(limit: int) -> MatrixError:
    return MatrixError(Codes.TOO_LARGE, f"The content is larger than {limit} bytes", 502)


# --- HTML -----------------------------------------------------------------------------------------------

class _PageParser(HTMLParser):
    """Collects what a preview needs: `og:*` meta tags, the meta description, `<title>`, the first
    `<img src>`. Stops caring once the body's first image is seen and the head is done."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.og: dict[str, str] = {}
        self.description: str | None = None
        self.title: str | None = None
        self.first_image: str | None = None
        self._in_title = False
        self._title_parts: list[str] = []
        self._in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip()
            content = a.get("content")
            if content is None:
                return
            if key.lower().startswith("og:") and len(self.og) < MAX_OG_TAGS:
                self.og.setdefault(key, content)  # the first of repeated tags (og:image arrays)
            elif key.lower() == "description" and self.description is None:
                self.description = content
        elif tag == "title" and self.title is None and not self._in_svg:
            self._in_title = True
        elif tag == "svg":
            self._in_svg += 1  # an <svg><title> is not the page's title
        elif tag == "img" and self.first_image is None and a.get("src"):
            self.first_image = a["src"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = " ".join("".join(self._title_parts).split())
        elif tag == "svg" and self._in_svg:
            self._in_svg -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)


def _charset(media_type: str, body: bytes) -> str:
    """The page's encoding: the Content-Type's charset, else a `<meta charset>` near the top, else UTF-8."""
    candidates = []
    match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_\-]+)", media_type, re.IGNORECASE)
    if match:
        candidates.append(match.group(1))
    match = _META_CHARSET_RE.search(body[:2048])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    for name in candidates:
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return "utf-8"


def _clip(value: str) -> str:
    value = value.strip()
    return value if len(value) <= MAX_VALUE_LENGTH else value[:MAX_VALUE_LENGTH - 1] + "…"


def parse_html(body: bytes, media_type: str, page_url: str) -> dict:
    """The OpenGraph object of a page (og:image still an http(s) URL, absolute)."""
    parser = _PageParser()
    try:
        parser.feed(body.decode(_charset(media_type, body), errors="replace"))
        parser.close()
    except Exception as e:  # html.parser is lenient; anything it still chokes on gives what was read  # noqa: BLE001
        logger.info("HTML of %s only partly parsed: %s", page_url, e)
    og = {k: _clip(v) for k, v in parser.og.items()}
    if "og:title" not in og and parser.title:
        og["og:title"] = _clip(parser.title)
    if "og:description" not in og and parser.description:
        og["og:description"] = _clip(parser.description)
    image = og.get("og:image") or parser.first_image
    # og:image:url is the same as og:image (ogp.me); og:image:secure_url is its https twin.
    image = image or og.get("og:image:url") or og.get("og:image:secure_url")
    og.pop("og:image:url", None)
    og.pop("og:image:secure_url", None)
    og.pop("og:image", None)
    if image:
        absolute = urljoin(page_url, image.strip())
        if urlsplit(absolute).scheme in ("http", "https"):
            og["og:image"] = absolute
    return og


# --- building a preview ---------------------------------------------------------------------------------

@dataclass
class Built:
    og: dict
    image: Fetched | None  # to store as local media; its mxc:// URI goes into og:image


def _is_image(fetched: Fetched) -> bool:
    return base_type(fetched.media_type).startswith("image/")


def build(url: str) -> Built:
    """Fetch `url` (and its image) and make its preview. Network only: no database access."""
    page = fetch(check_url(url))
    if _is_image(page):
        return Built({}, page)
    if base_type(page.media_type) not in HTML_TYPES:
        return Built({}, None)  # no preview for other content, as Synapse
    og = parse_html(page.body, page.media_type, page.url)
    image_url = og.pop("og:image", None)
    image = None
    if image_url:
        try:
            image = fetch(image_url)
        except MatrixError as e:
            logger.info("URL preview of %s: no image (%s)", url, e.error)
        if image is not None and not _is_image(image):
            image = None
    if image is None:
        for key in ("og:image:width", "og:image:height", "og:image:type"):
            og.pop(key, None)
    return Built(og, image)


def _store_image(image: Fetched, user_id: str, og: dict) -> str:
    """Store the image as local media of `user_id` (who asked for the preview) and describe it in `og`."""
    blob = get_storage().save([image.body])
    media_type = base_type(image.media_type)
    name = urlsplit(image.url).path.rsplit("/", 1)[-1][:255] or None
    media = stores.create_media(
        media_id=handlers.new_media_id(), user_id=user_id, media_type=media_type, media_length=blob.length,
        sha256=blob.sha256, upload_name=name, created_ts=handlers.now_ms(),
        authenticated=_cfg().enable_authenticated_media)
    handlers.generate_thumbnails(media)
    og["og:image"] = media.mxc_uri
    og["og:image:type"] = media_type
    og["matrix:image:size"] = blob.length
    try:
        with Thumbnailer(handlers.open_blob(blob.sha256), _cfg().max_image_pixels) as source:
            og["og:image:width"], og["og:image:height"] = source.width, source.height
    except ThumbnailError:
        pass  # not an image Pillow reads: the page's own width/height (if any) stay
    return media.media_id


# --- cache ----------------------------------------------------------------------------------------------

def _hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def cached(url: str, ts: int | None) -> dict | None:
    """A preview of the last hour: the newest one taken at or before `ts` if there is one, else the
    newest (spec: the server may return a newer version than asked)."""
    now = handlers.now_ms()
    fresh = UrlPreview.objects.filter(url_hash=_hash(url), url=url, expires_ts__gt=now).order_by("-download_ts")
    row = None
    if ts is not None:
        row = fresh.filter(download_ts__lte=ts).first()
    row = row or fresh.first()
    return None if row is None else row.og


def save(url: str, built: Built, user_id: str) -> dict:
    og = dict(built.og)
    media_id = _store_image(built.image, user_id, og) if built.image is not None else None
    now = handlers.now_ms()
    with transaction.atomic():
        UrlPreview.objects.filter(url_hash=_hash(url), url=url, expires_ts__lte=now).delete()
        UrlPreview.objects.create(url_hash=_hash(url), url=url, og=og, media_id=media_id, download_ts=now,
                                  expires_ts=now + CACHE_MS)
    return og


def expire_url_cache(now: int | None = None) -> int:
    """Forget expired previews (their images stay: messages may use them; media retention applies)."""
    deleted, _ = UrlPreview.objects.filter(expires_ts__lte=now if now is not None else handlers.now_ms()).delete()
    return deleted
