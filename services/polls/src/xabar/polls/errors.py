"""The polls service's exception hierarchy. Routes map these to HTTP statuses."""


class PollsError(Exception):
    """Base of every error the polls service raises on purpose."""
