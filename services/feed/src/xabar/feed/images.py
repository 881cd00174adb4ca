"""Photos as readers get them: ``<picture>`` with AVIF and WebP sources and a JPEG fallback, each
with a ``srcset`` of widths, for the photos the publisher serves; and the image every article
has for sharing and for JSON-LD (its photo, else the site's default image).

The sizes follow the publisher's media URL convention (``XABAR_FEED_MEDIA_URL``, default
``{publisher}/media/``): the original at ``/media/{id}``, a re-encoded width at
``/media/{id}?w={width}&fmt={avif|webp|jpeg}`` (never wider than the original). A photo from
anywhere else is shown as it is, with its own URL only.
"""

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from xabar.feed.config import FeedSettings
from xabar.feed.documents import ArticleDoc, ImageDoc

WIDTHS = (480, 800, 1200)
FORMATS = (("avif", "image/avif"), ("webp", "image/webp"))
DEFAULT_IMAGE = ("/static/default-image.png", 1200, 675)
LOGO = ("/static/logo.png", 600, 60)
SIZES = "(max-width: 860px) 100vw, 780px"


@dataclass(frozen=True, slots=True)
class ShareImage:
    url: str  # absolute
    width: int | None
    height: int | None
    alt: str
    credit: str | None
    default: bool


class Images:
    def __init__(self, settings: FeedSettings) -> None:
        self.settings = settings
        self.media = settings.media_url

    def of(self, doc: ArticleDoc) -> ShareImage:
        """The article's image for Open Graph and JSON-LD: its photo, else the site's own."""
        if doc.image is not None:
            url = doc.image.url
            if url.startswith("/"):
                url = self.settings.site_url + url
            return ShareImage(
                url,
                doc.image.width,
                doc.image.height,
                doc.image.alt or doc.title,
                doc.image.credit,
                False,
            )
        path, width, height = DEFAULT_IMAGE
        return ShareImage(
            self.settings.site_url + path, width, height, self.settings.site_name, None, True
        )

    def widths(self, image: ImageDoc) -> tuple[int, ...]:
        """The widths the publisher makes of ``image`` (none wider than it is)."""
        if not image.url.startswith(self.media) or "?" in image.url:
            return ()
        return tuple(w for w in WIDTHS if image.width is None or w < image.width)

    def picture(self, image: ImageDoc, alt: str, *, lazy: bool = False) -> Markup:
        """``<picture>`` of ``image``: AVIF and WebP sources and the JPEG ``<img>``, each with
        its widths, when the publisher makes them; else the ``<img>`` alone."""
        attrs: dict[str, Any] = {"src": image.url, "alt": alt}
        if image.width and image.height:
            attrs.update(width=image.width, height=image.height)
        if lazy:
            attrs["loading"] = "lazy"
        widths = self.widths(image)
        if not widths:
            return Markup(f"<img{_attrs(attrs)}>")  # noqa: S704 - every value escaped
        full = f", {escape(image.url)} {image.width}w" if image.width else ""
        sources = [
            f'<source type="{mime}" srcset="{_srcset(image.url, fmt, widths)}{full}" '
            f'sizes="{SIZES}">'
            for fmt, mime in FORMATS
        ]
        attrs.update(srcset=Markup(_srcset(image.url, "jpeg", widths) + full), sizes=SIZES)  # noqa: S704
        return Markup(  # noqa: S704 - every value escaped
            "<picture>" + "".join(sources) + f"<img{_attrs(attrs)}></picture>"
        )


def _srcset(url: str, fmt: str, widths: tuple[int, ...]) -> str:
    return ", ".join(f"{escape(url)}?w={w}&amp;fmt={fmt} {w}w" for w in widths)


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {k}="{escape(v)}"' for k, v in attrs.items())
