"""The feed service's exception hierarchy, mapped to HTTP once in ``xabar.feed.routes``::

    FeedError
    ├── NotFound                 404: pages for the site, the JSON error for the API
    │   ├── PageNotFound         a page number outside 1..last, or not a number at all
    │   ├── ArticleNotFound      no published article has this slug
    │   └── PollNotFound         no poll has this id
    ├── Gone                     410: the article was published once and is unpublished now
    ├── BadParameter             400: a query parameter of the JSON API is not what it must be
    ├── ReadModelUnavailable     503 with Retry-After: Redis did not answer
    └── RebuildError             the CLI's: another rebuild runs, or the switch lost its lock

``message`` is what a reader or a client is told: the service's own words, never an
exception's text from a library.
"""


class FeedError(Exception):
    """Base of every error the feed service raises on purpose."""

    @property
    def message(self) -> str:
        return str(self)


class NotFound(FeedError):
    """What was asked for does not exist (or no longer does)."""


class PageNotFound(NotFound):
    """A page number outside 1..last, or not a number at all."""


class ArticleNotFound(NotFound):
    """No published article has this slug."""


class PollNotFound(NotFound):
    """No poll has this id."""


class Gone(FeedError):
    """What was asked for existed and was taken down (an unpublished article)."""


class BadParameter(FeedError):
    """A query parameter of the JSON API is not what it must be."""


class ReadModelUnavailable(FeedError):
    """Redis, where the read model lives, did not answer (the cause is logged, not shown)."""

    @property
    def message(self) -> str:
        return "the news store does not answer; try again shortly"


class RebuildError(FeedError):
    """The read model could not be rebuilt (another rebuild runs, or the switch lost its lock)."""
