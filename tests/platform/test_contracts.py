"""Golden samples of every event version ever emitted keep parsing, and readers stay tolerant."""

import json
from pathlib import Path

import pytest

from xabar.contracts import (
    EVENT_TYPES,
    STREAM_OF_TYPE,
    AggregateEvent,
    ArticlePublished,
    ContractError,
    UnknownEventType,
    parse_event,
    registry,
)

GOLDEN = Path(__file__).parent.parent / "golden"
SAMPLES = sorted(GOLDEN.glob("*.json"))


def _key(path: Path) -> tuple[str, int]:
    event_type, version = path.name.removesuffix(".json").rsplit(".v", 1)
    return event_type, int(version)


def test_every_registered_event_version_has_a_golden_sample() -> None:
    assert {_key(p) for p in SAMPLES} >= set(registry), "add a golden sample for each new version"


def test_every_event_type_has_a_stream() -> None:
    assert set(STREAM_OF_TYPE) == set(EVENT_TYPES)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_golden_sample_parses_as_its_registered_class(path: Path) -> None:
    raw = json.loads(path.read_text())
    event = parse_event(path.read_bytes())
    assert type(event) is registry[_key(path)]
    assert event.type == raw["type"]
    assert str(event.event_id) == raw["event_id"]
    assert event.occurred_at.utcoffset() is not None
    if isinstance(event, AggregateEvent):
        assert event.version == raw["version"]
    # a round trip through JSON gives the same event
    assert parse_event(event.model_dump_json()) == event


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_unknown_fields_are_ignored(path: Path) -> None:
    raw = json.loads(path.read_text())
    raw["added_in_a_later_minor"] = {"x": 1}
    raw["data"]["also_new"] = [1, 2, 3]
    event = parse_event(raw)
    assert "added_in_a_later_minor" not in event.model_dump()


def test_events_are_immutable() -> None:
    event = parse_event((GOLDEN / "article.published.v1.json").read_bytes())
    assert isinstance(event, ArticlePublished)
    with pytest.raises(ValueError, match="frozen"):
        event.version = 99  # type: ignore[misc]


def test_an_unknown_type_or_version_is_named_in_the_error() -> None:
    raw = json.loads((GOLDEN / "poll.opened.v1.json").read_text())
    with pytest.raises(UnknownEventType, match=r"poll\.opened"):
        parse_event({**raw, "schema_version": 99})
    with pytest.raises(UnknownEventType, match=r"poll\.reopened"):
        parse_event({**raw, "type": "poll.reopened"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema_version": 1}', "type"),
    ],
)
def test_malformed_events_raise_a_contract_error(raw: bytes, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        parse_event(raw)


def test_a_missing_required_field_is_refused() -> None:
    raw = json.loads((GOLDEN / "article.published.v1.json").read_text())
    del raw["data"]["slug"]
    with pytest.raises(ContractError, match="slug"):
        parse_event(raw)


def test_created_events_carry_a_full_envelope() -> None:
    raw = json.loads((GOLDEN / "article.published.v1.json").read_text())
    event = ArticlePublished.create(
        producer="publisher", correlation_id="req-1", aggregate_id="a", version=1, data=raw["data"]
    )
    assert event.type == "article.published"
    assert event.schema_version == 1
    assert event.correlation_id == "req-1"
    assert event.occurred_at.utcoffset() is not None and event.occurred_at.utcoffset().seconds == 0
