"""The publisher service's exception hierarchy. Routes map these to HTTP statuses."""


class PublisherError(Exception):
    """Base of every error the publisher service raises on purpose."""
