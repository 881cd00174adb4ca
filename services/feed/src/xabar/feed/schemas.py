"""Response bodies of the JSON API (declared in /openapi.json)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ImageOut(BaseModel):
    url: str
    credit: str | None = None
    alt: str | None = None
    width: int | None = None
    height: int | None = None


class CorrectionOut(BaseModel):
    note: str
    corrected_at: datetime


class ArticleSummaryOut(BaseModel):
    article_id: str
    slug: str
    url: str = Field(description="Absolute URL of the article page")
    title: str
    lead: str
    countries: list[str]
    tags: list[str]
    image: ImageOut | None
    featured: bool
    comment_count: int
    published_at: datetime
    updated_at: datetime


class ArticleOut(ArticleSummaryOut):
    body_html: str = Field(description="Sanitized HTML of the article body")
    source: str | None
    source_url: str | None
    author: str | None
    featured_countries: list[str]
    corrections: list[CorrectionOut]


class PageOut(BaseModel):
    page: int
    pages: int = Field(description="Number of the last page")
    page_size: int
    total: int
    items: list[ArticleSummaryOut]


class OptionOut(BaseModel):
    option_id: str
    text: str
    votes: int | None = Field(description="null while the poll's results are hidden")
    percent: int | None = Field(description="Whole percent; null while results are hidden")


class PollOut(BaseModel):
    poll_id: str
    question: str
    options: list[OptionOut]
    multiple: bool
    open: bool
    results_visible: bool
    results_visibility: Literal["always", "after_vote", "after_close"]
    total_votes: int | None
    vote_url: str = Field(description="POST an urlencoded form with `option` here to vote")
    opens_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    countries: list[str]


class PollsOut(BaseModel):
    page: int
    pages: int
    total: int
    items: list[PollOut]


class CountryOut(BaseModel):
    code: str
    slug: str
    name: str


class FrontOut(BaseModel):
    date: str = Field(description='Today in the site\'s time zone, e.g. "вторник, 17 февраля 2026"')
    featured: ArticleOut | None = Field(description='"Новость дня"')
    latest: PageOut = Field(description="Page 1 of the news list, without the news of the day")
    poll: PollOut | None


class SectionOut(BaseModel):
    country: CountryOut
    featured: ArticleOut | None
    latest: PageOut
    poll: PollOut | None
