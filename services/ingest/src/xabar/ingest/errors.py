"""The ingest service's exception hierarchy. Routes map these to HTTP statuses."""


class IngestError(Exception):
    """Base of every error the ingest service raises on purpose."""
