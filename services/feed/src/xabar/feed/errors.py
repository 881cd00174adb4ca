"""The feed service's exception hierarchy. Routes map these to HTTP statuses."""


class FeedError(Exception):
    """Base of every error the feed service raises on purpose."""
