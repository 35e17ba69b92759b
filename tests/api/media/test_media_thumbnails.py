"""GET /_matrix/client/v1/media/thumbnail: crop and scale at the requested sizes (checked with Pillow),
Synapse's choice among pre-generated sizes, never smaller than asked unless the original is, EXIF
orientation, animated thumbnails, decompression bombs, and content that cannot be thumbnailed."""
from __future__ import annotations

import pytest

from apps.core.errors import Codes
from apps.media.models import Media, Thumbnail
from tests.api.media.helpers import AUTHED, animated_gif, assert_fetch_error, fetch, image_bytes, png_bomb, upload


def thumb(client, media_id, width, height, method=None, **params):
    query = f"width={width}&height={height}" + (f"&method={method}" if method else "")
    query += "".join(f"&{k}={v}" for k, v in params.items())
    return fetch(client, f"{AUTHED}/thumbnail/test.local/{media_id}?{query}")


@pytest.mark.parametrize("fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_thumbnails_generated_on_upload(alice, fmt, content_type):
    media_id = upload(alice, image_bytes(fmt, 1000, 500), content_type)
    sizes = set(Thumbnail.objects.filter(media__media_id=media_id).values_list("width", "height", "method",
                                                                                 "media_type"))
    assert sizes == {(32, 32, "crop", content_type), (96, 96, "crop", content_type),
                     (320, 160, "scale", content_type), (640, 320, "scale", content_type),
                     (800, 400, "scale", content_type)}


@pytest.mark.parametrize("fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
@pytest.mark.parametrize("width, height, method, expected", [
    (32, 32, "crop", (32, 32)),
    (96, 96, "crop", (96, 96)),
    (50, 50, "crop", (96, 96)),          # the smallest pre-generated crop not smaller than asked
    (320, 240, "scale", (320, 160)),     # scale keeps the 2:1 aspect within the box
    (640, 480, "scale", (640, 320)),
    (300, 100, "scale", (320, 160)),
    (800, 600, "scale", (800, 400)),
])
def test_other_user_gets_crop_and_scale_thumbnails(alice, bob, fmt, content_type, width, height, method, expected):
    media_id = upload(alice, image_bytes(fmt, 1000, 500), content_type)
    got = thumb(bob, media_id, width, height, method)
    assert got.status_code == 200, got.body[:200]
    assert got["Content-Type"] == content_type
    image = got.image()
    assert image.size == expected
    assert image.format == fmt
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Content-Disposition"] == "inline"
    assert got["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_method_defaults_to_scale(alice):
    media_id = upload(alice, image_bytes("PNG", 1000, 500))
    assert thumb(alice, media_id, 320, 240).image().size == (320, 160)


def test_never_smaller_than_asked(alice):
    # Bigger than every pre-generated size: the original is the only image that is not smaller.
    data = image_bytes("PNG", 1600, 1200)
    media_id = upload(alice, data)
    got = thumb(alice, media_id, 1000, 1000, "scale")
    assert got.status_code == 200 and got.body == data


def test_small_image_is_not_upscaled(alice):
    data = image_bytes("PNG", 20, 10)
    media_id = upload(alice, data)
    for method in ("crop", "scale"):
        got = thumb(alice, media_id, 96, 96, method)
        assert got.status_code == 200
        w, h = got.image().size
        assert w <= 20 and h <= 10


def test_dynamic_thumbnails_exact_size(alice, media_config):
    media_config(dynamic_thumbnails=True)
    media_id = upload(alice, image_bytes("JPEG", 1000, 500), "image/jpeg")
    assert thumb(alice, media_id, 100, 100, "crop").image().size == (100, 100)
    assert thumb(alice, media_id, 100, 100, "scale").image().size == (100, 50)
    assert thumb(alice, media_id, 5000, 5000, "crop").image().size == (1000, 500)  # never upscaled
    # Cached: asking again adds no row.
    count = Thumbnail.objects.filter(media__media_id=media_id).count()
    thumb(alice, media_id, 100, 100, "crop")
    assert Thumbnail.objects.filter(media__media_id=media_id).count() == count


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_is_applied(alice, orientation):
    # Stored 400x200 landscape, EXIF says "rotate by 90°": displayed as 200x400 portrait.
    media_id = upload(alice, image_bytes("JPEG", 400, 200, exif_orientation=orientation), "image/jpeg")
    image = thumb(alice, media_id, 100, 200, "scale").image()
    assert image.size == (120, 240)  # the 320x240 scale thumbnail, portrait
    # The blue marker of the stored top-left corner moved with the rotation: to the top-right for 6
    # (90° clockwise), to the bottom-left for 8.
    corner = (image.width - 2, 2) if orientation == 6 else (2, image.height - 2)
    r, g, b = image.convert("RGB").getpixel(corner)
    assert b > 150 and r < 100, (r, g, b)


def test_animated_gif(alice):
    media_id = upload(alice, animated_gif(200, 200, frames=4), "image/gif")
    still = thumb(alice, media_id, 96, 96, "crop", animated="false")
    assert still.status_code == 200 and still["Content-Type"] == "image/png"
    assert getattr(still.image(), "n_frames", 1) == 1
    moving = thumb(alice, media_id, 96, 96, "crop", animated="true")
    assert moving.status_code == 200 and moving["Content-Type"] == "image/gif"
    image = moving.image()
    assert image.size == (96, 96) and image.n_frames == 4


def test_animated_true_on_a_still_image_gives_a_still_thumbnail(alice):
    media_id = upload(alice, image_bytes("JPEG", 300, 300), "image/jpeg")
    got = thumb(alice, media_id, 96, 96, "crop", animated="true")
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"


def test_decompression_bomb_is_refused_cleanly(alice, bob):
    data = png_bomb()
    media_id = upload(alice, data, "image/png")  # storing it is harmless
    assert not Thumbnail.objects.filter(media__media_id=media_id).exists()
    assert_fetch_error(thumb(bob, media_id, 32, 32, "crop"), 413, Codes.TOO_LARGE)
    got = fetch(bob, f"{AUTHED}/download/test.local/{media_id}")
    assert got.status_code == 200 and got.body == data


def test_image_over_max_image_pixels_is_not_thumbnailed(alice, media_config):
    media_config(max_image_pixels=100 * 100)
    media_id = upload(alice, image_bytes("PNG", 101, 100))
    assert not Thumbnail.objects.filter(media__media_id=media_id).exists()
    assert_fetch_error(thumb(alice, media_id, 32, 32, "crop"), 413, Codes.TOO_LARGE)


@pytest.mark.parametrize("data, content_type", [(b"just text", "text/plain"), (b"%PDF-1.4", "application/pdf"),
                                                (b"not really a png", "image/png")])
def test_content_that_cannot_be_thumbnailed(alice, data, content_type):
    media_id = upload(alice, data, content_type)
    assert_fetch_error(thumb(alice, media_id, 32, 32, "crop"), 400, Codes.UNKNOWN)


@pytest.mark.parametrize("query, errcode", [
    ("width=32", Codes.MISSING_PARAM),
    ("height=32", Codes.MISSING_PARAM),
    ("width=abc&height=32", Codes.INVALID_PARAM),
    ("width=-1&height=32", Codes.INVALID_PARAM),
    ("width=0&height=32", Codes.INVALID_PARAM),
    ("width=32&height=32&method=stretch", Codes.INVALID_PARAM),
    ("width=32&height=32&animated=maybe", Codes.INVALID_PARAM),
])
def test_bad_parameters(alice, query, errcode):
    media_id = upload(alice, image_bytes("PNG", 100, 100))
    assert_fetch_error(fetch(alice, f"{AUTHED}/thumbnail/test.local/{media_id}?{query}"), 400, errcode)


def test_thumbnails_regenerated_when_missing(alice):
    # e.g. after thumbnail_sizes changed or generation failed at upload time.
    media_id = upload(alice, image_bytes("PNG", 500, 500))
    Thumbnail.objects.filter(media__media_id=media_id).delete()
    assert thumb(alice, media_id, 96, 96, "crop").image().size == (96, 96)
    assert Media.objects.get(media_id=media_id).thumbnails.exists()
