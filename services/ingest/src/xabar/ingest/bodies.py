"""Request bodies read within limits: form fields and photos out of multipart (or urlencoded).

The body is counted as it streams in and refused past the limit, whatever Content-Length says.
Photos are counted and measured here; their content is judged by ``photos``.
"""

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from xabar.ingest.errors import InvalidSubmission, LimitExceeded, MalformedBody, UnsupportedMedia

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
JSON = "application/json"
PHOTO_FIELD = "photos"
MAX_FIELDS = 40


@dataclass
class FormInput:
    fields: dict[str, str] = field(default_factory=dict)
    photos: list[bytes] = field(default_factory=list)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def too_large(limit: int) -> LimitExceeded:
    return LimitExceeded("payload_too_large", f"the body is over {limit} bytes")


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        yield chunk


async def read_form(
    request: Request,
    *,
    max_bytes: int,
    max_field_bytes: int,
    max_photos: int,
    max_photo_bytes: int,
) -> FormInput:
    """Fields and photo bytes of a multipart or urlencoded body.

    ``UnsupportedMedia`` for another content type; ``LimitExceeded`` for a body over
    ``max_bytes``, more than ``max_photos`` photos or one over ``max_photo_bytes``;
    ``MalformedBody`` for a body that is not valid multipart; ``InvalidSubmission`` for a field
    sent twice or a file in a field other than ``photos``.
    """
    ctype = media_type(request)
    if ctype not in (MULTIPART, URLENCODED):
        raise UnsupportedMedia(f"send the form as {MULTIPART} (or {URLENCODED} without photos)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    stream = _limited(request, max_bytes)
    try:
        if ctype == MULTIPART:
            parser = MultiPartParser(
                request.headers,
                stream,
                max_files=max_photos,
                max_fields=MAX_FIELDS,
                max_part_size=max_field_bytes,
            )
            form = await parser.parse()
        else:
            form = await FormParser(
                request.headers, stream, max_fields=MAX_FIELDS, max_part_size=max_field_bytes
            ).parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise LimitExceeded(
                "too_many_photos", f"at most {max_photos} photos may be attached"
            ) from exc
        if exc.message.startswith(("Field exceeded", "Part exceeded")):
            raise too_large(max_field_bytes) from exc
        raise MalformedBody(f"the form could not be read: {exc.message}") from exc
    finally:
        await stream.aclose()
    out = FormInput()
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != PHOTO_FIELD:
                    raise InvalidSubmission(
                        "files are accepted only in the photos field",
                        [{"field": name, "message": "unexpected file", "type": "unexpected_file"}],
                    )
                if not value.filename and not value.size:
                    continue  # an empty file input
                if value.size is not None and value.size > max_photo_bytes:
                    raise LimitExceeded(
                        "photo_too_large",
                        f"photo {len(out.photos) + 1} is over the limit of "
                        f"{max_photo_bytes} bytes per photo",
                    )
                out.photos.append(await value.read())
            else:
                if name in out.fields:
                    raise InvalidSubmission(
                        f"the field {name} was sent more than once",
                        [{"field": name, "message": "sent more than once", "type": "duplicate"}],
                    )
                out.fields[name] = value
    finally:
        await form.close()
    return out
