"""All the publisher's repositories, built once by the composition root (``app.build``)."""

from dataclasses import dataclass

from redis.asyncio import Redis

from xabar.publisher.media import MediaStore
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.articles import ArticleRepository
from xabar.publisher.repositories.audit import AuditLog
from xabar.publisher.repositories.collections import Collections
from xabar.publisher.repositories.comments import CommentRepository
from xabar.publisher.repositories.editors import EditorRepository
from xabar.publisher.repositories.featured import FeaturedRepository
from xabar.publisher.repositories.inbox import InboxRepository
from xabar.publisher.repositories.index import ArticleIndex
from xabar.publisher.repositories.letters import LetterRepository
from xabar.publisher.repositories.profiles import ProfileRepository
from xabar.publisher.repositories.schedule import ScheduleRepository
from xabar.publisher.repositories.slugs import SlugRegistry
from xabar.publisher.repositories.tips import TipIndex


@dataclass(frozen=True, slots=True)
class Repositories:
    articles: ArticleRepository
    index: ArticleIndex
    slugs: SlugRegistry
    schedule: ScheduleRepository
    featured: FeaturedRepository
    inbox: InboxRepository
    editors: EditorRepository
    audit: AuditLog
    media: MediaStore
    comments: CommentRepository
    letters: LetterRepository
    profiles: ProfileRepository

    @classmethod
    def build(
        cls,
        collections: Collections,
        *,
        article_relay: MarkedRelay,
        inbox_relay: MarkedRelay,
        index: ArticleIndex,
        media: MediaStore,
        comment_relay: MarkedRelay,
        profile_relay: MarkedRelay,
        redis: Redis,
    ) -> "Repositories":
        articles = ArticleRepository(collections, article_relay, index)
        return cls(
            articles=articles,
            index=index,
            slugs=SlugRegistry(collections, articles.slug_of),
            schedule=ScheduleRepository(collections),
            featured=FeaturedRepository(collections, article_relay.doc_locks),
            inbox=InboxRepository(collections, inbox_relay, TipIndex(index.redis)),
            editors=EditorRepository(collections),
            audit=AuditLog(collections, index.redis),
            media=media,
            comments=CommentRepository(collections, comment_relay, redis),
            letters=LetterRepository(collections, article_relay.doc_locks, redis),
            profiles=ProfileRepository(collections, profile_relay),
        )
