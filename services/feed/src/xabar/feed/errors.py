"""The feed service's exception hierarchy. Routes map these to HTTP statuses."""


class FeedError(Exception):
    """Base of every error the feed service raises on purpose."""


class NotFound(FeedError):
    """What was asked for does not exist (or no longer does)."""


class PageNotFound(NotFound):
    """A page number outside 1..last, or not a number at all."""


class ArticleNotFound(NotFound):
    """No published article has this slug."""


class PollNotFound(NotFound):
    """No poll has this id."""


class BadParameter(FeedError):
    """A query parameter of the JSON API is not what it must be."""


class ReadModelUnavailable(FeedError):
    """Redis, where the read model lives, did not answer."""


class RebuildError(FeedError):
    """The read model could not be rebuilt (another rebuild runs, or the switch lost its lock)."""
