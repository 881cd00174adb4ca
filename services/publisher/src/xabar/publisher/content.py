"""Article text: sanitized HTML (nh3), Markdown rendered then sanitized (markdown-it-py), tips'
plain text as escaped paragraphs, and slugs transliterated from Cyrillic (python-slugify)."""

import html
import re

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
