"""The audit log of editorial actions."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.repositories.audit import AuditQuery
from xabar.publisher.routes import params
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps
from xabar.publisher.schemas import AuditEntryOut, AuditList
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["audit"], security=Role.EDITOR)


@router.get(
    "/api/v1/audit",
    "The audit log of editorial actions, newest first",
    parameters=[
        params.query("editor_id", "who"),
        params.query("action", "e.g. article.publish"),
        params.query("target_id", "an article, tip, media or editor id"),
        *params.PERIOD,
        *params.PAGING,
    ],
    responses={200: AuditList, 422: ErrorBody},
)
async def list_audit(request: Request) -> Response:
    page, per_page = params.q_page(request)
    wanted = AuditQuery(
        editor_id=params.q_str(request, "editor_id"),
        action=params.q_str(request, "action"),
        target_id=params.q_str(request, "target_id"),
        at=params.q_period(request),
        page=page,
        per_page=per_page,
    )
    found = await Deps.of(request).audit.search(wanted)
    items = [AuditEntryOut.model_validate({**r, "audit_id": r["_id"]}) for r in found.items]
    return json_response(AuditList.of(found, items))
