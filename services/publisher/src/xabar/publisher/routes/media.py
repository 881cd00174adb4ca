"""Media: editors' uploads, and the public, cacheable images at ``/media/{media_id}``."""

import re

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.errors import NotFound
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import MediaOut, MediaUpload
from xabar.runtime.auth import Role
from xabar.runtime.bodies import MULTIPART, Limits, media_type, read_bytes, read_form
from xabar.runtime.errors import BadRequest
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["media"])

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MEDIA_ID = re.compile(r"^[0-9a-f]{32}$")
CACHE = "public, max-age=31536000, immutable"
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the image


@router.post(
    "/api/v1/media",
    "Upload an image (JPEG, PNG or WebP)",
    security=Role.EDITOR,
    body=MediaUpload,
    body_media="multipart/form-data",
    responses={201: MediaOut, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody},
)
async def upload(request: Request) -> Response:
    deps = Deps.of(request)
    data = await upload_bytes(request, deps.settings.max_media_bytes)
    stored = await deps.library.upload(principal(request), data)
    out = MediaOut(
        media_id=stored.media_id,
        url=deps.settings.media_url(stored.media_id),
        width=stored.width,
        height=stored.height,
        content_type=stored.content_type,
        size=stored.size,
    )
    return json_response(out, 201)


@router.get(
    "/media/{media_id}",
    "A published image (public, cacheable)",
    responses={200: "image/*", 304: None, 404: ErrorBody},
)
async def serve_media(request: Request) -> Response:
    media_id = str(request.path_params["media_id"])
    if not MEDIA_ID.match(media_id):
        raise NotFound("такого изображения нет")
    tag = f'"{media_id}"'
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": tag, "Cache-Control": CACHE})
    stored, data = await Deps.of(request).library.image(media_id)
    return Response(
        data,
        media_type=stored.content_type,
        headers={
            "ETag": tag,
            "Cache-Control": CACHE,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def upload_bytes(request: Request, max_bytes: int) -> bytes:
    """The image of an upload: the multipart field ``file``, or the raw body of an image type
    (the runtime's reader: 413 past ``max_bytes``, 415 for another type, 400 if malformed)."""
    if media_type(request.headers) != MULTIPART:
        return await read_bytes(request, max_bytes, accept=IMAGE_TYPES)
    limits = Limits(
        max_bytes=max_bytes + MULTIPART_SLACK,
        max_fields=10,
        max_files=1,
        max_file_bytes=max_bytes,
        file_fields=frozenset({"file"}),
    )
    files = (await read_form(request, limits, accept=(MULTIPART,))).files_in("file")
    if not files:
        raise BadRequest(422, "validation_failed", "пришлите изображение в поле формы «file»")
    return files[0].data
