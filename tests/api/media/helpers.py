"""Helpers of the media API tests: images made with Pillow, uploads, and downloads read whole."""
from __future__ import annotations

import io
import json
import struct
import zlib

from PIL import Image

UPLOAD = "/_matrix/media/v3/upload"
CREATE = "/_matrix/media/v1/create"
AUTHED = "/_matrix/client/v1/media"
LEGACY = "/_matrix/media/v3"


def image_bytes(fmt: str, width: int, height: int, *, color=(200, 30, 30), exif_orientation: int | None = None,
                mode: str = "RGB") -> bytes:
    image = Image.new(mode, (width, height), color)
    # A marker in the top-left corner, to check orientation after EXIF transposition.
    for x in range(min(10, width)):
        for y in range(min(10, height)):
            image.putpixel((x, y), (0, 0, 255) if mode == "RGB" else (0, 0, 255, 255))
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def animated_gif(width: int, height: int, frames: int = 3) -> bytes:
    images = [Image.new("RGB", (width, height), (40 * i, 100, 200)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * 4, 9))
            + chunk(b"IEND", b""))


def upload(client, data: bytes, content_type: str = "image/png", filename: str | None = None) -> str:
    path = UPLOAD + (f"?filename={filename}" if filename else "")
    resp = client.request("POST", path, raw=data, content_type=content_type)
    assert resp.status_code == 200, resp.json_body
    uri = resp.json_body["content_uri"]
    assert uri.startswith("mxc://test.local/")
    return uri.split("/", 3)[3]


class Fetched:
    def __init__(self, resp):
        self.resp = resp
        self.status_code = resp.status_code
        self.body = b"".join(resp.streaming_content) if resp.streaming else resp.content
        self.headers = resp
        try:
            self.json = json.loads(self.body) if resp["Content-Type"].startswith("application/json") else None
        except ValueError:
            self.json = None

    def __getitem__(self, name):
        return self.resp[name]

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.body))


def fetch(client, path: str, *, token: str | None = "default") -> Fetched:
    """GET a media path; streaming bodies are read whole (the shared client reads only `.content`)."""
    if token == "default":
        token = client.token
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Fetched(client.http.get(path, **extra))


def assert_fetch_error(fetched: Fetched, status: int, errcode: str) -> None:
    assert fetched.status_code == status, (fetched.status_code, fetched.body[:300])
    assert fetched.json and fetched.json["errcode"] == errcode, fetched.body[:300]
