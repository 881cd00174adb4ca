"""Media: editors' uploads, and the public, cacheable images at ``/media/{media_id}``."""

import re

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.errors import MediaTooLarge, NotFound
from xabar.publisher.routes import params
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import MediaOut, MediaUpload
from xabar.runtime.auth import Role
from xabar.runtime.http import BadRequest, json_response
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
    """The image of an upload: the multipart field ``file``, or the raw body of an image type."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    too_large = MediaTooLarge(f"изображение больше {max_bytes} байт")
    if (
        declared
        and params.DIGITS.fullmatch(declared)
        and int(declared) > max_bytes + MULTIPART_SLACK
    ):
        raise too_large
    if ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise BadRequest(
                    422, "validation_failed", "пришлите изображение в поле формы «file»"
                )
            data = await upload.read(max_bytes + 1)
    elif ctype in IMAGE_TYPES:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_bytes:
                break
        data = bytes(body)
    else:
        raise BadRequest(
            415,
            "unsupported_media_type",
            "пришлите изображение как multipart/form-data (поле «file») или как image/jpeg, "
            "image/png или image/webp",
        )
    if len(data) > max_bytes:
        raise too_large
    return data
