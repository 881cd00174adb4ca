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

router = PublisherRouter(tags=["audit"], security=Role.EDITOR)


FILTERS = (
    params.text_filter("editor_id", "who"),
    params.text_filter("action", "e.g. article.publish"),
    params.text_filter("target_id", "an article, tip, media or editor id"),
    params.period_filter("at"),
)


@router.listing(
    "/api/v1/audit", "The audit log of editorial actions, newest first", AuditList, FILTERS
)
async def list_audit(request: Request) -> Response:
    wanted = AuditQuery(**params.q_filters(request, FILTERS))
    found = await Deps.of(request).audit.search(wanted)
    items = [AuditEntryOut.model_validate({**r, "audit_id": r["_id"]}) for r in found.items]
    return json_response(AuditList.of(found, items))
