"""Article text: sanitized HTML (nh3), Markdown rendered then sanitized (markdown-it-py), tips'
plain text as escaped paragraphs, slugs transliterated from Cyrillic (python-slugify), and our
inline photos pointed at their re-encoded sizes (``responsive_images``, after the sanitizer:
``srcset`` is never taken from what an editor sent)."""

import html
import re
from collections.abc import Mapping, Sequence

import nh3
from markdown_it import MarkdownIt
from slugify import slugify

ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "q", "cite", "code", "pre"}
    | {"strong", "b", "em", "i", "u", "s", "del", "ins", "mark", "sub", "sup", "small", "abbr"}
    | {"ul", "ol", "li", "dl", "dt", "dd", "a", "img", "figure", "figcaption"}
    | {"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"}
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
SLUG_MAX_LENGTH = 80
_BLANK_LINES = re.compile(r"\n\s*\n")


def sanitize_html(raw: str) -> str:
    """Only the tags and attributes an article body needs; scripts, styles, event handlers and
    ``javascript:`` links are removed; links get ``rel="noopener noreferrer nofollow"``."""
    cleaned: str = nh3.clean(
        raw,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned.strip()


def render_markdown(source: str) -> str:
    """CommonMark (plus tables and strikethrough) with raw HTML disabled, then sanitized."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
    return sanitize_html(md.render(source))


def text_to_html(text: str) -> str:
    """A reporter's plain text as paragraphs: blank lines split paragraphs, single newlines
    become ``<br>``; everything is escaped."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p.strip() for p in _BLANK_LINES.split(normalized) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def html_to_text(body_html: str) -> str:
    """The readable text of a body (for excerpts and diffs of plain meaning)."""
    text = nh3.clean(body_html, tags=set())
    return html.unescape(re.sub(r"\s+", " ", text)).strip()


def base_slug(title: str) -> str:
    """The slug of a title: Cyrillic transliterated, lower case, words joined by hyphens."""
    slug: str = slugify(title, max_length=SLUG_MAX_LENGTH, word_boundary=True)
    return slug or "article"


def numbered_slug(base: str, n: int) -> str:
    """``base`` with the suffix ``-n`` (n >= 2), still within the length limit."""
    suffix = f"-{n}"
    return base[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix


def allocate(base: str, article_id: str, claims: dict[str, str], counters: dict[str, int]) -> str:
    """Pick a free slug for ``base`` from in-memory ``claims``/``counters`` (updated in place)."""
    if claims.get(base, article_id) == article_id:
        claims[base] = article_id
        return base
    n = counters.get(base, 0) + 1
    while True:
        candidate = numbered_slug(base, n + 1)
        if claims.get(candidate, article_id) == article_id:
            claims[candidate] = article_id
            counters[base] = n
            return candidate
        n += 1


# --- inline photos ------------------------------------------------------------------------------

# nh3's output quotes every attribute value with '"' and escapes '"' inside it, so a tag ends at
# the first '>' outside quotes.
_IMG = re.compile(r'<img\b((?:[^>"]|"[^"]*")*)>')
_ATTR = re.compile(r'([a-zA-Z][a-zA-Z0-9_-]*)(?:="([^"]*)")?')
_OUR_MEDIA = re.compile(r"^/media/([0-9a-f]{32})(?:/[0-9]{1,5}\.(?:webp|jpg))?$")
INLINE_WIDTH = 960  # the size an inline photo's src points to (the column is 780 px wide)
INLINE_SIZES = "(max-width: 860px) 100vw, 780px"
InlineSize = tuple[str, int, int]  # url, width, height of one JPEG size


def inline_media_ids(body_html: str, media_base: str) -> list[str]:
    """The ids of our own uploaded images the body shows (``media_base``: our media URL prefix,
    ``https://…/media/``; site-relative ``/media/…`` counts too)."""
    out: list[str] = []
    for match in _IMG.finditer(body_html):
        media_id = _our_media(_attrs(match.group(1)).get("src", ""), media_base)
        if media_id is not None and media_id not in out:
            out.append(media_id)
    return out


def responsive_images(
    body_html: str, media_base: str, sizes: Mapping[str, Sequence[InlineSize]]
) -> str:
    """The sanitized body with each of our inline photos pointing at its re-encoded sizes: ``src``
    the JPEG nearest ``INLINE_WIDTH``, its ``width`` and ``height``, and a ``srcset`` of every
    JPEG size (``sizes``: media id -> its JPEG sizes). Other images are left as they are."""

    def rewrite(match: re.Match[str]) -> str:
        attrs = _attrs(match.group(1))
        media_id = _our_media(attrs.get("src", ""), media_base)
        found = sorted(sizes.get(media_id or "", ()), key=lambda size: size[1])
        if not found:
            return match.group(0)
        fitting = [size for size in found if size[1] <= INLINE_WIDTH] or found[:1]
        url, width, height = fitting[-1]
        attrs.update(src=html.escape(url), width=str(width), height=str(height))
        attrs["srcset"] = html.escape(", ".join(f"{u} {w}w" for u, w, _ in found))
        attrs["sizes"] = INLINE_SIZES
        return "<img" + "".join(f' {k}="{v}"' for k, v in attrs.items()) + ">"

    return _IMG.sub(rewrite, body_html)


def _attrs(inside: str) -> dict[str, str]:
    """An nh3-serialized tag's attributes, values as they stand (still escaped)."""
    return {m.group(1).lower(): m.group(2) or "" for m in _ATTR.finditer(inside)}


def _our_media(src: str, media_base: str) -> str | None:
    url = html.unescape(src)
    if url.startswith(media_base):
        url = "/media/" + url[len(media_base) :]
    match = _OUR_MEDIA.match(url)
    return match.group(1) if match else None
