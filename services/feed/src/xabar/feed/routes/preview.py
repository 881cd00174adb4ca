"""The newsroom's preview: an article the publisher posts (its ``ArticleState``, not yet
published or not yet saved), rendered by the very code and template of the article page, for an
editor's bearer token only, and never stored: not in the read model, not in the page cache.

The article page reads its article from the read model; here the pages are given a read model
that answers the posted article instead (everything else it reads comes from the real one), so
the preview is what the readers' site would render, byte for byte, today.
"""

import copy
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import ArticleState
from xabar.feed.documents import ArticleDoc, article_doc
from xabar.feed.pages import HTML
from xabar.feed.repository import ArticleRead, ReadModel, Snapshot
from xabar.feed.routes.deps import Deps
from xabar.runtime.auth import AuthError, Role, TokenVerifier
from xabar.runtime.bodies import parse_body
from xabar.runtime.errors import BadRequest
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import Router

MAX_PREVIEW_BYTES = 2 * 1024 * 1024  # an article body as the publisher allows it, and more

router = Router(tags=["preview"])


class PostedArticle(ReadModel):
    """The real read model, except that the article asked for is the posted one."""

    def __init__(self, real: ReadModel, doc: ArticleDoc) -> None:
        super().__init__(real.redis)
        self.real = real
        self.doc = doc

    async def article(self, slug: str, comments_from: int = 0, comments: int = 0) -> ArticleRead:
        """The posted article; if it is on the site already, with its poll and readers'
        comments as its page shows them."""
        held = await self.real.article(slug, comments_from, comments)
        if held.article is None or held.article.article_id != self.doc.article_id:
            return ArticleRead(Snapshot(None, 0, datetime.now(UTC)), self.doc, None)
        doc = self.doc.model_copy(update={"comment_count": held.article.comment_count})
        return ArticleRead(
            held.snapshot, doc, held.poll, comments=held.comments, continued=held.continued
        )


@router.post(
    "/api/v1/preview",
    "An article rendered as the article page renders it, not stored (an editor's token)",
    body=ArticleState,
    responses={200: "text/html", 401: ErrorBody, 413: ErrorBody, 422: ErrorBody, 503: ErrorBody},
    include_in_schema=False,
)
async def preview(request: Request) -> Response:
    deps = Deps.of(request)
    if not deps.settings.token_public_key.strip():
        raise BadRequest(
            503, "preview_unavailable", "no TOKEN_PUBLIC_KEY is set, so no editor is known here"
        )
    # a preview shows what the editor sent and stores nothing: signature and expiry suffice
    verifier = TokenVerifier(deps.settings.token_public_key, None)
    try:
        verifier.authenticate(request, Role.CONTRIBUTOR)
    except AuthError as exc:
        raise BadRequest(
            401,
            "unauthorized",
            "a preview needs an editor's bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
    state = await parse_body(request, ArticleState, MAX_PREVIEW_BYTES)
    pages = copy.copy(deps.pages)
    pages.read = PostedArticle(deps.pages.read, article_doc(state, 0))
    rendered = await pages.article(state.slug)
    headers = {**rendered.headers, "Cache-Control": "no-store"}
    return Response(rendered.body, rendered.status, media_type=HTML, headers=headers)
