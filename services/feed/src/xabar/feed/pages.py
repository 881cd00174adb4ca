"""The readers' HTML pages, rendered with Jinja2 (autoescape on) from one read-model snapshot.

Every text that did not come sanitized from the publisher is escaped by the templates; the
article body was sanitized by the publisher and again by nh3 on the way in; JSON-LD is dumped
with ``<``, ``>``, ``&`` and the JS line separators as ``\\uXXXX`` escapes.
"""

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from xabar.contracts import COUNTRIES, Country
from xabar.feed import repository as rm
from xabar.feed.comments import CommentViews
from xabar.feed.config import FeedSettings
from xabar.feed.dates import Dates, rfc3339
from xabar.feed.documents import ArticleDoc, CountryProfileDoc
from xabar.feed.errors import ArticleNotFound, Gone, NotFound, PageNotFound, PollNotFound
from xabar.feed.images import Images
from xabar.feed.jsonld import news_article
from xabar.feed.repository import PollRead
from xabar.feed.sanitize import excerpt_html
from xabar.feed.views import (
    CommentsHref,
    HrefOf,
    ReadModelView,
    VotedView,
    article_path,
    chosen_texts,
    comments_path,
    earliest,
    last_page,
    pager,
    poll_expiry,
    poll_view,
    sections_of,
    tag_path,
    tally_version,
)
from xabar.feed.votes import Vote
from xabar.runtime.rendered import Rendered
from xabar.runtime.security import PagePolicy, origin_of

R = TypeVar("R", bound=rm.Read)
MAX_VOTE_READS = 50  # reads of the read model while waiting for a vote's tally, at most


class Revisions(Protocol):
    """Where the read model's revision can be waited for (the page cache)."""

    async def moved_past(self, revision: int, within: float) -> bool: ...


HERE = Path(__file__).parent
HTML = "text/html; charset=utf-8"
EXCERPT_BLOCKS = 3
ABOUT_NEWS = 6  # news of the country under its profile
MAX_TAG = 100

