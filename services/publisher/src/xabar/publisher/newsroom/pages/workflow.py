"""The workflow buttons of the editor page, as form posts: submit for review, return to draft,
schedule (a date and time in the newsroom's time zone), publish, unpublish; and the news of the
day, site-wide or for one of the article's countries.

The page shows a role only the buttons it may use; the service checks every action all the same
(``domain.check_transition``), so a forged post of a button not shown is refused (403). An
action the article's status no longer allows, or a version someone changed meanwhile, comes
back to the editor page with what happened.
"""

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import ACTION_LABELS, TRANSITIONS
from xabar.publisher.errors import InvalidInput, InvalidTransition, NotFound, VersionConflict
from xabar.publisher.newsroom import editing
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.runtime.auth import Role
from xabar.runtime.errors import BadRequest

router = PageRouter()

DONE = {
    "submit": "Статья отправлена на проверку.",
    "return": "Статья возвращена в черновики.",
    "schedule": "Публикация запланирована на {when}.",
    "publish": "Статья опубликована.",
    "unpublish": "Статья снята с публикации.",
}


@router.page("POST", "/articles/{article_id}/workflow/{action}", "A workflow action")
async def article_action(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    action = str(request.path_params["action"])
    if action not in TRANSITIONS:
        raise NotFound("такого действия нет")
    form = posted(request)
    article_id = editing.article_id_of(request)
    publish_at = None
    try:
        version = editing.version_of(form)
        if action == "schedule":
            publish_at = local_moment(newsroom, form.get("publish_at") or "")
        await newsroom.api.articles.transition(
            session.principal, article_id, action, expected_version=version, publish_at=publish_at
        )
    except VersionConflict:
        await newsroom.sessions.flash(
            session, "Статью только что изменили. Посмотрите её и повторите.", "error"
        )
    except (InvalidTransition, InvalidInput, BadRequest) as exc:
        label = ACTION_LABELS[action]
        await newsroom.sessions.flash(session, f"Не получилось «{label}»: {_said(exc)}", "error")
    else:
        when = newsroom.pages.dates.when(publish_at) if publish_at else ""
        await newsroom.sessions.flash(session, DONE[action].format(when=when))
    return see_other(request, "article", article_id=article_id)


def local_moment(newsroom: Newsroom, raw: str) -> datetime:
    """A ``datetime-local`` value, read in the newsroom's time zone, as UTC."""
    try:
        naive = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("укажите дату и время публикации") from None
    if naive.tzinfo is not None or not 1900 <= naive.year <= 2199:
        raise InvalidInput("укажите дату и время публикации")
    return naive.replace(tzinfo=newsroom.settings.newsroom_zone()).astimezone(UTC)


def _said(exc: Exception) -> str:
    if isinstance(exc, BadRequest):
        return "в форме нет версии статьи"
    return str(getattr(exc, "message", "") or exc)


@router.page("POST", "/articles/{article_id}/feature", "The news of the day", role=Role.EDITOR)
async def feature_article(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    form = posted(request)
    article_id = editing.article_id_of(request)
    scope = form.get("scope") or "site"
    country = None if scope == "site" else scope
    articles = newsroom.api.articles
    try:
        if form.get("do") == "unfeature":
            found = await articles.read(session.principal, article_id)
            scopes: list[str | None] = [None] if found.featured else []
            scopes += list(found.featured_countries)
            for where in scopes:
                await articles.unfeature(session.principal, article_id, where)
            text = "Статья больше не новость дня."
        else:
            await articles.feature(session.principal, article_id, country)
            where = "на всём сайте" if country is None else editing.COUNTRY_NAMES.get(country, "")
            text = f"Статья — новость дня {where}."
    except (InvalidTransition, InvalidInput) as exc:
        await newsroom.sessions.flash(session, f"Не получилось: {_said(exc)}", "error")
    else:
        await newsroom.sessions.flash(session, text)
    return see_other(request, "article", article_id=article_id)
