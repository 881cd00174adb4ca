"""Images as the publisher keeps them: re-encoded without metadata, and the sizes readers get.

Every image that enters the publisher (an editor's upload, a tip's photo, an import) goes
through ``prepare_image``: Pillow recognises it by its own bytes (the declared type is ignored),
its pixel count is checked from the header before anything is decoded (a decompression bomb is
refused cheaply), it is turned upright by its EXIF orientation and encoded afresh from its
pixels, so EXIF (GPS included), XMP, ICC profiles and comments are gone. From the same decoded
pixels come the responsive sizes for ``srcset``: each of ``WIDTHS`` (never wider than the
image) in WebP and in JPEG, the fallback every browser shows. (AVIF is smaller still, but its
encoder takes seconds per size on one core here; WebP takes a tenth of that.)

Decoding is CPU- and memory-bound: ``ImageWork`` runs it in worker threads, at most
``concurrency`` images at once, so memory stays within ``concurrency`` times what the largest
allowed image (``max_pixels``) takes.
"""

import asyncio
import io
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from xabar.publisher.errors import BadMedia, MediaTooLarge
from xabar.runtime.errors import BadRequest
from xabar.runtime.png import write_png

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
WIDTHS = (480, 960, 1600)
VARIANT_TYPES = ("image/webp", "image/jpeg")
JPEG_QUALITY = 85
WEBP_QUALITY = 80


@dataclass(frozen=True, slots=True)
class Encoded:
    """One encoding of an image: its bytes and what they are."""

    media_type: str
    data: bytes
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.media_type]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An image as stored: the whole of it re-encoded in its own format, and its sizes."""

    original: Encoded
    variants: tuple[Encoded, ...]


def prepare_image(
    data: bytes, *, max_bytes: int, max_pixels: int, widths: tuple[int, ...] = WIDTHS
) -> Prepared:
    """``data`` re-encoded without metadata, with its responsive sizes. CPU-bound: run it in a
    worker thread (``ImageWork``). ``BadMedia`` for what is not a whole JPEG, PNG or WebP,
    ``MediaTooLarge`` past ``max_bytes`` or ``max_pixels``."""
    if len(data) > max_bytes:
        raise MediaTooLarge(f"изображение — {len(data)} байт, а можно не больше {max_bytes}")
    if not data:
        raise BadMedia("изображение пустое")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                fmt = img.format or ""
                width, height = img.size
                if width * height > max_pixels:
                    raise MediaTooLarge(
                        f"в изображении {width}×{height} точек, а можно не больше {max_pixels}"
                    )
                img.load()
                upright = ImageOps.exif_transpose(img)
    except MediaTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"в изображении больше {max_pixels} точек") from exc
    except UnidentifiedImageError as exc:
        raise BadMedia("это не изображение JPEG, PNG или WebP") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt image data
        raise BadMedia("изображение повреждено") from exc
    if "transparency" in upright.info:  # palette or colour-key transparency: make it alpha
        upright = upright.convert("RGBA")
    upright.info.clear()  # nothing of the original's metadata reaches an encoder
    original = encode(upright, FORMATS[fmt])
    return Prepared(original, tuple(variants_of(upright, widths)))


def variant_widths(width: int, widths: tuple[int, ...] = WIDTHS) -> list[int]:
    """The widths made of an image ``width`` wide: each of ``widths`` it is wider than, and its
    own width when it is narrower than the largest (an image is never enlarged)."""
    return sorted({min(w, width) for w in widths})


def variants_of(img: Image.Image, widths: tuple[int, ...] = WIDTHS) -> list[Encoded]:
    base = img if img.mode in ("RGB", "RGBA") else img.convert("RGBA" if _alpha(img) else "RGB")
    out: list[Encoded] = []
    for width in variant_widths(base.width, widths):
        height = max(1, round(base.height * width / base.width))
        sized = (
            base if width == base.width else base.resize((width, height), Image.Resampling.LANCZOS)
        )
        out.extend(encode(sized, media_type) for media_type in VARIANT_TYPES)
    return out


def encode(img: Image.Image, media_type: str) -> Encoded:
    """``img``'s pixels in ``media_type`` (its ``info`` already empty: no metadata is passed
    on). Alpha is pixels: PNG and WebP keep it, a JPEG gets a white background."""
    out = io.BytesIO()
    if media_type == "image/jpeg":
        img = _opaque(img)
        img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif media_type == "image/png":
        img = write_png(img, out)
    else:
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if _alpha(img) else "RGB")
        img.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return Encoded(media_type, out.getvalue(), img.width, img.height)


def _alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "La", "RGBa")


def _opaque(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if not _alpha(img):
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


class ImageWork:
    """``prepare_image`` in worker threads, at most ``concurrency`` images at once."""

    def __init__(self, *, max_bytes: int, max_pixels: int, concurrency: int) -> None:
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._slots = asyncio.Semaphore(concurrency)

    async def prepare(self, data: bytes) -> Prepared:
        if len(data) > self.max_bytes:  # refused before waiting for a slot
            raise MediaTooLarge(
                f"изображение — {len(data)} байт, а можно не больше {self.max_bytes}"
            )
        async with self._slots:
            return await asyncio.to_thread(
                prepare_image, data, max_bytes=self.max_bytes, max_pixels=self.max_pixels
            )


class UploadSlots:
    """Bodies that may carry an image (up to ``max_media_bytes``) are read and prepared at most
    ``slots`` at a time: the others wait, their bytes unread in the socket (uvicorn pauses
    reading), for up to ``wait_s``, then get 503 with ``Retry-After``. This bounds the memory of
    concurrent uploads, as ``ImageWork`` bounds that of decoding."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self.wait_s = wait_s

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_s)
        except TimeoutError:
            raise BadRequest(
                503,
                "overloaded",
                "too many uploads in progress; send it again",
                headers={"Retry-After": "5"},
            ) from None
        try:
            yield
        finally:
            self._slots.release()
