"""Photos as readers get them: ``<picture>`` with AVIF and WebP sources and a JPEG ``<img>``,
each with a ``srcset`` of the sizes the publisher made (``ArticleImage.variants``: url, width,
height, media type); a photo without variants is its ``<img>`` alone. And the image every
article has for sharing and for JSON-LD: its photo, else the site's default image.
"""

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from xabar.feed.config import FeedSettings
from xabar.feed.documents import ArticleDoc, ImageDoc, VariantDoc

MODERN = ("image/avif", "image/webp")
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

    def picture(self, image: ImageDoc, alt: str) -> Markup:
        """``<picture>`` of ``image``: a source per modern format it comes in, and the
        ``<img>`` with the JPEG sizes; without variants, the ``<img>`` alone."""
        attrs: dict[str, Any] = {"src": image.url, "alt": alt}
        if image.width and image.height:
            attrs.update(width=image.width, height=image.height)
        if not image.variants:
            return Markup(f"<img{_attrs(attrs)}>")  # noqa: S704 - every value escaped
        sources = []
        for mime in MODERN:
            of_type = [v for v in image.variants if v.media_type == mime]
            if of_type:
                sources.append(
                    f'<source type="{mime}" srcset="{_srcset(of_type)}" sizes="{SIZES}">'
                )
        jpegs = [v for v in image.variants if v.media_type == "image/jpeg"]
        if jpegs:
            attrs.update(srcset=Markup(_srcset(jpegs)), sizes=SIZES)  # noqa: S704 - escaped
        return Markup(  # noqa: S704 - every value escaped
            "<picture>" + "".join(sources) + f"<img{_attrs(attrs)}></picture>"
        )


def _srcset(variants: list[VariantDoc]) -> str:
    return ", ".join(f"{escape(v.url)} {v.width}w" for v in sorted(variants, key=lambda v: v.width))


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {k}="{escape(v)}"' for k, v in attrs.items())
