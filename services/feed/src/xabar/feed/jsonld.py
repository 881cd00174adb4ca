"""schema.org ``NewsArticle`` of an article page, complete as Google's article guidelines ask:
headline, images (the article's photo, else the site's default image), both dates, the author
(a person by name, else the newsroom as an Organization "Редакция"), and the publisher as an
Organization with its logo; its ``commentCount`` and the page's readers' comments as
``Comment`` (plain text; the page dumps it all as escaped JSON)."""

from typing import Any

from xabar.feed.comments import comment_dom_id
from xabar.feed.config import FeedSettings
from xabar.feed.dates import rfc3339
from xabar.feed.documents import ArticleDoc
from xabar.feed.images import LOGO, ShareImage
from xabar.feed.repository import CommentRead
from xabar.feed.views import sections_of

NEWSROOM = "Редакция"
HEADLINE_MAX = 110  # Google shows at most this many characters


def organization(settings: FeedSettings) -> dict[str, Any]:
    path, width, height = LOGO
    return {
        "@type": "Organization",
        "name": settings.site_name,
        "url": settings.site_url + "/",
        "logo": {
            "@type": "ImageObject",
            "url": settings.site_url + path,
            "width": width,
            "height": height,
        },
    }


def author(doc: ArticleDoc, settings: FeedSettings) -> dict[str, Any]:
    if doc.author and doc.author != NEWSROOM:
        return {"@type": "Person", "name": doc.author}
    return {"@type": "Organization", "name": NEWSROOM, "url": settings.site_url + "/"}


def comment(read: CommentRead, url: str) -> dict[str, Any]:
    c = read.comment
    return {
        "@type": "Comment",
        "@id": f"{url}#{comment_dom_id(c.comment_id)}",
        "author": {"@type": "Person", "name": c.name},
        "text": c.text,
        "dateCreated": rfc3339(c.published_at),
    }


def news_article(
    doc: ArticleDoc,
    settings: FeedSettings,
    url: str,
    image: ShareImage,
    comments: list[CommentRead] | None = None,
) -> dict[str, Any]:
    picture: dict[str, Any] = {"@type": "ImageObject", "url": image.url}
    if image.width and image.height:
        picture.update(width=image.width, height=image.height)
    if image.credit:
        picture["creditText"] = image.credit
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": doc.title[:HEADLINE_MAX],
        "description": doc.lead,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "image": [picture],
        "datePublished": rfc3339(doc.published_at),
        "dateModified": rfc3339(doc.updated_at),
        "inLanguage": "ru",
        "isAccessibleForFree": True,
        "commentCount": doc.comment_count,
        "author": [author(doc, settings)],
        "publisher": organization(settings),
    }
    sections = [c.name for c in sections_of(doc)]
    if sections:
        data["articleSection"] = sections
    if doc.tags:
        data["keywords"] = list(doc.tags)
    if doc.source_url:
        data["isBasedOn"] = doc.source_url
    if comments:
        data["comment"] = [comment(c, url) for c in comments]
    return data
