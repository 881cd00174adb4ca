"""Readers' comments as an article page shows them.

A comment is plain text. It is escaped (``markupsafe``), its paragraphs kept (a blank line
starts one, a line break stays one), and the http(s) URLs in it become links with
``rel="nofollow ugc"`` (user-generated content, no ranking passed on): only absolute http(s)
URLs, as written, the sentence's punctuation after them left out. When a moderator edited a
passage out (``edited``), the publisher put "[отредактировано]" in its place: the page marks it,
and says it at the end of a comment that lacks it.

A page holds ``comments_page_size`` comments in reading order (threads oldest first, each
followed by its replies, one level deep); a thread cut by the page's start is shown under a line
naming the comment it continues.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from markupsafe import Markup, escape

from xabar.feed.documents import CommentDoc
from xabar.feed.repository import CommentRead
from xabar.feed.sanitize import safe_url

EDITED = "[отредактировано]"
LINK_REL = "nofollow ugc noopener"
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?…»)]}'\"*"  # punctuation ending a sentence, not the URL
_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")


def _url_end(url: str) -> str:
    """``url`` without the punctuation after it; a closing bracket stays when it closes one
    the URL opened (Wikipedia's ``..._(город)``)."""
    while url and url[-1] in _TRAILING:
        closing = url[-1]
        opening = {")": "(", "]": "[", "}": "{"}.get(closing)
        if opening is not None and url.count(opening) >= url.count(closing):
            break
        url = url[:-1]
    return url


def linkified(text: str) -> Markup:
    """``text`` escaped, its http(s) URLs as links for readers (``rel="nofollow ugc"``)."""
    out: list[str] = []
    at = 0
    for match in _URL.finditer(text):
        url = _url_end(match.group(0))
        href = safe_url(url) if len(url) > len("https://") else None
        if href is None:
            continue
        out.append(escape(text[at : match.start()]))
        out.append(Markup('<a href="{}" rel="{}">{}</a>').format(href, LINK_REL, url))
        at = match.start() + len(url)
    out.append(escape(text[at:]))
    return Markup("").join(out)


_MARK = f'<span class="edited">{EDITED}</span>'


def _marked(html: Markup) -> Markup:
    """The moderator's "[отредактировано]" marked (``html`` is escaped text: the words are in
    it as they are, and the mark is ours)."""
    return Markup(str(html).replace(EDITED, _MARK))  # noqa: S704


def comment_html(text: str, edited: bool) -> Markup:
    """The comment's text as paragraphs of escaped text with links."""
    paragraphs: list[Markup] = []
    for block in _PARAGRAPHS.split(text.strip()):
        lines = [linkified(line.strip()) for line in block.splitlines()]
        html = Markup("<br>").join(line for line in lines if line)
        if html:
            paragraphs.append(_marked(html) if edited else html)
    if edited and EDITED not in text:
        paragraphs.append(Markup(_MARK))  # noqa: S704 - ours
    return Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs)


@dataclass(frozen=True, slots=True)
class CommentView:
    comment_id: str
    dom_id: str  # "comment-N": safe in an HTML id and a fragment
    name: str
    html: Markup
    published_at: datetime
    reply_url: str


@dataclass(slots=True)
class ThreadView:
    """A thread's first comment and the replies under it on this page; ``first`` is None
    when the page starts inside the thread, whose first comment ``continues`` names."""

    first: CommentView | None
    replies: list[CommentView] = field(default_factory=list)
    continues: CommentView | None = None


def form_url(ingest_url: str, article_id: str) -> str:
    """Ingest's comment form for the article (the page frames it)."""
    return f"{ingest_url}/comments/form?article_id={quote(article_id, safe='')}"


def comment_dom_id(comment_id: str) -> str:
    return "comment-" + quote(comment_id, safe="")


class CommentViews:
    """Comment documents as one article page shows them."""

    def __init__(self, ingest_url: str, article_id: str) -> None:
        self.form = form_url(ingest_url, article_id)

    def view(self, doc: CommentDoc) -> CommentView:
        return CommentView(
            comment_id=doc.comment_id,
            dom_id=comment_dom_id(doc.comment_id),
            name=doc.name,
            html=comment_html(doc.text, doc.edited),
            published_at=doc.published_at,
            reply_url=f"{self.form}&reply_to={quote(doc.comment_id, safe='')}",
        )

    def threads(self, shown: list[CommentRead], continued: CommentDoc | None) -> list[ThreadView]:
        """``shown`` (in reading order) grouped by thread."""
        threads: list[ThreadView] = []
        for read in shown:
            view = self.view(read.comment)
            if not read.thread:
                threads.append(ThreadView(view))
            elif threads:
                threads[-1].replies.append(view)
            else:  # the page starts inside a thread
                head = self.view(continued) if continued is not None else None
                threads.append(ThreadView(None, [view], continues=head))
        return threads
