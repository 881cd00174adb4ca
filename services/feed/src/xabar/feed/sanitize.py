"""Defense in depth on the way into the read model, and safe excerpts on the way out.

- Plain-text fields (titles, leads, tags, credits, poll questions and options...) are kept as text
  and escaped by the templates; here they only lose what no HTML/XML page can carry: control
  characters (XML 1.0 forbids them, feed readers choke) and lone surrogates.
- ``body_html`` is sanitized by the publisher; it still goes through nh3 with a conservative
  allow-list, so a publisher bug cannot put a script on the readers' site.
- URLs that end up in ``href``/``src`` are kept only if they are absolute http(s) (or
  ``mailto:`` links) or site-relative paths: never protocol-relative (``//host``), path-relative
  or of another scheme. An ``<a>`` whose href went is unwrapped to its text, an ``<img>``
  without a ``src`` is dropped, and one without ``alt`` gets an empty one (decorative).
- Headings never skip a level below the page's own ``h1`` (``h2`` first, then at most one level
  deeper at a time), as the HTML outline and the validators want.
- Feeds carry only absolute URLs: ``absolute_urls`` turns the site-relative ones into the site's.
"""

import re
from functools import cache
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import nh3

_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

ALLOWED_TAGS = frozenset(
    [
        "p",
        "br",
        "h2",
        "h3",
        "h4",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "sub",
        "sup",
        "mark",
        "blockquote",
        "q",
        "cite",
        "ul",
        "ol",
        "li",
        "a",
        "img",
        "figure",
        "figcaption",
        "hr",
        "code",
        "pre",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "caption",
    ]
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "blockquote": {"cite"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def clean_text(value: str) -> str:
    """Text without the characters HTML and XML cannot carry."""
    return _BAD_CHARS.sub("", value)


URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
_IMG = re.compile(r"<img\b[^>]*>")
_A_WITHOUT_HREF = re.compile(r"<a\b(?![^>]*\shref=)[^>]*>(.*?)</a>", re.DOTALL)
_HEADING = re.compile(r"<h([1-6])>(.*?)</h\1>", re.DOTALL)
_SITE_RELATIVE = re.compile(r'\b(href|src)="/(?!/)')


def _url_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in URL_ATTRIBUTES:
        return value
    if attribute == "href" and value.lower().startswith("mailto:"):
        return value
    return safe_url(value)


@cache
def _cleaner() -> nh3.Cleaner:
    """nh3 with the allow-list, built once (half the cost of ``nh3.clean`` with arguments)."""
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_url_filter,
    )


def _image(match: re.Match[str]) -> str:
    tag = match.group(0)
    if " src=" not in tag:
        return ""
    if " alt=" not in tag:
        return tag[:-1] + ' alt="">'
    return tag


def leveled_headings(html: str, below: int = 1) -> str:
    """Headings renumbered so that none skips a level: the first is at most ``below + 1``,
    each next at most one deeper than the one before (going up is always fine)."""
    previous = below

    def level(match: re.Match[str]) -> str:
        nonlocal previous
        n = max(below + 1, min(int(match.group(1)), previous + 1))
        previous = n
        return f"<h{n}>{match.group(2)}</h{n}>"

    return _HEADING.sub(level, html)


def clean_html(value: str) -> str:
    """``value`` through nh3 with a conservative allow-list (links get rel=noopener...), links
    and images only with URLs a reader can follow, headings without gaps."""
    html = _cleaner().clean(clean_text(value))
    html = _IMG.sub(_image, html)
    html = _A_WITHOUT_HREF.sub(r"\1", html)
    return leveled_headings(html)


def absolute_urls(html: str, site_url: str) -> str:
    """``html`` (cleaned) with its site-relative ``href``/``src`` made absolute on ``site_url``."""
    return _SITE_RELATIVE.sub(lambda m: f'{m.group(1)}="{site_url}/', html)


URL_SAFE = ":/?#[]@!$&'()*+,;=%~"  # RFC 3986 reserved and unreserved, and escapes as they are


def safe_url(value: str | None) -> str | None:
    """``value`` if it is an absolute http(s) URL or a site-relative path, else None; what
    a URL cannot hold as it is (``<``, quotes, non-ASCII...) percent-encoded."""
    if not value:
        return None
    value = clean_text(value).strip()
    if not value or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.netloc:
        return quote(value, safe=URL_SAFE)
    if not parts.scheme and not parts.netloc and value.startswith("/") and "\\" not in value:
        return quote(value, safe=URL_SAFE)
    return None


class _TopLevelBlocks(HTMLParser):
    """Finds where the ``limit``-th top-level text block (not a heading) of a fragment ends."""

    VOID = frozenset({"br", "hr", "img", "wbr", "col", "area", "input", "meta", "link", "source"})
    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self, source: str, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self._lines = [0]
        for line in source.splitlines(keepends=True):
            self._lines.append(self._lines[-1] + len(line))
        self.limit = limit
        self.depth = 0
        self.blocks = 0
        self.end: int | None = None

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._lines[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.end is None and tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.end is not None or tag in self.VOID:
            return
        self.depth = max(0, self.depth - 1)
        if self.depth == 0 and tag not in self.HEADINGS:
            self.blocks += 1
            if self.blocks >= self.limit:
                self.end = self._offset() + len(f"</{tag}>")


def excerpt_html(body_html: str, blocks: int) -> tuple[str, bool]:
    """``body_html`` up to its ``blocks``-th top-level paragraph (headings are kept but not
    counted, so an excerpt never ends on a heading), and whether more follows.

    The cut is made at an element boundary and the result goes through nh3 again, so it is
    well-formed whatever the input looked like.
    """
    parser = _TopLevelBlocks(body_html, blocks)
    parser.feed(body_html)
    parser.close()
    if parser.end is None:
        return body_html, False
    head = body_html[: parser.end]
    return clean_html(head), bool(body_html[parser.end :].strip())
