"""The inbox of citizen reporters' tips: the list, one tip, review, accept, reject."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES, SubmissionStatus
from xabar.publisher.config import PublisherSettings
from xabar.publisher.domain import Doc
from xabar.publisher.inbox import reporter_contact
from xabar.publisher.repositories.tips import TipQuery
from xabar.publisher.routes import params
from xabar.publisher.routes.articles import article_out
from xabar.publisher.routes.common import PublisherRouter, etag
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import (
    AcceptOut,
    AttachmentOut,
    ContactOut,
    InboxItemOut,
    InboxList,
    InboxSummary,
    RejectIn,
)
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["inbox"], security=Role.EDITOR)

EXCERPT = 200
STATUSES = frozenset(s.value for s in SubmissionStatus)
REVIEW_RESPONSES = {200: InboxItemOut, 404: ErrorBody, 409: ErrorBody}


def _tip_fields(doc: Doc) -> Doc:
    """What a tip's list entry and its full view both show."""
    tip = doc["submission"]
    return {
        "submission_id": str(doc["_id"]),
        "status": SubmissionStatus(doc["status"]),
        "version": int(doc["version"]),
        "title": tip["title"],
        "country": tip["country"],
        "received_at": doc["received_at"],
        "article_id": doc.get("article_id"),
    }


def inbox_out(doc: Doc, settings: PublisherSettings) -> InboxItemOut:
    tip = doc["submission"]
    contact = reporter_contact(tip, settings.newsroom_key())
    return InboxItemOut(
        **_tip_fields(doc),
        text=tip["text"],
        location=tip.get("location"),
        anonymous=bool(tip.get("anonymous")),
        contact=ContactOut.model_validate(contact.model_dump()) if contact else None,
        attachments=[AttachmentOut.model_validate(a) for a in tip.get("attachments") or []],
        reviewed_at=doc.get("reviewed_at"),
        reviewed_by=doc.get("reviewed_by"),
        public_reason=doc.get("public_reason"),
    )


def inbox_summary(doc: Doc) -> InboxSummary:
    tip = doc["submission"]
    return InboxSummary(
        **_tip_fields(doc),
        excerpt=tip["text"][:EXCERPT],
        attachments=len(tip.get("attachments") or []),
    )


def submission_id(request: Request) -> str:
    return params.path_id(request, "submission_id")


def tip_response(request: Request, doc: Doc) -> Response:
    return json_response(inbox_out(doc, Deps.of(request).settings))


FILTERS = (
    params.choice_filter(
        "status", "received, in_review, accepted, rejected or published", STATUSES
    ),
    params.choice_filter("country", "a country code, or other", {*COUNTRIES, "other"}),
    params.period_filter("received"),
)


@router.listing("/api/v1/inbox", "Citizen reporters' tips, newest first", InboxList, FILTERS)
async def list_inbox(request: Request) -> Response:
    wanted = TipQuery(**params.q_filters(request, FILTERS))
    found = await Deps.of(request).inbox.search(wanted)
    items = [inbox_summary(r) for r in found.items]
    return json_response(InboxList.of(found, items))


@router.get(
    "/api/v1/inbox/{submission_id}",
    "One tip",
    responses={200: InboxItemOut, 404: ErrorBody},
)
async def get_tip(request: Request) -> Response:
    return tip_response(request, await Deps.of(request).inbox.get(submission_id(request)))


@router.post(
    "/api/v1/inbox/{submission_id}/review",
    "Take a tip into review",
    responses=REVIEW_RESPONSES,
)
async def review_tip(request: Request) -> Response:
    sid = submission_id(request)
    doc = await Deps.of(request).inbox.start_review(principal(request), sid)
    return tip_response(request, doc)


@router.post(
    "/api/v1/inbox/{submission_id}/accept",
    "Accept a tip: a draft article from it, its photos copied",
    responses={201: AcceptOut, 404: ErrorBody, 409: ErrorBody, 502: ErrorBody},
)
async def accept_tip(request: Request) -> Response:
    deps = Deps.of(request)
    done = await deps.inbox.accept(principal(request), submission_id(request))
    article = article_out(done.article, deps.settings)
    out = AcceptOut(submission=inbox_out(done.submission, deps.settings), article=article)
    return json_response(out, 201, headers={"ETag": etag(done.article.version)})


@router.post(
    "/api/v1/inbox/{submission_id}/reject",
    "Reject a tip with a reason the reporter will see",
    body=RejectIn,
    responses={**REVIEW_RESPONSES, 422: ErrorBody},
)
async def reject_tip(request: Request) -> Response:
    body = await params.read_body(request, RejectIn, 16 * 1024)
    sid = submission_id(request)
    doc = await Deps.of(request).inbox.reject(principal(request), sid, body.public_reason)
    return tip_response(request, doc)
