"""HTTP routes of the publisher service. Status codes are chosen here and only here.

Every route but the public ones (login, ``/media/{id}``, and the standard ``/healthz``,
``/readyz``, ``/metrics``, ``/openapi.json``) authenticates the bearer token FIRST, before reading
the body or the item, with the route's minimum role (see ``ROLE``): a missing, malformed, expired
or forged token is 401, a role below the minimum is 403. Finer rules (a contributor edits only
their own drafts) are the domain's and are 403 as well.

Optimistic concurrency: article responses carry ``ETag: "<version>"``. PATCH, PUT, corrections
and restores need ``If-Match`` (428 without it, 409 when stale); workflow actions honour it when
sent.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from xabar.contracts import COUNTRIES, SubmissionStatus
from xabar.publisher.articles import ArticleService
from xabar.publisher.audit import AuditLog
from xabar.publisher.config import PublisherSettings
from xabar.publisher.domain import ArticleStatus, Doc
from xabar.publisher.editors import EditorService
from xabar.publisher.errors import (
    BadMedia,
    EditorExists,
    ImportFailed,
    InvalidCredentials,
    InvalidInput,
    InvalidTransition,
    MediaTooLarge,
    NotAllowed,
    NotFound,
    PreconditionRequired,
    PublisherError,
    StorageUnavailable,
    TooManyAttempts,
    UpstreamUnavailable,
    VersionConflict,
)
from xabar.publisher.inbox import InboxService
from xabar.publisher.media import MediaStore
from xabar.publisher.schemas import (
    AcceptOut,
    ArticleIn,
    ArticleList,
    ArticleOut,
    ArticlePatch,
    ArticleSummary,
    AttachmentOut,
    AuditEntryOut,
    AuditList,
    ContactOut,
    CorrectionIn,
    DiffOut,
    EditorIn,
    EditorList,
    EditorOut,
    FeaturedOut,
    FeatureIn,
    FieldDiffOut,
    ImageOut,
    InboxItemOut,
    InboxList,
    InboxSummary,
    LoginIn,
    MediaOut,
    MediaUpload,
    MeOut,
    RejectIn,
    RevisionList,
    RevisionOut,
    ScheduleIn,
    TokenOut,
    VersionState,
)
from xabar.runtime.auth import AuthError, ForbiddenError, Principal, Role, TokenCodec
from xabar.runtime.clients import client_address, hash_address
from xabar.runtime.http import BadRequest, error_response, json_response, parse_body
from xabar.runtime.locks import LockBusy
from xabar.runtime.openapi import ErrorBody, OpenAPI

log = logging.getLogger("xabar.publisher.routes")

Handler = Callable[[Request, Principal], Awaitable[Response]]
PublicHandler = Callable[[Request], Awaitable[Response]]

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MEDIA_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_PER_PAGE = 200
CONTENT_TYPE_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Deps:
    settings: PublisherSettings
    codec: TokenCodec
    editors: EditorService
    articles: ArticleService
    inbox: InboxService
    media: MediaStore
    audit: AuditLog


# --- errors ---------------------------------------------------------------------------------------


def publisher_error(exc: PublisherError) -> Response:
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", exc.message)
    if isinstance(exc, VersionConflict):
        return error_response(
            409, "version_conflict", exc.message, headers={"ETag": etag(exc.current_version)}
        )
    if isinstance(exc, InvalidTransition):
        return error_response(409, "invalid_transition", exc.message)
    if isinstance(exc, EditorExists):
        return error_response(409, "editor_exists", exc.message)
    if isinstance(exc, PreconditionRequired):
        return error_response(428, "precondition_required", exc.message)
    if isinstance(exc, NotAllowed):
        return error_response(403, "forbidden", exc.message)
    if isinstance(exc, InvalidCredentials):
        return error_response(401, "invalid_credentials", exc.message)
    if isinstance(exc, TooManyAttempts):
        return error_response(
            429, "too_many_attempts", exc.message, headers={"Retry-After": str(exc.retry_after_s)}
        )
    if isinstance(exc, MediaTooLarge):
        return error_response(413, "media_too_large", exc.message)
    if isinstance(exc, BadMedia):
        return error_response(422, "bad_media", exc.message)
    if isinstance(exc, UpstreamUnavailable):
        return error_response(502, "upstream_unavailable", exc.message)
    if isinstance(exc, StorageUnavailable):
        return error_response(503, "storage_unavailable", exc.message)
    if isinstance(exc, InvalidInput | ImportFailed):
        return error_response(422, "invalid", exc.message)
    return error_response(400, "bad_request", exc.message)


async def _guarded(call: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await call()
    except PublisherError as exc:
        return publisher_error(exc)
    except LockBusy as exc:
        return error_response(503, "busy", str(exc), headers={"Retry-After": "1"})
    except (PyMongoError, RedisError) as exc:
        log.warning("storage unavailable", extra={"error": repr(exc)})
        return error_response(
            503, "storage_unavailable", "storage is not answering; retry in a moment"
        )


def secured(codec: TokenCodec, minimum: Role, handler: Handler) -> PublicHandler:
    """The token is checked first, before the body or the item is read."""

    async def endpoint(request: Request) -> Response:
        try:
            principal = codec.authenticate(request, minimum)
        except ForbiddenError as exc:
            return error_response(403, "forbidden", str(exc))
        except AuthError as exc:
            return error_response(
                401, "unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer realm="xabar"'}
            )
        return await _guarded(lambda: handler(request, principal))

    return endpoint


def public(handler: PublicHandler) -> PublicHandler:
    async def endpoint(request: Request) -> Response:
        return await _guarded(lambda: handler(request))

    return endpoint


# --- request helpers ------------------------------------------------------------------------------


def etag(version: int) -> str:
    return f'"{version}"'


def require_if_match(request: Request) -> int:
    value = optional_if_match(request)
    if value is None:
        raise PreconditionRequired(
            'send If-Match with the ETag of the version you edit, e.g. If-Match: "3"'
        )
    return value


def optional_if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit():
        raise BadRequest(400, "bad_if_match", 'If-Match must be an article ETag, e.g. "3"')
    return int(value)


def q_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise BadRequest(422, "invalid_query", f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


def q_choice(request: Request, name: str, allowed: set[str] | frozenset[str]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise BadRequest(
            422, "invalid_query", f"{name} must be one of: {', '.join(sorted(allowed))}"
        )
    return raw


def q_time(request: Request, name: str, *, end: bool = False) -> datetime | None:
    """An ISO date (a whole day: its start, or for ``end`` the next day's start) or datetime."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            at = datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
            return at + timedelta(days=1) if end else at
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(422, "invalid_query", f"{name} must be an ISO date or date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def given_fields(model: BaseModel) -> Doc:
    """The fields a client actually sent, as plain data."""
    data = model.model_dump(mode="python")
    return {k: data[k] for k in model.model_fields_set}


def path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not 1 <= len(value) <= 100:
        raise NotFound("no such item")
    return value


# --- views ----------------------------------------------------------------------------------------


def article_out(doc: Doc, settings: PublisherSettings) -> ArticleOut:
    image = doc.get("image")
    published = doc["status"] == ArticleStatus.PUBLISHED
    return ArticleOut(
        article_id=str(doc["_id"]),
        status=ArticleStatus(doc["status"]),
        version=int(doc["version"]),
        slug=doc["slug"],
        url=settings.article_url(doc["slug"]) if published else None,
        title=doc["title"],
        lead=doc.get("lead") or "",
        body_html=doc.get("body_html") or "",
        body_markdown=doc.get("body_markdown"),
        countries=list(doc.get("countries") or []),
        tags=list(doc.get("tags") or []),
        image=ImageOut.model_validate(image) if image and image.get("url") else None,
        source=doc.get("source"),
        source_url=doc.get("source_url"),
        author=doc.get("author"),
        featured=bool(doc.get("featured")),
        featured_countries=list(doc.get("featured_countries") or []),
        corrections=doc.get("corrections") or [],
        publish_at=doc.get("publish_at"),
        published_at=doc.get("published_at"),
        unpublished_at=doc.get("unpublished_at"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        created_by=doc["created_by"],
        owner_id=doc.get("owner_id"),
        submission_id=doc.get("submission_id"),
    )


def article_response(doc: Doc, settings: PublisherSettings, status: int = 200) -> Response:
    return json_response(
        article_out(doc, settings), status, headers={"ETag": etag(int(doc["version"]))}
    )


def inbox_out(doc: Doc) -> InboxItemOut:
    tip = doc["submission"]
    return InboxItemOut(
        submission_id=str(doc["_id"]),
        status=SubmissionStatus(doc["status"]),
        version=int(doc["version"]),
        title=tip["title"],
        text=tip["text"],
        country=tip["country"],
        location=tip.get("location"),
        anonymous=bool(tip.get("anonymous")),
        contact=ContactOut.model_validate(tip["contact"]) if tip.get("contact") else None,
        attachments=[AttachmentOut.model_validate(a) for a in tip.get("attachments") or []],
        received_at=doc["received_at"],
        reviewed_at=doc.get("reviewed_at"),
        reviewed_by=doc.get("reviewed_by"),
        public_reason=doc.get("public_reason"),
        article_id=doc.get("article_id"),
    )


def editor_out(doc: Doc) -> EditorOut:
    return EditorOut(
        editor_id=str(doc["_id"]),
        email=doc["email"],
        name=doc["name"],
        role=Role(doc["role"]),
        active=bool(doc.get("active", True)),
        created_at=doc["created_at"],
    )


# --- routes ---------------------------------------------------------------------------------------


def _path_parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"{([a-z_]+)(?::[a-z]+)?}", path):
        schema = {"type": "integer"} if name == "version" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


PAGING = [
    _query("page", "page number, from 1", {"type": "integer", "minimum": 1}),
    _query("per_page", f"items a page (1-{MAX_PER_PAGE})", {"type": "integer", "minimum": 1}),
]
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'the ETag of the version being changed, e.g. "3"',
    "schema": {"type": "string"},
}
IF_MATCH_OPTIONAL = {**IF_MATCH, "required": False}


def _helper_responses(
    body: type[BaseModel] | None, parameters: list[dict[str, Any]]
) -> dict[int, type[BaseModel]]:
    """What the request helpers answer before a handler decides anything: a body (JSON through
    ``parse_body``, an upload through ``_upload_bytes``) can be malformed (400), too large (413),
    of another media type (415) or invalid (422); an If-Match that is not an ETag is 400; a query
    parameter out of its range or choices is 422."""
    out: dict[int, type[BaseModel]] = {}
    if body is not None:
        out |= dict.fromkeys((400, 413, 415, 422), ErrorBody)
    if any(p["name"] == "If-Match" for p in parameters):
        out[400] = ErrorBody
    if any(p["in"] == "query" for p in parameters):
        out[422] = ErrorBody
    return out


def api_routes(api: OpenAPI, deps: Deps) -> list[BaseRoute]:
    settings, codec = deps.settings, deps.codec
    articles, inbox, editors, media, audit = (
        deps.articles,
        deps.inbox,
        deps.editors,
        deps.media,
        deps.audit,
    )
    trusted = settings.trusted_networks()
    address_salt = "login-limit:" + settings.jwt_secret.get_secret_value()
    routes: list[BaseRoute] = []

    def add(
        method: str,
        path: str,
        summary: str,
        handler: Handler | PublicHandler,
        *,
        role: Role | None,
        tag: str,
        responses: dict[int, type[BaseModel] | str | None],
        body: type[BaseModel] | None = None,
        body_media: str = CONTENT_TYPE_JSON,
        parameters: list[dict[str, Any]] | None = None,
    ) -> None:
        endpoint = (
            public(handler)  # type: ignore[arg-type]
            if role is None
            else secured(codec, role, handler)  # type: ignore[arg-type]
        )
        routes.append(Route(path, endpoint, methods=[method]))
        responses = {**_helper_responses(body, parameters or []), **responses}
        summary_with_role = summary if role is None else f"{summary} (role: {role.value}+)"
        api.operation(
            method,
            path,
            summary_with_role,
            body=body,
            body_media=body_media,
            responses=responses,
            secured=role is not None,
            parameters=_path_parameters(path) + (parameters or []),
            tags=[tag],
        )

    # --- auth and editors ----------------------------------------------------------------------

    async def login(request: Request) -> Response:
        body = await parse_body(request, LoginIn, max_bytes=16 * 1024)
        address = client_address(request.scope, trusted)
        token, doc = await editors.login(
            body.email, body.password, hash_address(address, address_salt)
        )
        out = TokenOut(access_token=token, expires_in=settings.token_ttl_s, editor=editor_out(doc))
        return json_response(out, headers={"Cache-Control": "no-store"})

    add("POST", "/api/v1/auth/login", "Log in: a short-lived bearer token (JWT)", login,
        role=None, tag="auth", body=LoginIn,
        responses={200: TokenOut, 401: ErrorBody, 422: ErrorBody, 429: ErrorBody})  # fmt: skip

    async def me(request: Request, who: Principal) -> Response:
        return json_response(MeOut(editor_id=who.editor_id, name=who.name, role=who.role))

    add("GET", "/api/v1/auth/me", "Who the token belongs to", me, role=Role.CONTRIBUTOR,
        tag="auth", responses={200: MeOut})  # fmt: skip

    async def list_editors(request: Request, who: Principal) -> Response:
        rows = await editors.all()
        return json_response(EditorList(items=[editor_out(r) for r in rows]))

    add("GET", "/api/v1/editors", "Editors' accounts", list_editors, role=Role.CHIEF,
        tag="editors", responses={200: EditorList})  # fmt: skip

    async def create_editor(request: Request, who: Principal) -> Response:
        body = await parse_body(request, EditorIn, max_bytes=16 * 1024)
        doc = await editors.create(
            email=body.email, name=body.name, role=body.role, password=body.password,
            created_by=who.editor_id,
        )  # fmt: skip
        await audit.record(who, "editor.create", "editor", str(doc["_id"]), role=body.role.value)
        return json_response(editor_out(doc), 201)

    add("POST", "/api/v1/editors", "Create an editor's account", create_editor, role=Role.CHIEF,
        tag="editors", body=EditorIn,
        responses={201: EditorOut, 409: ErrorBody, 422: ErrorBody})  # fmt: skip

    # --- articles --------------------------------------------------------------------------------

    async def list_articles(request: Request, who: Principal) -> Response:
        page = await articles.search(
            status=q_choice(request, "status", {s.value for s in ArticleStatus}),
            country=q_choice(request, "country", set(COUNTRIES)),
            owner_id=request.query_params.get("owner_id") or None,
            query=request.query_params.get("q") or None,
            page=q_int(request, "page", 1, 1, 1_000_000),
            per_page=q_int(request, "per_page", 50, 1, MAX_PER_PAGE),
        )
        items = [ArticleSummary.model_validate(r) for r in page.items]
        return json_response(
            ArticleList(items=items, total=page.total, page=page.page, per_page=page.per_page)
        )

    add("GET", "/api/v1/articles", "Articles, newest change first", list_articles,
        role=Role.CONTRIBUTOR, tag="articles", responses={200: ArticleList, 422: ErrorBody},
        parameters=[_query("status", "draft, in_review, scheduled, published or unpublished"),
                    _query("country", "a country code, e.g. KZ"),
                    _query("owner_id", "the editor id of the article's owner"),
                    _query("q", "words of the title"), *PAGING])  # fmt: skip

    async def create_article(request: Request, who: Principal) -> Response:
        body = await parse_body(request, ArticleIn, max_bytes=settings.max_json_bytes)
        doc = await articles.create(who, given_fields(body) | {"title": body.title})
        return article_response(doc, settings, 201)

    add("POST", "/api/v1/articles", "Create a draft article", create_article,
        role=Role.CONTRIBUTOR, tag="articles", body=ArticleIn,
        responses={201: ArticleOut, 422: ErrorBody})  # fmt: skip

    async def get_article(request: Request, who: Principal) -> Response:
        doc = await articles.get(path_id(request, "article_id"))
        return article_response(doc, settings)

    add("GET", "/api/v1/articles/{article_id}", "One article (ETag: its version)", get_article,
        role=Role.CONTRIBUTOR, tag="articles",
        responses={200: ArticleOut, 404: ErrorBody})  # fmt: skip

    async def patch_article(request: Request, who: Principal) -> Response:
        expected = require_if_match(request)
        body = await parse_body(request, ArticlePatch, max_bytes=settings.max_json_bytes)
        doc = await articles.edit(who, path_id(request, "article_id"), given_fields(body), expected)
        return article_response(doc, settings)

    add("PATCH", "/api/v1/articles/{article_id}", "Edit some fields (If-Match required)",
        patch_article, role=Role.CONTRIBUTOR, tag="articles", body=ArticlePatch,
        parameters=[IF_MATCH],
        responses={200: ArticleOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody,
                   422: ErrorBody, 428: ErrorBody})  # fmt: skip

    async def put_article(request: Request, who: Principal) -> Response:
        expected = require_if_match(request)
        body = await parse_body(request, ArticleIn, max_bytes=settings.max_json_bytes)
        doc = await articles.edit(
            who, path_id(request, "article_id"), given_fields(body) | {"title": body.title},
            expected, full=True,
        )  # fmt: skip
        return article_response(doc, settings)

    add("PUT", "/api/v1/articles/{article_id}", "Replace the content (If-Match required)",
        put_article, role=Role.CONTRIBUTOR, tag="articles", body=ArticleIn,
        parameters=[IF_MATCH],
        responses={200: ArticleOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody,
                   422: ErrorBody, 428: ErrorBody})  # fmt: skip

    def transition(action: str) -> Handler:
        async def handler(request: Request, who: Principal) -> Response:
            expected = optional_if_match(request)
            publish_at = None
            if action == "schedule":
                body = await parse_body(request, ScheduleIn, max_bytes=16 * 1024)
                publish_at = body.publish_at
            doc = await articles.transition(
                who, path_id(request, "article_id"), action,
                expected_version=expected, publish_at=publish_at,
            )  # fmt: skip
            return article_response(doc, settings)

        return handler

    for action, role, summary in (
        ("submit", Role.CONTRIBUTOR, "Submit a draft for review"),
        ("return", Role.EDITOR, "Return to draft (from review, schedule or unpublished)"),
        ("schedule", Role.EDITOR, "Schedule the publication (embargo until publish_at)"),
        ("publish", Role.EDITOR, "Publish now"),
        ("unpublish", Role.EDITOR, "Take a published article down"),
    ):
        add("POST", f"/api/v1/articles/{{article_id}}/{action}", summary, transition(action),
            role=role, tag="workflow", body=ScheduleIn if action == "schedule" else None,
            parameters=[IF_MATCH_OPTIONAL],
            responses={200: ArticleOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody,
                       422: ErrorBody})  # fmt: skip

    async def correct(request: Request, who: Principal) -> Response:
        expected = require_if_match(request)
        body = await parse_body(request, CorrectionIn, max_bytes=settings.max_json_bytes)
        changes = given_fields(body.changes) if body.changes is not None else {}
        doc = await articles.correct(
            who, path_id(request, "article_id"), body.note, changes, expected
        )
        return article_response(doc, settings)

    add("POST", "/api/v1/articles/{article_id}/corrections",
        "Correct a published article with a public correction note (If-Match required)",
        correct, role=Role.EDITOR, tag="workflow", body=CorrectionIn, parameters=[IF_MATCH],
        responses={200: ArticleOut, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody,
                   428: ErrorBody})  # fmt: skip

    async def feature(request: Request, who: Principal) -> Response:
        body = await parse_body(request, FeatureIn, max_bytes=4096)
        doc = await articles.feature(who, path_id(request, "article_id"), body.country)
        return article_response(doc, settings)

    add("POST", "/api/v1/articles/{article_id}/feature",
        "Make it the news of the day (site-wide, or of a country section)", feature,
        role=Role.EDITOR, tag="workflow", body=FeatureIn,
        responses={200: ArticleOut, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody})  # fmt: skip

    async def unfeature(request: Request, who: Principal) -> Response:
        country = q_choice(request, "country", set(COUNTRIES))
        doc = await articles.unfeature(who, path_id(request, "article_id"), country)
        return article_response(doc, settings)

    add("DELETE", "/api/v1/articles/{article_id}/feature",
        "Stop it being the news of the day", unfeature, role=Role.EDITOR, tag="workflow",
        parameters=[_query("country", "the country section; none for site-wide")],
        responses={200: ArticleOut, 404: ErrorBody, 409: ErrorBody})  # fmt: skip

    async def featured(request: Request, who: Principal) -> Response:
        rows = await articles.featured()
        countries = {
            k.split(":", 1)[1]: v for k, v in rows.items() if k.startswith("country:") and v
        }
        return json_response(FeaturedOut(site=rows.get("site"), countries=countries))

    add("GET", "/api/v1/featured", "The news of the day (site-wide and per country)", featured,
        role=Role.CONTRIBUTOR, tag="workflow", responses={200: FeaturedOut})  # fmt: skip

    # --- revisions --------------------------------------------------------------------------------

    async def list_revisions(request: Request, who: Principal) -> Response:
        article_id = path_id(request, "article_id")
        rows = await articles.revisions(article_id)
        return json_response(
            RevisionList(article_id=article_id, items=[RevisionOut.model_validate(r) for r in rows])
        )

    add("GET", "/api/v1/articles/{article_id}/revisions", "Every revision: who, when, which fields",
        list_revisions, role=Role.CONTRIBUTOR, tag="revisions",
        responses={200: RevisionList, 404: ErrorBody})  # fmt: skip

    def version_param(request: Request) -> int:
        raw = str(request.path_params["version"])
        if not raw.isdigit():
            raise NotFound("no such version")
        return int(raw)

    async def get_version(request: Request, who: Principal) -> Response:
        article_id = path_id(request, "article_id")
        version = version_param(request)
        fields = await articles.version(article_id, version)
        return json_response(VersionState(article_id=article_id, version=version, fields=fields))

    add("GET", "/api/v1/articles/{article_id}/revisions/{version}",
        "The article's fields as they were at a version", get_version, role=Role.CONTRIBUTOR,
        tag="revisions", responses={200: VersionState, 404: ErrorBody})  # fmt: skip

    async def restore(request: Request, who: Principal) -> Response:
        expected = require_if_match(request)
        doc = await articles.restore(
            who, path_id(request, "article_id"), version_param(request), expected
        )
        return article_response(doc, settings)

    add("POST", "/api/v1/articles/{article_id}/revisions/{version}/restore",
        "Restore the content of a version, as a new version (If-Match required)", restore,
        role=Role.CONTRIBUTOR, tag="revisions", parameters=[IF_MATCH],
        responses={200: ArticleOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody,
                   428: ErrorBody})  # fmt: skip

    async def diff(request: Request, who: Principal) -> Response:
        article_id = path_id(request, "article_id")
        doc = await articles.get(article_id)
        current = int(doc["version"])
        a = q_int(request, "from", max(current - 1, 1), 1, 1_000_000_000)
        b = q_int(request, "to", current, 1, 1_000_000_000)
        fields = await articles.diff(article_id, a, b)
        return json_response(
            DiffOut(article_id=article_id, from_version=a, to_version=b,
                    fields=[FieldDiffOut.model_validate(f) for f in fields])
        )  # fmt: skip

    add("GET", "/api/v1/articles/{article_id}/diff", "What changed between two versions", diff,
        role=Role.CONTRIBUTOR, tag="revisions",
        parameters=[_query("from", "older version (default: the one before the current)",
                           {"type": "integer"}),
                    _query("to", "newer version (default: the current)", {"type": "integer"})],
        responses={200: DiffOut, 404: ErrorBody, 422: ErrorBody})  # fmt: skip

    # --- inbox ------------------------------------------------------------------------------------

    async def list_inbox(request: Request, who: Principal) -> Response:
        page = await inbox.search(
            status=q_choice(request, "status", {s.value for s in SubmissionStatus}),
            country=q_choice(request, "country", {*COUNTRIES, "other"}),
            since=q_time(request, "from"),
            until=q_time(request, "to", end=True),
            page=q_int(request, "page", 1, 1, 1_000_000),
            per_page=q_int(request, "per_page", 50, 1, MAX_PER_PAGE),
        )
        items = [
            InboxSummary(
                submission_id=str(r["_id"]),
                status=SubmissionStatus(r["status"]),
                version=int(r["version"]),
                title=r["submission"]["title"],
                excerpt=r["submission"]["text"][:200],
                country=r["submission"]["country"],
                attachments=len(r["submission"].get("attachments") or []),
                received_at=r["received_at"],
                article_id=r.get("article_id"),
            )
            for r in page.items
        ]
        return json_response(
            InboxList(items=items, total=page.total, page=page.page, per_page=page.per_page)
        )

    add("GET", "/api/v1/inbox", "Citizen reporters' tips, newest first", list_inbox,
        role=Role.EDITOR, tag="inbox",
        parameters=[_query("status", "received, in_review, accepted, rejected or published"),
                    _query("country", "a country code, or other"),
                    _query("from", "received on or after (ISO date or date-time)"),
                    _query("to", "received before (ISO date-time), or on or before (ISO date)"),
                    *PAGING],
        responses={200: InboxList, 422: ErrorBody})  # fmt: skip

    async def get_tip(request: Request, who: Principal) -> Response:
        doc = await inbox.get(path_id(request, "submission_id"))
        return json_response(inbox_out(doc))

    add("GET", "/api/v1/inbox/{submission_id}", "One tip", get_tip, role=Role.EDITOR,
        tag="inbox", responses={200: InboxItemOut, 404: ErrorBody})  # fmt: skip

    async def review_tip(request: Request, who: Principal) -> Response:
        doc = await inbox.start_review(who, path_id(request, "submission_id"))
        return json_response(inbox_out(doc))

    add("POST", "/api/v1/inbox/{submission_id}/review", "Take a tip into review", review_tip,
        role=Role.EDITOR, tag="inbox",
        responses={200: InboxItemOut, 404: ErrorBody, 409: ErrorBody})  # fmt: skip

    async def accept_tip(request: Request, who: Principal) -> Response:
        done = await inbox.accept(who, path_id(request, "submission_id"))
        out = AcceptOut(submission=inbox_out(done.submission),
                        article=article_out(done.article, settings))  # fmt: skip
        return json_response(out, 201, headers={"ETag": etag(int(done.article["version"]))})

    add("POST", "/api/v1/inbox/{submission_id}/accept",
        "Accept a tip: a draft article from it, its photos copied", accept_tip,
        role=Role.EDITOR, tag="inbox",
        responses={201: AcceptOut, 404: ErrorBody, 409: ErrorBody, 502: ErrorBody})  # fmt: skip

    async def reject_tip(request: Request, who: Principal) -> Response:
        body = await parse_body(request, RejectIn, max_bytes=16 * 1024)
        doc = await inbox.reject(who, path_id(request, "submission_id"), body.public_reason)
        return json_response(inbox_out(doc))

    add("POST", "/api/v1/inbox/{submission_id}/reject",
        "Reject a tip with a reason the reporter will see", reject_tip, role=Role.EDITOR,
        tag="inbox", body=RejectIn,
        responses={200: InboxItemOut, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody})  # fmt: skip

    # --- media ------------------------------------------------------------------------------------

    async def upload(request: Request, who: Principal) -> Response:
        data = await _upload_bytes(request, settings.max_media_bytes)
        stored = await media.put(data, source="upload", uploaded_by=who.editor_id)
        await audit.record(who, "media.upload", "media", stored.media_id, size=stored.size)
        out = MediaOut(
            media_id=stored.media_id,
            url=settings.media_url(stored.media_id),
            width=stored.width,
            height=stored.height,
            content_type=stored.content_type,
            size=stored.size,
        )
        return json_response(out, 201)

    add("POST", "/api/v1/media", "Upload an image (JPEG, PNG or WebP)", upload, role=Role.EDITOR,
        tag="media", body=MediaUpload, body_media="multipart/form-data",
        responses={201: MediaOut, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody})  # fmt: skip

    async def serve_media(request: Request) -> Response:
        media_id = str(request.path_params["media_id"])
        if not MEDIA_ID.match(media_id):
            raise NotFound("no such media")
        tag = f'"{media_id}"'
        cache = "public, max-age=31536000, immutable"
        if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers={"ETag": tag, "Cache-Control": cache})
        stored, data = await media.get(media_id)
        return Response(
            data,
            media_type=stored.content_type,
            headers={
                "ETag": tag,
                "Cache-Control": cache,
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    add("GET", "/media/{media_id}", "A published image (public, cacheable)", serve_media,
        role=None, tag="media", responses={200: "image/*", 304: None, 404: ErrorBody})  # fmt: skip

    # --- audit ------------------------------------------------------------------------------------

    async def list_audit(request: Request, who: Principal) -> Response:
        rows, total = await audit.search(
            editor_id=request.query_params.get("editor_id") or None,
            action=request.query_params.get("action") or None,
            target_id=request.query_params.get("target_id") or None,
            since=q_time(request, "from"),
            until=q_time(request, "to", end=True),
            page=(page := q_int(request, "page", 1, 1, 1_000_000)),
            per_page=(per_page := q_int(request, "per_page", 50, 1, MAX_PER_PAGE)),
        )
        items = [AuditEntryOut.model_validate({**r, "audit_id": r["_id"]}) for r in rows]
        return json_response(AuditList(items=items, total=total, page=page, per_page=per_page))

    add("GET", "/api/v1/audit", "The audit log of editorial actions, newest first", list_audit,
        role=Role.EDITOR, tag="audit",
        parameters=[_query("editor_id", "who"), _query("action", "e.g. article.publish"),
                    _query("target_id", "an article, tip, media or editor id"),
                    _query("from", "on or after (ISO date or date-time)"),
                    _query("to", "before (ISO date-time), or on or before (ISO date)"), *PAGING],
        responses={200: AuditList, 422: ErrorBody})  # fmt: skip

    return routes


async def _upload_bytes(request: Request, max_bytes: int) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise MediaTooLarge(f"the upload is over {max_bytes} bytes")
    if ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise BadRequest(
                    422, "validation_failed", "send the image in the multipart field 'file'"
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
            "send the image as multipart/form-data (field 'file') or as image/jpeg, image/png "
            "or image/webp",
        )
    if len(data) > max_bytes:
        raise MediaTooLarge(f"the image is over {max_bytes} bytes")
    return data
