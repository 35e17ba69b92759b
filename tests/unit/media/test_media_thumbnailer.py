"""apps.media.thumbnails and the thumbnail choice of apps.media.handlers, without HTTP."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image

from apps.media.handlers import select_thumbnail
from apps.media.thumbnails import ImageTooLarge, ThumbnailError, Thumbnailer


def image_file(width, height, fmt="PNG", mode="RGB") -> io.BytesIO:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 20, 30) if mode == "RGB" else 0).save(out, format=fmt)
    out.seek(0)
    return out


@pytest.mark.parametrize("size, box, method, expected", [
    ((1000, 500), (320, 240), "scale", (320, 160)),
    ((500, 1000), (320, 240), "scale", (120, 240)),
    ((100, 50), (320, 240), "scale", (100, 50)),       # never upscaled
    ((1000, 500), (96, 96), "crop", (96, 96)),
    ((50, 200), (96, 96), "crop", (50, 96)),           # clamped to the image
])
def test_sizes(size, box, method, expected):
    t = Thumbnailer(image_file(*size), 10**8)
    assert t.size_for(*box, method) == expected
    rendered = Image.open(io.BytesIO(t.render(*expected, method, "image/png")))
    assert rendered.size == expected


def test_crop_keeps_the_centre():
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    for x in range(100, 200):
        for y in range(100):
            image.putpixel((x, y), (0, 255, 0))
    f = io.BytesIO()
    image.save(f, format="PNG")
    f.seek(0)
    out = Image.open(io.BytesIO(Thumbnailer(f, 10**8).render(50, 50, "crop", "image/png"))).convert("RGB")
    assert out.getpixel((25, 25))[1] > 200 and out.getpixel((2, 25))[1] > 200


@pytest.mark.parametrize("mode", ["P", "L", "LA", "RGBA", "CMYK", "1"])
def test_modes_encode_to_jpeg_and_png(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    t = Thumbnailer(image_file(64, 64, fmt=fmt, mode=mode), 10**8)
    for out_type in ("image/jpeg", "image/png"):
        assert Image.open(io.BytesIO(t.render(32, 32, "crop", out_type))).size == (32, 32)


def test_not_an_image():
    with pytest.raises(ThumbnailError):
        Thumbnailer(io.BytesIO(b"hello"), 10**8)


def test_truncated_image():
    data = image_file(200, 200, fmt="JPEG").getvalue()[:300]
    with pytest.raises(ThumbnailError):  # when reading the header or when decoding
        Thumbnailer(io.BytesIO(data), 10**8).render(32, 32, "crop", "image/jpeg")


def test_pixel_limit():
    with pytest.raises(ImageTooLarge):
        Thumbnailer(image_file(101, 100), 100 * 100)
    Thumbnailer(image_file(100, 100), 100 * 100)


def thumbs(*specs):
    return [SimpleNamespace(pk=i, width=w, height=h, method=m, media_type=t, length=w * h)
            for i, (w, h, m, t) in enumerate(specs)]


DEFAULTS = thumbs((32, 32, "crop", "image/png"), (96, 96, "crop", "image/png"), (320, 240, "scale", "image/png"),
                  (640, 480, "scale", "image/png"), (800, 600, "scale", "image/png"))


@pytest.mark.parametrize("want, expected, big_enough", [
    ((32, 32, "crop"), (32, 32), True),
    ((33, 33, "crop"), (96, 96), True),
    ((200, 200, "crop"), (96, 96), False),
    ((100, 100, "scale"), (320, 240), True),
    ((321, 100, "scale"), (320, 240), True),     # Synapse: one dimension reaching the request is enough
    ((321, 241, "scale"), (640, 480), True),
    ((900, 700, "scale"), (800, 600), False),
])
def test_select_thumbnail(want, expected, big_enough):
    chosen, ok = select_thumbnail(DEFAULTS, *want, "image/png")
    assert (chosen.width, chosen.height) == expected and ok is big_enough


def test_select_prefers_the_desired_type_and_ignores_other_methods():
    candidates = thumbs((96, 96, "crop", "image/jpeg"), (96, 96, "crop", "image/png"))
    assert select_thumbnail(candidates, 96, 96, "crop", "image/png")[0].media_type == "image/png"
    assert select_thumbnail(candidates, 96, 96, "scale", "image/png") == (None, False)
