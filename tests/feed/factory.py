"""Events as the publisher and the polls service emit them, for the feed's tests."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from xabar.contracts import (
    AggregateEvent,
    ArticleImage,
    ArticleRemoval,
    ArticleState,
    CommentRemoval,
    PollOption,
    PollState,
    PollTally,
    PublicComment,
    registry,
)
from xabar.publisher.comments import public_comment

_ids = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def article_state(n: int | None = None, **overrides: Any) -> ArticleState:
    """A plausible article; ``n`` names it (``art-n``, slug ``novost-n``)."""
    n = next(_ids) if n is None else n
    published = overrides.pop("published_at", now() - timedelta(minutes=n % 600))
    fields: dict[str, Any] = {
        "article_id": f"art-{n}",
        "slug": f"novost-{n}",
        "title": f"Новость номер {n}",
        "lead": f"Краткое содержание новости {n}",
        "body_html": f"<p>Первый абзац новости {n}.</p><p>Второй абзац.</p>",
        "countries": ("KZ",),
        "tags": ("экономика",),
        "image": None,
        "source": None,
        "author": "Редакция",
        "published_at": published,
        "updated_at": published,
    }
    fields.update(overrides)
    return ArticleState(**fields)


def _event(
    event_type: str, producer: str, aggregate_id: str, version: int, data: Any
) -> AggregateEvent:
    """A new ``event_type`` (its class the contracts' registry holds for schema version 1)."""
    event: AggregateEvent = registry[(event_type, 1)].create(
        producer=producer, aggregate_id=aggregate_id, version=version, data=data
    )
    return event


def published(state: ArticleState, version: int = 1) -> AggregateEvent:
    return _event("article.published", "publisher", state.article_id, version, state)


def updated(state: ArticleState, version: int) -> AggregateEvent:
    return _event("article.updated", "publisher", state.article_id, version, state)


def unpublished(state: ArticleState, version: int) -> AggregateEvent:
    removal = ArticleRemoval(article_id=state.article_id, slug=state.slug, unpublished_at=now())
    return _event("article.unpublished", "publisher", state.article_id, version, removal)


def poll_state(poll_id: str, question: str, options: list[str], **overrides: Any) -> PollState:
    fields: dict[str, Any] = {
        "poll_id": poll_id,
        "question": question,
        "options": tuple(PollOption(option_id=f"o{i}", text=t) for i, t in enumerate(options, 1)),
        "opens_at": now() - timedelta(days=1),
    }
    fields.update(overrides)
    return PollState(**fields)


def poll_opened(state: PollState, version: int = 1) -> AggregateEvent:
    return _event("poll.opened", "polls", state.poll_id, version, state)


def poll_closed(state: PollState, version: int) -> AggregateEvent:
    return _event("poll.closed", "polls", state.poll_id, version, state)


def poll_tallied(poll_id: str, counts: list[int], version: int) -> AggregateEvent:
    total = sum(counts)
    percents = [round(c * 100 / total) if total else 0 for c in counts]
    tally = PollTally(
        poll_id=poll_id,
        counts={f"o{i}": c for i, c in enumerate(counts, 1)},
        percentages={f"o{i}": p for i, p in enumerate(percents, 1)},
        total_votes=total,
        tallied_at=now(),
    )
    return _event("poll.tallied", "polls", poll_id, version, tally)


def image(url: str = "http://127.0.0.1:8082/media/m-1", **fields: Any) -> ArticleImage:
    return ArticleImage(url=url, **fields)


def comment(
    article: ArticleState,
    comment_id: str,
    text: str = "Спасибо за новость",
    *,
    name: str = "Читатель",
    parent_id: str | None = None,
    minutes: int = 0,
    edited: bool = False,
) -> PublicComment:
    """An approved comment on ``article``, ``minutes`` after a fixed moment, as the publisher
    puts it in ``comment.published`` (from its moderation document)."""
    return public_comment(
        {
            "_id": comment_id,
            "article_id": article.article_id,
            "parent_id": parent_id,
            "name": name,
            "text": text,
            "edited": edited,
            "published_at": COMMENTS_FROM + timedelta(minutes=minutes),
        }
    )


COMMENTS_FROM = datetime(2026, 2, 17, 5, 0, tzinfo=UTC)


def comment_published(data: PublicComment, version: int = 2) -> AggregateEvent:
    return _event("comment.published", "publisher", data.comment_id, version, data)


def comment_removed(data: PublicComment, version: int = 3) -> AggregateEvent:
    removal = CommentRemoval(
        comment_id=data.comment_id, article_id=data.article_id, removed_at=now()
    )
    return _event("comment.removed", "publisher", data.comment_id, version, removal)
