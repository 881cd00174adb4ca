"""The envelope every event carries."""

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class Event(BaseModel):
    """Base of every event: immutable, past tense, tolerant of unknown fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: uuid.UUID
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1, max_length=200)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def create(cls, *, producer: str, correlation_id: str | None = None, **fields: Any) -> Any:
        """Build a new event of this class with a fresh envelope."""
        return cls(**new_envelope_fields(cls, producer, correlation_id), **fields)


class AggregateEvent(Event):
    """An event about one aggregate; ``version`` grows with every change of it."""

    aggregate_id: str = Field(min_length=1)
    version: int = Field(ge=1)


def new_envelope_fields(
    cls: type[Event], producer: str, correlation_id: str | None
) -> dict[str, Any]:
    event_id = uuid.uuid4()
    return {
        "event_id": event_id,
        "type": cls.TYPE,
        "schema_version": cls.SCHEMA_VERSION,
        "occurred_at": datetime.now(UTC),
        "producer": producer,
        "correlation_id": correlation_id or str(event_id),
    }
