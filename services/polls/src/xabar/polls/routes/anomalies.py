"""``/api/v1/anomalies``: bursts of votes the counter flagged, for editors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from xabar.polls.deps import Deps
from xabar.polls.schemas import AnomalyList
from xabar.polls.views import anomaly_of
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.routing import Router

router = Router(tags=["authoring"])


@router.get(
    "/api/v1/anomalies",
    "Bursts of votes from one address or subnet, flagged per poll (editors)",
    responses={200: AnomalyList},
    security=Role.EDITOR,
)
async def list_anomalies(request: Request) -> Response:
    rows = await Deps.of(request).service.anomalies()
    return json_response(AnomalyList(items=[anomaly_of(r) for r in rows]))
