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
from xabar.publisher.routes.common import PublisherRouter
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


async def _moderate(request: Request, action: Moderation) -> Response:
    """``action`` (approve, reject, spam) on the comment of the path, by the editor."""
    doc = await action(Deps.of(request).comments, principal(request), comment_id(request))
    return json_response(comment_out(doc))


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


@router.post(
    "/api/v1/comments/{comment_id}/approve",
    "Approve a comment: readers see it (comment.published)",
    responses=ACTION,
)
async def approve_comment(request: Request) -> Response:
    return await _moderate(request, CommentService.approve)


@router.post(
    "/api/v1/comments/{comment_id}/reject",
    "Reject a comment (comment.removed if readers saw it)",
    responses=ACTION,
)
async def reject_comment(request: Request) -> Response:
    return await _moderate(request, CommentService.reject)


@router.post(
    "/api/v1/comments/{comment_id}/spam",
    "Mark a comment as spam (comment.removed if readers saw it)",
    responses=ACTION,
)
async def spam_comment(request: Request) -> Response:
    return await _moderate(request, CommentService.mark_spam)


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


OPENING = {200: CommentsOpenOut, 404: ErrorBody}


async def _set_open(request: Request, is_open: bool) -> Response:
    comments = Deps.of(request).comments
    article_id = params.path_id(request, "article_id")
    now_open = await comments.set_open(principal(request), article_id, is_open)
    return json_response(CommentsOpenOut(article_id=article_id, comments_open=now_open))


@router.post(
    "/api/v1/articles/{article_id}/comments/close",
    "Close the comments of an article (its state is sent again with comments_open false; "
    "later comments on it are rejected on arrival)",
    responses=OPENING,
)
async def close_article_comments(request: Request) -> Response:
    return await _set_open(request, False)


@router.post(
    "/api/v1/articles/{article_id}/comments/open",
    "Open the comments of an article again",
    responses=OPENING,
)
async def open_article_comments(request: Request) -> Response:
    return await _set_open(request, True)
