"""Readers' comments: the form the feed embeds under each article, its post, and the API.

- ``GET /comments/form?article_id=ID[&reply_to=COMMENT_ID]``: a small Russian form (name, text,
  the comment answered, a honeypot, a token signed with the time it was served and bound to the
  client). Served here so that every view gets a fresh token while the feed's article pages
  stay cached: the feed embeds it as ``<iframe name="comment-form" src="…">`` and its "Ответить"
  links target that frame. Only the readers' site may frame it (CSP ``frame-ancestors``, from
  ``SITE_URL``); no JavaScript.
- ``POST /comments``: the form's post; answers, in the frame, "Комментарий отправлен на
  модерацию", or the form again with what to fix.
- ``POST /api/v1/comments``: a comment as JSON (``Idempotency-Key``): 202.

A comment is durably accepted (``readers``); a double click, a reload or a retry with the same
token or key makes one comment. Rate limited per client address; the address is kept only as a
hash under the comments' own key.
"""

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.comments import (
    COMMENT_MAX,
    COMMENT_MESSAGES,
    NAME_MAX,
    CommentAccepted,
    NewComment,
    is_article_id,
    is_comment_id,
    validate_comment,
)
from xabar.ingest.deps import Deps
from xabar.ingest.routes.common import (
    IDEMPOTENCY_KEY,
    FormPage,
    SignedForm,
    accepted,
    api_answers,
    form_post,
    read_api_post,
    read_post,
)
from xabar.ingest.routes.html import Words, framed_by, html, notice_for
from xabar.runtime.bodies import Limits
from xabar.runtime.routing import ErrorMap, Router

router = Router(tags=["comments"])

COMMENT_LIMITS = Limits(max_bytes=32 * 1024, max_fields=10, max_field_bytes=16 * 1024)
MAX_JSON = 32 * 1024
WORDS = Words("комментарий", "комментариев")
NO_ARTICLE = "Не удалось открыть форму комментария: не указана статья."
API_ANSWERS = api_answers(CommentAccepted)


class CommentForm(SignedForm):
    """The fields of the comment form (application/x-www-form-urlencoded)."""

    article_id: str
    reply_to: str | None = None
    name: str
    text: str


@dataclass
class CommentPage(FormPage):
    """The pages of the comment frame (framable by the readers' site only)."""

    article_id: str = ""
    reply_to: str = ""

    template = "comment_form.html"
    title = "Комментарий"
    shown = ("name", "text")
    messages = COMMENT_MESSAGES
    words = WORDS

    def context(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "reply_to": self.reply_to,
            "name_max": NAME_MAX,
            "text_max": COMMENT_MAX,
        }

    def took(self, values: dict[str, str]) -> None:
        super().took(values)
        self.article_id, self.reply_to = values.get("article_id", ""), values.get("reply_to", "")

    def respond(self, body: str, status: int, headers: dict[str, str] | None) -> Response:
        return html(body, status, {**framed_by(self.deps.settings.site_url), **(headers or {})})

    def message(self, status: int, message: str) -> Response:
        body = self.deps.pages.render(
            "frame_message.html", page_title="Комментарий", message=message
        )
        return self.respond(body, status, None)

    def sent(self) -> Response:
        body = self.deps.pages.render(
            "comment_sent.html", page_title="Комментарий отправлен", article_id=self.article_id
        )
        return self.respond(body, 200, None)

    def __call__(self, exc: Exception, spec: ErrorMap) -> Response:
        if not is_article_id(self.article_id):  # not even the article: no form to show again
            shared = notice_for(exc, WORDS)
            return self.message(spec.status, shared[0] if shared else NO_ARTICLE)
        return super().__call__(exc, spec)


@router.get(
    "/comments/form",
    "The comment form of an article (Russian HTML, framed by the readers' site only)",
    responses={200: "text/html", 400: "text/html"},
    parameters=[
        {"name": "article_id", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "reply_to", "in": "query", "required": False, "schema": {"type": "string"}},
    ],
)
async def comment_form(request: Request) -> Response:
    article_id = request.query_params.get("article_id", "")
    reply_to = request.query_params.get("reply_to", "")
    page = CommentPage.of(request, article_id=article_id, reply_to=reply_to)
    if not is_article_id(article_id):
        return page.message(400, NO_ARTICLE)
    if reply_to and not is_comment_id(reply_to):
        page.reply_to = ""
        return page.form(400, notice="Комментарий, на который вы отвечаете, не найден.")
    return page.form()


@form_post(
    router, "/comments", "Send the comment form; answers in the frame (Russian HTML)", CommentForm
)
async def send_comment_form(request: Request) -> Response:
    page = CommentPage.of(request)
    sent = await read_post(request, page, COMMENT_LIMITS, page.deps.comment_limit)
    comment = validate_comment(sent.fields)
    await page.deps.readers.comment(comment, client_hash=sent.client, via=sent.via)
    return page.sent()


@router.post(
    "/api/v1/comments",
    "Send a comment (JSON). 202 means durably accepted: it waits for moderation.",
    body=NewComment,
    responses=API_ANSWERS,
    parameters=[IDEMPOTENCY_KEY],
)
async def send_comment(request: Request) -> Response:
    deps = Deps.of(request)
    sent = await read_api_post(request, deps.comment_limit, MAX_JSON)
    comment = validate_comment(sent.fields)
    taken = await deps.readers.comment(comment, client_hash=sent.client, via=sent.via)
    return accepted(CommentAccepted(comment_id=taken.doc_id), taken.replayed)
