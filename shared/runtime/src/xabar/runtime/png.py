"""Writing a picture as PNG, as ingest (a reader's photo) and the publisher (an uploaded image
and its variants) re-encode one: a mode PNG cannot hold becomes RGBA, and the file is
optimized. Pillow's images are pictures; the runtime does not import Pillow."""

from typing import IO, Any, Protocol, Self, TypeVar

PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16")  # the modes PNG holds as they are


class Picture(Protocol):
    @property
    def mode(self) -> str: ...

    def convert(self, mode: str) -> Self: ...

    def save(self, fp: IO[bytes], format: str, **params: Any) -> None: ...


P = TypeVar("P", bound=Picture)


def write_png(img: P, out: IO[bytes]) -> P:
    """Write ``img`` to ``out`` as PNG; returns the picture written (converted or ``img``)."""
    if img.mode not in PNG_MODES:
        img = img.convert("RGBA")
    img.save(out, "PNG", optimize=True)
    return img