_JS_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def json_for_script(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/ld+json">``: no ``</script>`` can appear."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return Markup(text.translate(_JS_ESCAPES))  # noqa: S704 - every markup character is escaped


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["jsonld"] = json_for_script
    env.filters["rfc3339"] = rfc3339
    env.globals["tag_path"] = tag_path
    return env


def page_policy(settings: FeedSettings) -> PagePolicy:
    """The site's security headers: the runtime's strict policy with photos from anywhere
    over http(s), votes posted to the polls service, fetches to the site itself and the
    comment form framed from ingest."""
    return PagePolicy().with_(
        img_src="'self' http: https: data:",
        form_action=f"'self' {settings.polls_public_url}",
        connect_src="'self'",
        frame_src=origin_of(settings.ingest_public_url) or "'none'",
    )


def static_version() -> str:
    return hashlib.blake2b((HERE / "static" / "site.css").read_bytes(), digest_size=6).hexdigest()


@dataclass(eq=False)
class Pages(ReadModelView):
    """``policy``: the security headers (the app's is ``page_policy(settings)``);
    ``revisions``: where a page showing a vote waits for its tally (none: it does not wait)."""

    _: KW_ONLY
    env: Environment
    policy: PagePolicy
    revisions: Revisions | None = None
    dates: Dates = field(init=False)
    images: Images = field(init=False)
    css_href: str = field(init=False)

    def __post_init__(self) -> None:
        self.dates = Dates(self.settings.zone)
        self.images = Images(self.settings)
        self.css_href = f"/static/site.css?v={static_version()}"

    # --- shared context ----------------------------------------------------------------------

    def _base(self, now: datetime, *, path: str, title: str, active: str) -> dict[str, Any]:
        s = self.settings
        sections = [
            {"href": f"/{c.slug}", "name": c.name, "active": active == c.slug}
            for c in COUNTRIES.values()
        ]
        return {
            "site": {"name": s.site_name, "description": s.site_description, "url": s.site_url},
            "header_date": self.dates.header(now),
            "today_iso": self.dates.today(now).isoformat(),
            "report_url": f"{s.ingest_public_url}/report",
            "letters_url": f"{s.ingest_public_url}/letters",
            "sections": sections,
            "about": [{"href": about_path(c), "name": c.name} for c in COUNTRIES.values()],
            "profile": None,
            "active": active,
            "css_href": self.css_href,
            "title": title,
            "canonical": s.site_url + path,
            "page_url": s.site_url + path,
            "when": lambda dt: self.dates.stamp(dt, now),
            "full_date": self.dates.full,
            "article_path": article_path,
            "sections_of": sections_of,
            "picture": self.images.picture,
            "year": self.dates.local(now).year,
            "feeds": {"rss": "/rss.xml", "atom": "/atom.xml", "json": "/feed.json"},
            "head_links": [],
            "poll": None,
        }

    def _page(
        self,
        template: str,
        context: dict[str, Any],
        snapshot: rm.Snapshot,
        expires: float | None,
        status: int = 200,
    ) -> Rendered:
        body = self.env.get_template(template).render(context).encode()
        return self.rendered(
            body, HTML, snapshot, expires, status=status, headers=self.security_headers()
        )

    def security_headers(self) -> dict[str, str]:
        return self.policy.headers()

    def _poll(self, read: PollRead | None, now: datetime, voted: VotedView | None = None) -> Any:
        return poll_view(read, self.settings, now, voted) if read is not None else None

    async def _after_vote(
        self,
        vote: Vote | None,
        read: Callable[[], Awaitable[R]],
        polls: Callable[[R], Sequence[PollRead | None]],
    ) -> tuple[R, VotedView | None]:
        """``read()``; after ``vote`` in one of the polls the page shows (``polls``), read
        again as the revision moves until that poll's tally includes the vote (its version
        reaches ``vote.tally``), at most ``vote_wait_ms``. The vote as the page says it, or
        None when the page shows no such poll and choice (it is then the page itself)."""
        result = await read()
        if vote is None:
            return result, None
        deadline = time.monotonic() + self.settings.vote_wait_ms / 1000
        for _ in range(MAX_VOTE_READS):
            target = next(
                (p for p in polls(result) if p is not None and p.poll.poll_id == vote.poll_id),
                None,
            )
            texts = chosen_texts(target, vote.options) if target is not None else None
            if target is None or texts is None:
                return result, None
            voted = VotedView(vote.poll_id, texts, vote.tally)
            if tally_version(target) >= vote.tally or self.revisions is None:
                return result, voted
            left = deadline - time.monotonic()
            if left <= 0 or not await self.revisions.moved_past(result.snapshot.revision, left):
                return result, voted
            result = await read()
        return result, voted

    def _voted_page(
        self, page: Rendered, read: PollRead | None, voted: VotedView | None
    ) -> Rendered:
        """``page`` marked as the variant after ``voted`` (with the tally it shows)."""
        if voted is not None and read is not None:
            page.vote_tally = tally_version(read)
        return page

    def _featured(self, doc: ArticleDoc | None) -> dict[str, Any] | None:
        if doc is None:
            return None
        excerpt, more = excerpt_html(doc.body_html, EXCERPT_BLOCKS)
        return {"doc": doc, "excerpt": Markup(excerpt), "more": more}  # noqa: S704 - nh3-cleaned

    def _paged_context(
        self, ctx: dict[str, Any], base: str, page: int, last: int
    ) -> dict[str, Any]:
        href = HrefOf(base)
        if page > 1:
            ctx["head_links"].append(("prev", href(page - 1)))
        if page < last:
            ctx["head_links"].append(("next", href(page + 1)))
        ctx.update(page=page, last=last, pager=pager(page, last, href))
        return ctx

    # --- pages -------------------------------------------------------------------------------

    async def front(self, vote: Vote | None = None) -> Rendered:
        now = self.clock()
        size = self.settings.page_size
        read, voted = await self._after_vote(
            vote,
            lambda: self.read.list_page(
                rm.ALL,
                0,
                size,
                featured_key=rm.FEATURED,
                poll_key=rm.FRONT_POLLS,
                without_featured=True,
            ),
            lambda r: [r.poll],
        )
        last = last_page(read.total, size)
        ctx = self._base(now, path="/", title=self.settings.site_name, active="home")
        ctx["title"] = f"{self.settings.site_name} — новости Центральной Азии"
        ctx.update(
            featured=self._featured(read.featured),
            items=read.items,
            pager=pager(1, last, HrefOf("/news")),
            poll=self._poll(read.poll, now, voted),
            list_title="Последние новости",
            all_news_href="/news",
        )
        page = self._page("front.html", ctx, read.snapshot, self._expiry(read.poll, now))
        return self._voted_page(page, read.poll, voted)

    async def news(self, page: int, vote: Vote | None = None) -> Rendered:
        return await self._list(page, None, vote)

    async def section(self, country: Country, page: int, vote: Vote | None = None) -> Rendered:
        return await self._list(page, country, vote)

    async def _list(self, page: int, country: Country | None, vote: Vote | None) -> Rendered:
        now = self.clock()
        size = self.settings.page_size
        if page < 1:
            raise PageNotFound(f"no page {page}")
        if country is None:
            list_key, featured_key, poll_key, code = rm.ALL, "", rm.FRONT_POLLS, ""
            base, title, active = "/news", "Новости", "news"
        else:
            list_key = rm.country_list(country.code)
            featured_key = rm.country_featured(country.code) if page == 1 else ""
            poll_key, code = rm.country_polls(country.code), country.code
            base, title, active = f"/{country.slug}", country.name, country.slug
        read, voted = await self._after_vote(
            vote,
            lambda: self.read.list_page(
                list_key,
                (page - 1) * size,
                size,
                featured_key=featured_key,
                poll_key=poll_key,
                profile=code,
            ),
            lambda r: [r.poll],
        )
        last = last_page(read.total, size)
        if page > last:
            raise PageNotFound(f"no page {page}: the last one is {last}")
        path = base if page == 1 else f"{base}?page={page}"
        heading = title if page == 1 else f"{title} — страница {page}"
        ctx = self._base(
            now, path=path, title=f"{heading} — {self.settings.site_name}", active=active
        )
        if country is not None:
            ctx["feeds"] = {
                "rss": f"/{country.slug}/rss.xml",
                "atom": f"/{country.slug}/atom.xml",
                "json": f"/{country.slug}/feed.json",
            }
            ctx["profile"] = _profile_context(read.profile, country)
        ctx.update(
            heading=title,
            featured=self._featured(read.featured),
            items=read.items,
            poll=self._poll(read.poll, now, voted),
        )
        self._paged_context(ctx, base, page, last)
        rendered = self._page("list.html", ctx, read.snapshot, self._expiry(read.poll, now))
        return self._voted_page(rendered, read.poll, voted)

    async def tag(self, tag: str, page: int) -> Rendered:
        """The articles of a tag, newest first, paged: 404 for a tag no article carries."""
        now = self.clock()
        size = self.settings.page_size
        if page < 1 or not tag or len(tag) > MAX_TAG:
            raise PageNotFound("no such tag page")
        read = await self.read.list_page(rm.tag_list(tag), (page - 1) * size, size)
        last = last_page(read.total, size)
        if read.total == 0 or page > last:
            raise PageNotFound("no such tag page")
        base = tag_path(tag)
        heading = f"Тег «{tag}»" if page == 1 else f"Тег «{tag}» — страница {page}"
        ctx = self._base(
            now,
            path=base if page == 1 else f"{base}?page={page}",
            title=f"{heading} — {self.settings.site_name}",
            active="",
        )
        ctx.update(heading=f"Тег «{tag}»", featured=None, items=read.items)
        self._paged_context(ctx, base, page, last)
        return self._page("list.html", ctx, read.snapshot, self.dates.day_end(now))

    async def about(self, country: Country) -> Rendered:
        """The country's "О стране": its profile and latest news (404 until it has one)."""
        now = self.clock()
        read = await self.read.list_page(
            rm.country_list(country.code), 0, ABOUT_NEWS, profile=country.code
        )
        if read.profile is None:
            raise NotFound(f"no profile of {country.code}")
        path = about_path(country)
        ctx = self._base(
            now,
            path=path,
            title=f"О стране: {read.profile.title} — {self.settings.site_name}",
            active=country.slug,
        )
        ctx.update(
            doc=read.profile,
            body=Markup(read.profile.body_html),  # noqa: S704 - sanitized twice, as articles
            country=country,
            items=read.items,
            item_level=3,
        )
        return self._page("about.html", ctx, read.snapshot, self.dates.day_end(now))

    async def article(
        self, slug: str, comments_page: int = 1, vote: Vote | None = None
    ) -> Rendered:
        """The article with page ``comments_page`` of its approved comments (404 past the
        last one), the form framed from ingest while the article takes comments."""
        now = self.clock()
        size = self.settings.comments_page_size
        if comments_page < 1:
            raise PageNotFound(f"no comments page {comments_page}")
        read, voted = await self._after_vote(
            vote,
            lambda: self.read.article(slug, (comments_page - 1) * size, size),
            lambda r: [r.poll],
        )
        doc = read.article
        if doc is None:
            if read.gone:
                raise Gone(f"article {slug!r} was unpublished")
            raise ArticleNotFound(f"no article {slug!r}")
        if doc.slug != slug:  # an old slug: send readers and crawlers to the current one
            location = self.settings.site_url + article_path(doc.slug)
            return self.rendered(
                b"", HTML, read.snapshot, status=301, headers={"Location": location}
            )
        last = last_page(doc.comment_count, size)
        if comments_page > last:
            raise PageNotFound(f"no comments page {comments_page}: the last one is {last}")
        path = article_path(doc.slug)
        site = self.settings.site_name
        title = f"{doc.title} — {site}"
        if comments_page > 1:
            title = f"{doc.title} — комментарии, страница {comments_page} — {site}"
        ctx = self._base(now, path=path, title=title, active="news")
        if comments_page > 1:
            ctx["page_url"] = self.settings.site_url + comments_path(path, comments_page)
        image = self.images.of(doc)
        views = CommentViews(self.settings.ingest_public_url, doc.article_id)
        href = CommentsHref(path)
        ctx.update(
            doc=doc,
            body=Markup(doc.body_html),  # noqa: S704 - sanitized by the publisher and by nh3
            poll=self._poll(read.poll, now, voted),
            jsonld=news_article(doc, self.settings, ctx["canonical"], image, read.comments),
            share_image=image,
            published_iso=rfc3339(doc.published_at),
            updated_iso=rfc3339(doc.updated_at),
            threads=views.threads(read.comments, read.continued),
            comments_page=comments_page,
            comments_pager=pager(comments_page, last, href),
            comments_href=href,
            comment_form_url=views.form,
        )
        page = self._page("article.html", ctx, read.snapshot, self._expiry(read.poll, now))
        return self._voted_page(page, read.poll, voted)

    async def polls(self, page: int, vote: Vote | None = None) -> Rendered:
        now = self.clock()
        size = self.settings.polls_page_size
        if page < 1:
            raise PageNotFound(f"no page {page}")
        read, voted = await self._after_vote(
            vote, lambda: self.read.polls((page - 1) * size, size), lambda r: r.items
        )
        last = last_page(read.total, size)
        if page > last:
            raise PageNotFound(f"no page {page}: the last one is {last}")
        path = "/polls" if page == 1 else f"/polls?page={page}"
        ctx = self._base(
            now, path=path, title=f"Опросы — {self.settings.site_name}", active="polls"
        )
        ctx.update(
            heading="Опросы",
            polls=[self._poll(p, now, voted) for p in read.items],
            pager=pager(page, last, HrefOf("/polls")),
            page=page,
        )
        expires = earliest(*(poll_expiry(p, now) for p in read.items), self.dates.day_end(now))
        rendered = self._page("polls.html", ctx, read.snapshot, expires)
        target = next((p for p in read.items if voted and p.poll.poll_id == voted.poll_id), None)
        return self._voted_page(rendered, target, voted)

    async def poll(self, poll_id: str, vote: Vote | None = None) -> Rendered:
        """One poll's own page: the question, the form while it is open, the results."""
        now = self.clock()
        read, voted = await self._after_vote(
            vote, lambda: self.read.poll(poll_id), lambda r: [r.poll]
        )
        if read.poll is None:
            raise PollNotFound("no such poll")
        view = self._poll(read.poll, now, voted)
        ctx = self._base(
            now,
            path=view.page_path,
            title=f"{view.question} — опрос — {self.settings.site_name}",
            active="polls",
        )
        ctx.update(heading="Опрос", polls=[view], pager=[], page=1)
        expires = earliest(poll_expiry(read.poll, now), self.dates.day_end(now))
        rendered = self._page("polls.html", ctx, read.snapshot, expires)
        return self._voted_page(rendered, read.poll, voted)

    def unavailable(self) -> bytes:
        now = self.clock()
        title = f"Сайт временно недоступен — {self.settings.site_name}"
        ctx = self._base(now, path="/", title=title, active="")
        return self.env.get_template("unavailable.html").render(ctx).encode()

    def not_found(self, message: str = "") -> bytes:
        now = self.clock()
        ctx = self._base(
            now, path="/", title=f"Страница не найдена — {self.settings.site_name}", active=""
        )
        ctx["message"] = message
        return self.env.get_template("not_found.html").render(ctx).encode()

    def gone(self) -> bytes:
        now = self.clock()
        ctx = self._base(
            now,
            path="/",
            title=f"Материал снят с публикации — {self.settings.site_name}",
            active="",
        )
        return self.env.get_template("gone.html").render(ctx).encode()

    # --- helpers -------------------------------------------------------------------------------

    def _expiry(self, poll: PollRead | None, now: datetime) -> float | None:
        return earliest(poll_expiry(poll, now), self.dates.day_end(now))


def about_path(country: Country) -> str:
    return f"/{country.slug}/about"


def _profile_context(profile: CountryProfileDoc | None, country: Country) -> Any:
    if profile is None:
        return None
    return {"title": profile.title, "lead": profile.lead, "href": about_path(country)}
