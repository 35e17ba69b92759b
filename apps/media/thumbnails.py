"""Image decoding and thumbnailing with Pillow, safe against hostile input.

Rules (spec content_repo.md "Thumbnails", and Synapse's thumbnailer):
- "scale" keeps the aspect ratio and fits the requested box; "crop" fills the box exactly, cutting the
  overflow evenly from both sides. Neither ever upscales: sizes are clamped to the original.
- EXIF orientation is applied before anything else, so a portrait photo taken sideways comes out upright
  and its width/height are the displayed ones.
- An image whose header declares more than `max_image_pixels` pixels is never decoded
  (`ImageTooLarge`): the guard against decompression bombs. Pillow's own bomb check is set to the same
  limit and its warning is turned into the same error.
- Anything Pillow cannot read cleanly is `ThumbnailError`, never an unhandled exception.
"""
from __future__ import annotations

import io
import warnings
from typing import BinaryIO

from PIL import Image, ImageOps, ImageSequence

# Media types we thumbnail, and the type of their thumbnails (Synapse's map, except WebP -> PNG so
# that transparency survives).
THUMBNAIL_OUTPUT = {
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/png": "image/png",
    "image/gif": "image/png",
    "image/webp": "image/png",
}
ANIMATED_TYPES = {"image/gif": "GIF", "image/webp": "WEBP"}
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 or 270 degrees
EXIF_ORIENTATION = 0x0112


class ThumbnailError(Exception):
    """The content cannot be thumbnailed (not an image, corrupt, unsupported)."""


class ImageTooLarge(ThumbnailError):
    """The image has more pixels than `max_image_pixels`."""


def base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def can_thumbnail(content_type: str) -> bool:
    return base_type(content_type) in THUMBNAIL_OUTPUT


def output_type(content_type: str) -> str:
    return THUMBNAIL_OUTPUT[base_type(content_type)]


class Thumbnailer:
    """One source image. Construction reads only the header; pixels are decoded on first use."""

    def __init__(self, source: BinaryIO, max_pixels: int):
        self._source = source
        self.max_pixels = max_pixels
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self._image = Image.open(source)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            source.close()
            raise ImageTooLarge("image has too many pixels") from None
        except (OSError, SyntaxError, ValueError, TypeError, Image.UnidentifiedImageError, EOFError) as e:
            source.close()
            raise ThumbnailError(f"cannot read image: {e}") from None
        w, h = self._image.size
        if w <= 0 or h <= 0 or w * h > max_pixels:
            self.close()
            if w <= 0 or h <= 0:
                raise ThumbnailError("image has no pixels")
            raise ImageTooLarge(f"image has {w * h} pixels, more than {max_pixels}")
        try:
            orientation = self._image.getexif().get(EXIF_ORIENTATION)
        except Exception:  # a broken EXIF block must not stop thumbnailing  # noqa: BLE001
            orientation = None
        self.transposed = orientation in _SWAPS_AXES
        self.width, self.height = (h, w) if self.transposed else (w, h)
        self.n_frames = getattr(self._image, "n_frames", 1)
        self._loaded: Image.Image | None = None

    def close(self) -> None:
        self._image.close()
        self._source.close()

    def __enter__(self) -> "Thumbnailer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _upright(self) -> Image.Image:
        if self._loaded is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    self._image.load()
                    image = ImageOps.exif_transpose(self._image)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise ImageTooLarge("image has too many pixels") from None
            except Exception as e:  # noqa: BLE001 - any decoder failure is "cannot thumbnail"
                raise ThumbnailError(f"cannot decode image: {e}") from None
            if image.mode not in ("RGB", "RGBA"):
                has_alpha = image.mode in ("LA", "PA", "RGBa", "La") or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
            self._loaded = image
        return self._loaded

    def aspect(self, max_width: int, max_height: int) -> tuple[int, int]:
        """The largest size with the image's aspect ratio that fits in (max_width, max_height)."""
        if max_width * self.height < max_height * self.width:
            return max_width, max((max_width * self.height) // self.width, 1)
        return max((max_height * self.width) // self.height, 1), max_height

    def scale_size(self, width: int, height: int) -> tuple[int, int]:
        t_w, t_h = self.aspect(width, height)
        return min(t_w, self.width), min(t_h, self.height)

    def crop_size(self, width: int, height: int) -> tuple[int, int]:
        return min(width, self.width), min(height, self.height)

    def size_for(self, width: int, height: int, method: str) -> tuple[int, int]:
        return self.crop_size(width, height) if method == "crop" else self.scale_size(width, height)

    def render(self, width: int, height: int, method: str, content_type: str) -> bytes:
        """The thumbnail of exactly (width, height), as produced by `size_for`, encoded as `content_type`."""
        image = self._upright()
        return _encode(_resize_frame(image, width, height, method), content_type)

    def render_animated(self, width: int, height: int, method: str, content_type: str) -> bytes | None:
        """An animated thumbnail of an animated GIF/WebP, or None if the source is not animated or has too
        many frames to decode within the pixel limit."""
        fmt = ANIMATED_TYPES.get(base_type(content_type))
        if fmt is None or self.n_frames <= 1 or self.n_frames * self.width * self.height > self.max_pixels:
            return None
        frames, durations = [], []
        try:
            for frame in ImageSequence.Iterator(self._image):
                durations.append(frame.info.get("duration", 100))
                upright = ImageOps.exif_transpose(frame.convert("RGBA"))
                frames.append(_resize_frame(upright, width, height, method))
        except Exception as e:  # noqa: BLE001
            raise ThumbnailError(f"cannot decode animation: {e}") from None
        out = io.BytesIO()
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=durations,
                       loop=self._image.info.get("loop", 0), disposal=2)
        return out.getvalue()


def _resize_frame(image: Image.Image, width: int, height: int, method: str) -> Image.Image:
    if method == "scale":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    # crop: scale so that the box is covered, then cut the overflow evenly.
    src_w, src_h = image.size
    if width * src_h > height * src_w:
        scaled_w, scaled_h = width, max((width * src_h) // src_w, height)
    else:
        scaled_w, scaled_h = max((height * src_w) // src_h, width), height
    scaled = image.resize((scaled_w, scaled_h), Image.Resampling.LANCZOS)
    left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def _encode(image: Image.Image, content_type: str) -> bytes:
    out = io.BytesIO()
    fmt = _FORMATS[content_type]
    if fmt == "JPEG":
        if image.mode != "RGB":
            image = image.convert("RGB")
        image.save(out, format="JPEG", quality=80, optimize=True)
    else:
        image.save(out, format=fmt)
    return out.getvalue()
