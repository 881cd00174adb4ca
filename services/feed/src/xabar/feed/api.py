"""The JSON API over the read model: the same data as the pages, as JSON."""

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from xabar.contracts import Country
from xabar.feed import repository as rm
from xabar.feed.dates import Dates
from xabar.feed.documents import ArticleDoc
from xabar.feed.errors import ArticleNotFound, PageNotFound
from xabar.feed.repository import PollRead, Snapshot
from xabar.feed.schemas import (
    ArticleOut,
    ArticleSummaryOut,
    CorrectionOut,
    CountryOut,
    FrontOut,
    ImageOut,
    OptionOut,
    PageOut,
    PollOut,
    PollsOut,
    SectionOut,
)
from xabar.feed.views import (
    ReadModelView,
    article_path,
    earliest,
    last_page,
    poll_expiry,
    poll_view,
)
from xabar.runtime.rendered import Rendered

JSON = "application/json"


@dataclass(eq=False)
class JsonApi(ReadModelView):
    dates: Dates = field(init=False)

    def __post_init__(self) -> None:
        self.dates = Dates(self.settings.zone)

    # --- shapes ------------------------------------------------------------------------------

    def _summary_fields(self, doc: ArticleDoc) -> dict[str, object]:
        return {
            "article_id": doc.article_id,
            "slug": doc.slug,
            "url": self.settings.site_url + article_path(doc.slug),
            "title": doc.title,
            "lead": doc.lead,
            "countries": list(doc.countries),
            "tags": list(doc.tags),
            "image": ImageOut.model_validate(doc.image.model_dump()) if doc.image else None,
            "featured": doc.featured,
            "comment_count": doc.comment_count,
            "published_at": doc.published_at,
            "updated_at": doc.updated_at,
        }

    def summary(self, doc: ArticleDoc) -> ArticleSummaryOut:
        return ArticleSummaryOut.model_validate(self._summary_fields(doc))

    def article_out(self, doc: ArticleDoc) -> ArticleOut:
        return ArticleOut.model_validate(
            {
                **self._summary_fields(doc),
                "body_html": doc.body_html,
                "source": doc.source,
                "source_url": doc.source_url,
                "author": doc.author,
                "featured_countries": list(doc.featured_countries),
                "corrections": [
                    CorrectionOut(note=c.note, corrected_at=c.corrected_at) for c in doc.corrections
                ],
            }
        )

    def poll_out(self, read: PollRead, now: datetime) -> PollOut:
        view = poll_view(read, self.settings, now)
        return PollOut(
            poll_id=view.poll_id,
            question=view.question,
            options=[
                OptionOut(option_id=o.option_id, text=o.text, votes=o.votes, percent=o.percent)
                for o in view.options
            ],
            multiple=view.multiple,
            open=view.is_open,
            results_visible=view.show_results,
            results_visibility=read.poll.results_visibility,
            total_votes=view.total_votes if view.show_results else None,
            vote_url=view.vote_url,
            opens_at=view.opens_at,
            closes_at=view.closes_at,
            closed_at=view.closed_at,
            countries=list(view.countries),
        )

    def _rendered(
        self, model: BaseModel, snapshot: Snapshot, expires: float | None = None
    ) -> Rendered:
        return self.rendered(
            model.model_dump_json().encode(),
            JSON,
            snapshot,
            expires,
            headers={"X-Content-Type-Options": "nosniff"},
        )

    def _page_out(self, read: rm.ListRead, page: int, size: int) -> PageOut:
        return PageOut(
            page=page,
            pages=last_page(read.total, size),
            page_size=size,
            total=read.total,
            items=[self.summary(d) for d in read.items],
        )

    # --- endpoints -----------------------------------------------------------------------------

    async def front(self) -> Rendered:
        now = self.clock()
        size = self.settings.page_size
        read = await self.read.list_page(
            rm.ALL,
            0,
            size,
            featured_key=rm.FEATURED,
            poll_key=rm.FRONT_POLLS,
            without_featured=True,
        )
        body = FrontOut(
            date=self.dates.header(now),
            featured=self.article_out(read.featured) if read.featured else None,
            latest=self._page_out(read, 1, size),
            poll=self.poll_out(read.poll, now) if read.poll else None,
        )
        expires = earliest(poll_expiry(read.poll, now), self.dates.day_end(now))
        return self._rendered(body, read.snapshot, expires)

    async def articles(self, page: int) -> Rendered:
        size = self.settings.page_size
        read = await self._list(rm.ALL, page, size)
        return self._rendered(self._page_out(read, page, size), read.snapshot)

    async def section(self, country: Country, page: int) -> Rendered:
        now = self.clock()
        size = self.settings.page_size
        read = await self._list(
            rm.country_list(country.code),
            page,
            size,
            featured_key=rm.country_featured(country.code),
            poll_key=rm.country_polls(country.code),
        )
        body = SectionOut(
            country=CountryOut(code=country.code, slug=country.slug, name=country.name),
            featured=self.article_out(read.featured) if read.featured else None,
            latest=self._page_out(read, page, size),
            poll=self.poll_out(read.poll, now) if read.poll else None,
        )
        return self._rendered(body, read.snapshot, poll_expiry(read.poll, now))

    async def _list(
        self, list_key: str, page: int, size: int, *, featured_key: str = "", poll_key: str = ""
    ) -> rm.ListRead:
        if page < 1:
            raise PageNotFound(f"no page {page}")
        read = await self.read.list_page(
            list_key, (page - 1) * size, size, featured_key=featured_key, poll_key=poll_key
        )
        if page > last_page(read.total, size):
            raise PageNotFound(f"no page {page}: the last one is {last_page(read.total, size)}")
        return read

    async def article(self, slug: str) -> Rendered:
        read = await self.read.article(slug)
        if read.article is None or read.article.slug != slug:
            raise ArticleNotFound(f"no article {slug!r}")
        return self._rendered(self.article_out(read.article), read.snapshot)

    async def polls(self, page: int) -> Rendered:
        now = self.clock()
        size = self.settings.polls_page_size
        if page < 1:
            raise PageNotFound(f"no page {page}")
        read = await self.read.polls((page - 1) * size, size)
        last = last_page(read.total, size)
        if page > last:
            raise PageNotFound(f"no page {page}: the last one is {last}")
        body = PollsOut(
            page=page,
            pages=last,
            total=read.total,
            items=[self.poll_out(p, now) for p in read.items],
        )
        expires = earliest(*(poll_expiry(p, now) for p in read.items))
        return self._rendered(body, read.snapshot, expires)
