"""Stored photos, for editors: ``GET /api/v1/attachments/{id}`` with a bearer token of role
contributor or higher (the publisher's editors' tokens); 401 without a valid one."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.deps import Deps
from xabar.runtime.auth import Role
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import Router

router = Router(tags=["submissions"])


@router.get(
    "/api/v1/attachments/{attachment_id}",
    "A stored photo (metadata stripped), for editors: bearer token, role contributor or up",
    responses={200: "image/*", 404: ErrorBody},
    security=Role.CONTRIBUTOR,
)
async def get_attachment(request: Request) -> Response:
    photo = await Deps.of(request).service.attachment(request.path_params["attachment_id"])
    extension = photo.content_type.split("/")[1].replace("jpeg", "jpg")
    return Response(
        photo.data,
        media_type=photo.content_type,
        headers={
            "ETag": f'"{photo.sha256}"',
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": f'inline; filename="{photo.attachment_id}.{extension}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )
