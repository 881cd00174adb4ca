"""Photos: recognised by their bytes, bounded in size and pixels, re-encoded without metadata.

Pillow reads the format from the file's own signature; the client's content type and file name
are ignored. The pixel count is checked from the header before anything is decoded, so a
decompression bomb is refused cheaply. The stored image is a fresh encoding of the pixels, turned
upright by its EXIF orientation first: EXIF (GPS included), XMP, ICC profiles and comments are not
carried over.
"""

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from xabar.ingest.errors import InvalidSubmission, LimitExceeded

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    content_type: str
    data: bytes
    width: int
    height: int
    sha256: str


def clean_photo(raw: bytes, *, index: int, max_pixels: int) -> CleanPhoto:
    """``raw`` re-encoded without metadata. CPU-bound: call it in a worker thread."""
    field = f"photos.{index}"
    try:
        with Image.open(io.BytesIO(raw), formats=list(FORMATS)) as img:
            fmt = img.format or ""
            width, height = img.size
            if width * height > max_pixels:
                raise LimitExceeded(
                    "photo_too_many_pixels",
                    f"photo {index + 1} has {width}x{height} pixels; "
                    f"the limit is {max_pixels} pixels",
                )
            img.load()
            upright = ImageOps.exif_transpose(img)
            return _encode(upright, fmt)
    except LimitExceeded:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard, before ours: an error past 2x its limit, a warning past 1x (an
        # exception where warnings are errors, as in the tests).
        raise LimitExceeded(
            "photo_too_many_pixels",
            f"photo {index + 1} has too many pixels; the limit is {max_pixels} pixels",
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidSubmission(
            "a photo is not a JPEG, PNG or WebP image",
            [{"field": field, "message": "not a JPEG, PNG or WebP image", "type": "photo_type"}],
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt image data
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
        img.save(out, "JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        if img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            img = img.convert("RGBA")
        img.save(out, "PNG", optimize=True)
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
