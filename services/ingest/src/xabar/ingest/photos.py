"""Photos: recognised by their bytes, bounded in size, pixels and decoding memory, re-encoded
without metadata.

Pillow reads the format from the file's own signature; the client's content type and file name
are ignored. Before anything is decoded, the header is probed (``probe_photo``): the pixel count
is checked (a decompression bomb is refused cheaply), and the memory the decoding will take is
estimated (pixels times Pillow's bytes per pixel, times the copies that turning it upright or
converting its mode make, plus the file itself). A JPEG over ``max_decode_bytes`` is decoded at
1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, Pillow's ``draft``), so it never takes more;
a PNG or WebP over it is refused (they cannot be decoded smaller). The service runs each decode
under a ``gates.MemoryGate`` with that budget: a decode waits until its estimate fits (first
come, first served), so memory stays bounded whatever arrives at once.

The stored image is a fresh encoding of the pixels, turned upright by its EXIF orientation
first: EXIF (GPS included), XMP, ICC profiles and comments are not carried over.
"""

import contextlib
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from xabar.ingest.errors import InvalidSubmission, LimitExceeded
from xabar.runtime.png import write_png

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
KEEPS_MODE = {
    "JPEG": frozenset({"RGB", "L"}),
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
}
ORIENTATION = 0x0112
DEFAULT_DECODE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    content_type: str
    data: bytes
    width: int
    height: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Probe:
    """What the header says, and how the photo will be decoded."""

    fmt: str
    width: int
    height: int
    scale: int  # decoded at 1/scale of its size (JPEG only; 1 for the others)
    cost: int  # the memory cleaning it takes, estimated, in bytes
    turn: bool  # its EXIF orientation (read from the header) asks to turn it upright


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow keeps in memory per pixel (RGB takes 4 bytes, as RGBA does)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decodable_megapixels(max_decode_bytes: int) -> float:
    """About the largest PNG or WebP (RGB, upright) that ``max_decode_bytes`` lets in."""
    return max_decode_bytes / 6 / 1_000_000  # 4 bytes a pixel, and 2 for a PNG's encoding


def _too_large(index: int, max_decode_bytes: int) -> LimitExceeded:
    return LimitExceeded(
        "photo_too_large_to_decode",
        f"photo {index + 1} is too large to process: a PNG or WebP may have about "
        f"{decodable_megapixels(max_decode_bytes):.1f} megapixels at most (a JPEG is scaled "
        "down)",
    )


def _opened(raw: bytes, index: int, max_pixels: int) -> Image.Image:
    try:
        return Image.open(io.BytesIO(raw), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard, before ours: an error past 2x its limit, a warning past 1x (an
        # exception where warnings are errors, as in the tests).
        raise LimitExceeded(
            "photo_too_many_pixels",
            f"photo {index + 1} has too many pixels; the limit is {max_pixels} pixels",
        ) from exc


def probe_photo(raw: bytes, *, index: int, max_pixels: int, max_decode_bytes: int) -> Probe:
    """The header's verdict on ``raw``, nothing decoded: ``LimitExceeded`` for too many pixels,
    or a PNG/WebP whose decoding would take more than ``max_decode_bytes``."""
    with _damage_as_invalid(index), _opened(raw, index, max_pixels) as img:
        fmt = img.format or ""
        width, height = img.size
        if width * height > max_pixels:
            raise LimitExceeded(
                "photo_too_many_pixels",
                f"photo {index + 1} has {width}x{height} pixels; the limit is {max_pixels} pixels",
            )
        copies = 1 + (img.mode not in KEEPS_MODE[fmt])
        turn = _orientation(img) not in (1, None)
        copies += turn  # turning it upright makes a copy
        per_pixel = _bytes_per_pixel(img.mode) * copies
        # what the new encoding takes: a PNG keeps about half of its pixels' bytes, a JPEG or a
        # WebP at quality 90 well under a byte a pixel
        encoded = _bytes_per_pixel(img.mode) / 2 if fmt == "PNG" else 0.5
        for scale in (1, 2, 4, 8) if fmt == "JPEG" else (1,):
            pixels = -(-width // scale) * -(-height // scale)
            cost = len(raw) + int(pixels * (per_pixel + encoded))
            if cost <= max_decode_bytes:
                return Probe(fmt, width, height, scale, cost, turn)
    raise _too_large(index, max_decode_bytes)


def clean_photo(
    raw: bytes,
    *,
    index: int,
    max_pixels: int,
    max_decode_bytes: int = DEFAULT_DECODE_BYTES,
    probe: Probe | None = None,
) -> CleanPhoto:
    """``raw`` re-encoded without metadata (probed first unless ``probe`` is given).
    CPU-bound: call it in a worker thread."""
    probe = probe or probe_photo(
        raw, index=index, max_pixels=max_pixels, max_decode_bytes=max_decode_bytes
    )
    with _damage_as_invalid(index), _opened(raw, index, max_pixels) as img:
        if probe.scale > 1:
            img.draft(None, (-(-probe.width // probe.scale), -(-probe.height // probe.scale)))
        img.load()
        if probe.turn:
            ImageOps.exif_transpose(img, in_place=True)
        return _encode(img, probe.fmt)


def _orientation(img: Image.Image) -> object:
    """The EXIF orientation the header carries. A PNG's EXIF chunk after its image data is not
    read (Pillow would decode the whole image to reach it)."""
    if img.format == "PNG" and "exif" not in img.info:
        return None
    return img.getexif().get(ORIENTATION)


@contextlib.contextmanager
def _damage_as_invalid(index: int) -> Iterator[None]:
    field = f"photos.{index}"
    try:
        yield
    except (LimitExceeded, InvalidSubmission):
        raise
    except UnidentifiedImageError as exc:
        raise InvalidSubmission(
            "a photo is not a JPEG, PNG or WebP image",
            [{"field": field, "message": "not a JPEG, PNG or WebP image", "type": "photo_type"}],
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidSubmission(
            "a photo could not be read",
            [{"field": field, "message": "the image data is damaged", "type": "photo_damaged"}],
        ) from exc


def _encode(img: Image.Image, fmt: str) -> CleanPhoto:
    transparency = img.info.get("transparency")
    img.info.clear()  # nothing of the original's metadata goes to the encoder
    if transparency is not None and fmt == "PNG":
        img.info["transparency"] = transparency  # pixels, not metadata
    out = io.BytesIO()
    if fmt == "JPEG":
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(out, "JPEG", quality=90)  # not optimize: it holds every coefficient at once
    elif fmt == "PNG":
        img = write_png(img, out)
    else:
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.mode or transparency is not None else "RGB")
        img.save(out, "WEBP", quality=90)
    data = out.getvalue()
    return CleanPhoto(
        content_type=FORMATS[fmt],
        data=data,
        width=img.width,
        height=img.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
