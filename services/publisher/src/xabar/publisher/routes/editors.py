"""Editors' accounts (chief only)."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import Doc
from xabar.publisher.routes import params
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import EditorIn, EditorList, EditorOut
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["editors"], security=Role.CHIEF)


def editor_out(doc: Doc) -> EditorOut:
    return EditorOut(
        editor_id=str(doc["_id"]),
        email=doc["email"],
        name=doc["name"],
        role=Role(doc["role"]),
        active=bool(doc.get("active", True)),
        created_at=doc["created_at"],
    )


@router.get("/api/v1/editors", "Editors' accounts", responses={200: EditorList})
async def list_editors(request: Request) -> Response:
    rows = await Deps.of(request).editors.all()
    return json_response(EditorList(items=[editor_out(r) for r in rows]))


@router.post(
    "/api/v1/editors",
    "Create an editor's account",
    body=EditorIn,
    responses={201: EditorOut, 409: ErrorBody, 422: ErrorBody},
)
async def create_editor(request: Request) -> Response:
    editors = Deps.of(request).editors
    body = await params.read_body(request, EditorIn, 16 * 1024)
    doc = await editors.create(
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        created_by=principal(request),
    )
    return json_response(editor_out(doc), 201)
