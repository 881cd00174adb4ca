"""Moderation of readers' comments (editors and above): the queues by status, one comment,
approve, reject, spam, bulk approve, a passage edited out, an author's address blocked for a
while, and the comments of an article closed or opened again."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.comments import CommentService, CommentStatus, comment_fields
from xabar.publisher.domain import Doc
from xabar.publisher.routes import params
from xabar.publisher.routes.common import PublisherRouter, named
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import (
    BlockIn,
    BlockList,
    BlockOut,
    BulkApproveIn,
    BulkApproveOut,
    BulkOutcomeOut,
    CommentList,
    CommentOut,
    CommentsOpenOut,
    CommentSummary,
    EditOutIn,
)
from xabar.runtime.auth import Principal, Role
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["comments"], security=Role.EDITOR)

STATUSES = frozenset(s.value for s in CommentStatus)
ACTION = {200: CommentOut, 404: ErrorBody}
MAX_BODY = 16 * 1024


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else value


def summary_out(row: dict[str, Any]) -> CommentSummary:
    """A queue's entry (``repositories.comments.entry_of``) as the API shows it."""
    return CommentSummary.model_validate(
        {
            **row,
            "submitted_at": _when(row["submitted_at"]),
            "moderated_at": _when(row.get("moderated_at")),
        }
    )


def comment_out(doc: Doc) -> CommentOut:
    return CommentOut(
        **comment_fields(doc),
        original_text=doc["original_text"],
        status=doc["status"],
        public=bool(doc["public"]),
        reason=doc.get("reason"),
        version=int(doc["version"]),
        client_tag=str(doc.get("client_hash") or "")[:8],
        submitted_at=doc["submitted_at"],
        published_at=doc.get("published_at"),
        moderated_at=doc.get("moderated_at"),
        moderated_by=doc.get("moderated_by"),
    )


def comment_id(request: Request) -> str:
    return params.path_id(request, "comment_id")


Moderation = Callable[[CommentService, Principal, str], Awaitable[Doc]]


# The moderations alike but for what the service does: verb -> (its method, the summary).
MODERATIONS: dict[str, tuple[Moderation, str]] = {
    "approve": (CommentService.approve, "Approve a comment: readers see it (comment.published)"),
    "reject": (CommentService.reject, "Reject a comment (comment.removed if readers saw it)"),
    "spam": (
        CommentService.mark_spam,
        "Mark a comment as spam (comment.removed if readers saw it)",
    ),
}


def _moderation(verb: str, action: Moderation, summary: str) -> None:
    """``POST .../{comment_id}/<verb>`` (``<verb>_comment``): ``action`` on the comment of the
    path, by the editor."""

    async def moderate(request: Request) -> Response:
        doc = await action(Deps.of(request).comments, principal(request), comment_id(request))
        return json_response(comment_out(doc))

    path = f"/api/v1/comments/{{comment_id}}/{verb}"
    router.post(path, summary, responses=ACTION)(named(f"{verb}_comment", moderate))


FILTERS = (
    params.choice_filter("status", "pending (default), approved, rejected or spam", STATUSES),
    params.text_filter("article_id", "only the comments of this article", 100),
)


@router.listing(
    "/api/v1/comments",
    "Readers' comments in one status (by default pending: oldest first; the others newest "
    "first), of one article or of all",
    CommentList,
    FILTERS,
)
async def list_comments(request: Request) -> Response:
    comments = Deps.of(request).comments
    wanted = params.q_filters(request, FILTERS)
    status = CommentStatus(wanted["status"] or "pending")
    article_id = wanted["article_id"]
    found = await comments.queue(status, article_id, wanted["page"], wanted["per_page"])
    items = [summary_out(r) for r in found.items]
    return json_response(CommentList.of(found, items, counts=await comments.counts(article_id)))


@router.get(
    "/api/v1/comments/{comment_id}",
    "One comment, with the text its author wrote",
    responses=ACTION,
)
async def get_comment(request: Request) -> Response:
    return json_response(comment_out(await Deps.of(request).comments.get(comment_id(request))))


for verb, (action, summary) in MODERATIONS.items():
    _moderation(verb, action, summary)


@router.post(
    "/api/v1/comments/{comment_id}/edit",
    'Take a passage out of a comment: it reads "[отредактировано]" there (published again '
    "if readers see it)",
    body=EditOutIn,
    responses=ACTION,
)
async def edit_comment(request: Request) -> Response:
    comments = Deps.of(request).comments
    body = await params.read_body(request, EditOutIn, MAX_BODY)
    doc = await comments.edit(principal(request), comment_id(request), body.passage)
    return json_response(comment_out(doc))


@router.post(
    "/api/v1/comments/bulk-approve",
    "Approve many comments at once (each said to have worked or not)",
    body=BulkApproveIn,
    responses={200: BulkApproveOut},
)
async def bulk_approve_comments(request: Request) -> Response:
    comments = Deps.of(request).comments
    body = await params.read_body(request, BulkApproveIn, MAX_BODY)
    done = await comments.approve_many(principal(request), body.comment_ids)
    items = [BulkOutcomeOut.model_validate(o, from_attributes=True) for o in done]
    return json_response(BulkApproveOut(items=items))


@router.post(
    "/api/v1/comments/{comment_id}/block",
    "Block the address the comment came from for a number of hours: its later comments are "
    "rejected on arrival",
    body=BlockIn,
    responses={200: BlockOut, 404: ErrorBody},
)
async def block_comment_author(request: Request) -> Response:
    comments = Deps.of(request).comments
    body = await params.read_body(request, BlockIn, MAX_BODY)
    cid = comment_id(request)
    until = await comments.block_author(principal(request), cid, body.hours)
    doc = await comments.get(cid)
    out = BlockOut(client_hash=doc["client_hash"], until=until, comment_id=cid, name=doc["name"])
    return json_response(out)


@router.get(
    "/api/v1/comment-blocks",
    "Addresses whose comments are rejected on arrival, and until when",
    responses={200: BlockList},
)
async def list_comment_blocks(request: Request) -> Response:
    rows = await Deps.of(request).comments.blocks()
    return json_response(BlockList(items=[BlockOut.model_validate(r) for r in rows]))


@router.delete(
    "/api/v1/comment-blocks/{client_hash}",
    "Lift the block of an address",
    responses={204: None, 404: ErrorBody},
)
async def unblock_comment_author(request: Request) -> Response:
    comments = Deps.of(request).comments
    await comments.unblock(principal(request), params.path_id(request, "client_hash"))
    return Response(status_code=204)


# Closing and opening an article's comments: verb -> (open afterwards, the summary).
OPENINGS = {
    "close": (
        False,
        "Close the comments of an article (its state is sent again with comments_open false; "
        "later comments on it are rejected on arrival)",
    ),
    "open": (True, "Open the comments of an article again"),
}


def _opening(verb: str, is_open: bool, summary: str) -> None:
    """``POST /api/v1/articles/{article_id}/comments/<verb>`` (``<verb>_article_comments``)."""

    async def set_open(request: Request) -> Response:
        comments = Deps.of(request).comments
        article_id = params.path_id(request, "article_id")
        now_open = await comments.set_open(principal(request), article_id, is_open)
        return json_response(CommentsOpenOut(article_id=article_id, comments_open=now_open))

    path = f"/api/v1/articles/{{article_id}}/comments/{verb}"
    responses = {200: CommentsOpenOut, 404: ErrorBody}
    router.post(path, summary, responses=responses)(named(f"{verb}_article_comments", set_open))


for verb, (is_open, summary) in OPENINGS.items():
    _opening(verb, is_open, summary)
