"""Errors raised by the contracts package."""


class ContractError(Exception):
    """An event could not be read as any registered contract."""


class UnknownEventType(ContractError):
    """The event's (type, schema_version) pair is not registered here."""

    def __init__(self, event_type: str, schema_version: int) -> None:
        super().__init__(f"unknown event type {event_type!r} (schema_version {schema_version})")
        self.event_type = event_type
        self.schema_version = schema_version
