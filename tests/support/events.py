"""Events for tests, built from the golden samples with fresh ids."""

import json
import uuid
from pathlib import Path
from typing import Any

from xabar.contracts import Event, parse_event

GOLDEN = Path(__file__).parent.parent / "golden"


def sample(event_type: str, **overrides: Any) -> Event:
    """The golden sample of ``event_type`` with a fresh event id and the given field overrides
    (``data`` overrides are merged into the sample's data)."""
    raw = json.loads((GOLDEN / f"{event_type}.v1.json").read_text())
    raw["event_id"] = str(uuid.uuid4())
    data = overrides.pop("data", None)
    raw.update(overrides)
    if data:
        raw["data"] = {**raw["data"], **data}
    return parse_event(raw)
