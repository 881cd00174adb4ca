"""Media: editors' uploads (re-encoded, with their sizes), and the public, cacheable images at
``/media/{media_id}`` and their sizes at ``/media/{media_id}/{width}.{webp|jpg}``."""

import re

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.config import PublisherSettings
from xabar.publisher.errors import NotFound
from xabar.publisher.media import StoredMedia, variant_file_id, variant_of_name
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import MediaOut, MediaSizeOut, MediaUpload
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
    async with deps.uploads.hold():
        data = await upload_bytes(request, deps.settings.max_media_bytes)
        stored = await deps.library.upload(principal(request), data)
    return json_response(media_out(stored, deps.settings), 201)


def media_out(stored: StoredMedia, settings: PublisherSettings) -> MediaOut:
    base = settings.media_url(stored.media_id)
    return MediaOut(
        media_id=stored.media_id,
        url=base,
        width=stored.width,
        height=stored.height,
        content_type=stored.content_type,
        size=stored.size,
        variants=[
            MediaSizeOut(
                url=f"{base}/{v.name}", width=v.width, height=v.height, media_type=v.media_type
            )
            for v in stored.variants
        ],
    )


@router.get(
    "/media/{media_id}",
    "A published image (public, cacheable)",
    responses={200: "image/*", 304: None, 404: ErrorBody},
)
async def serve_media(request: Request) -> Response:
    media_id = str(request.path_params["media_id"])
    if not MEDIA_ID.match(media_id):
        raise NotFound("такого изображения нет")
    return await _serve(request, media_id)


@router.get(
    "/media/{media_id}/{size}",
    "One size of a published image: {width}.webp or {width}.jpg (public, cacheable)",
    responses={200: "image/*", 304: None, 404: ErrorBody},
)
async def serve_size(request: Request) -> Response:
    media_id, size = str(request.path_params["media_id"]), str(request.path_params["size"])
    if not MEDIA_ID.match(media_id) or variant_of_name(size) is None:
        raise NotFound("такого изображения нет")
    return await _serve(request, variant_file_id(media_id, size))


async def _serve(request: Request, file_id: str) -> Response:
    """A stored file with validators that never change (a file is never rewritten)."""
    tag = f'"{file_id}"'
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": tag, "Cache-Control": CACHE})
    stored, data = await Deps.of(request).library.image(file_id)
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
