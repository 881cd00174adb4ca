"""«Опросы»: readers' polls as the newsroom runs them (editors and above).

The polls service owns polls; these pages call its API server-side with the editor's own token
(``publisher.polls.PollsClient``): the list, a new poll (question, 2 to 20 options, single or
multiple choice, opening and closing times, when readers see the results, where it is shown),
one poll with its results whatever readers may see yet and its anomaly flags, where it is shown
(the front page, country sections, articles), and closing it early. When the polls service
does not answer, the page says so in Russian (502).
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.publisher.domain import ArticleQuery, ArticleStatus
from xabar.publisher.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    UpstreamUnavailable,
)
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem, pager_values
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.publisher.polls import NO_SUCH_POLL, Poll
from xabar.publisher.routes.params import path_id, q_int
from xabar.runtime.auth import Principal, Role
from xabar.runtime.bodies import Form

router = PageRouter(nav=[NavItem("Опросы", "polls", order=60, role=Role.EDITOR)])

PER_PAGE = 20
RECENT_ARTICLES = 20
MAX_OPTIONS = 20
MAX_ARTICLES = 50
STATUS_LABELS = {"scheduled": "запланирован", "open": "идёт", "closed": "закрыт"}
VISIBILITY = {
    "always": "сразу",
    "after_vote": "после голосования",
    "after_close": "после закрытия опроса",
}
POLL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ANOMALY_KINDS = {"address": "с одного адреса", "subnet": "из одной подсети"}


@dataclass
class Draft:
    """A new poll as the form holds it (kept when it goes back with errors)."""

    question: str = ""
    options: str = ""
    multiple: bool = False
    opens_at: str = ""
    closes_at: str = ""
    visibility: str = "always"
    front_page: bool = True
    countries: list[str] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)


def local_moment(newsroom: Newsroom, raw: str, what: str) -> datetime | None:
    """A ``datetime-local`` value read in the newsroom's time zone, as UTC (None if empty)."""
    if not raw.strip():
        return None
    try:
        naive = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"{what}: укажите дату и время") from None
    if naive.tzinfo is not None or not 1900 <= naive.year <= 2199:
        raise InvalidInput(f"{what}: укажите дату и время")
    return naive.replace(tzinfo=newsroom.settings.newsroom_zone()).astimezone(UTC)


def chosen_articles(form: Form) -> list[str]:
    """Articles ticked, and those typed (ids separated by commas, spaces or lines)."""
    typed = (form.get("more_articles") or "").replace(",", " ").split()
    ids = list(dict.fromkeys([*form.getlist("article_id"), *typed]))
    if len(ids) > MAX_ARTICLES:
        raise InvalidInput(f"опрос можно встроить не больше чем в {MAX_ARTICLES} статей")
    return ids


def placement_of(form: Form) -> tuple[bool, list[str], list[str]]:
    countries = [c for c in form.getlist("country") if c in COUNTRIES]
    return form.get("front_page") == "1", countries, chosen_articles(form)


def draft_of(form: Form) -> Draft:
    front_page, countries, articles = placement_of(form)
    return Draft(
        question=(form.get("question") or "").strip(),
        options=form.get("options") or "",
        multiple=form.get("choice") == "multiple",
        opens_at=form.get("opens_at") or "",
        closes_at=form.get("closes_at") or "",
        visibility=form.get("visibility") or "always",
        front_page=front_page,
        countries=countries,
        article_ids=articles,
    )


def new_poll(newsroom: Newsroom, draft: Draft) -> dict[str, Any]:
    """The body of ``POST /api/v1/polls``, checked as the polls service will (in Russian)."""
    if not 3 <= len(draft.question) <= 500:
        raise InvalidInput("вопрос: от 3 до 500 символов")
    options = [line.strip() for line in draft.options.splitlines() if line.strip()]
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise InvalidInput(f"вариантов ответа нужно от 2 до {MAX_OPTIONS}, по одному в строке")
    if any(len(o) > 300 for o in options):
        raise InvalidInput("вариант ответа: не длиннее 300 символов")
    if len({o.casefold() for o in options}) != len(options):
        raise InvalidInput("варианты ответа повторяются")
    if draft.visibility not in VISIBILITY:
        raise InvalidInput("выберите, когда читатели видят результаты")
    opens = local_moment(newsroom, draft.opens_at, "начало")
    closes = local_moment(newsroom, draft.closes_at, "конец")
    if closes is not None and closes <= (opens or datetime.now(UTC)):
        raise InvalidInput("конец опроса должен быть позже его начала")
    body: dict[str, Any] = {
        "question": draft.question,
        "options": options,
        "multiple": draft.multiple,
        "results_visibility": draft.visibility,
        "front_page": draft.front_page,
        "countries": draft.countries,
        "article_ids": draft.article_ids,
    }
    if opens is not None:
        body["opens_at"] = opens.isoformat()
    if closes is not None:
        body["closes_at"] = closes.isoformat()
    return body


async def articles_to_choose(
    newsroom: Newsroom, who: Principal, chosen: list[str]
) -> list[dict[str, Any]]:
    """The articles a poll may be embedded in: those it is in, then the latest published."""
    index = newsroom.api.articles.index
    picked = {str(s["article_id"]): s for s in await index.summaries(chosen)}
    latest = await newsroom.api.articles.search(
        who, ArticleQuery(status=ArticleStatus.PUBLISHED.value, per_page=RECENT_ARTICLES)
    )
    rows = [
        {"id": a, "title": (picked.get(a) or {}).get("title") or f"статья {a}", "on": True}
        for a in chosen
    ]
    rows += [
        {"id": s["article_id"], "title": s["title"], "on": False}
        for s in latest.items
        if s["article_id"] not in chosen
    ]
    return rows


def poll_id_of(request: Request) -> str:
    """The poll's id from the path; only what the polls service hands out (else 404)."""
    poll_id = path_id(request, "poll_id")
    if not POLL_ID.fullmatch(poll_id):
        raise NotFound(NO_SUCH_POLL)
    return poll_id


def sentence(text: str) -> str:
    """A message as a sentence: capital first letter, full stop at the end."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


async def poll_form(
    request: Request, draft: Draft, error: str | None = None, status: int = 200
) -> Response:
    newsroom = Newsroom.of(request)
    return await newsroom.pages.render(
        request,
        "polls/new.html",
        "Новый опрос",
        {
            "draft": draft,
            "error": sentence(error) if error else None,
            "countries": {c.code: c.name for c in COUNTRIES.values()},
            "visibility": VISIBILITY,
            "articles": await articles_to_choose(
                newsroom, current(request).principal, draft.article_ids
            ),
        },
        status=status,
    )


@router.page("GET", "/polls", "Readers' polls", role=Role.EDITOR)
async def polls(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    page = q_int(request, "page", 1, 1, 100_000)
    found = await newsroom.api.polls.page(current(request).principal, page, PER_PAGE)
    return await newsroom.pages.render(
        request,
        "polls/list.html",
        "Опросы",
        {
            "polls": found.items,
            **pager_values(found),
            "statuses": STATUS_LABELS,
            "where": where_shown,
        },
    )


def where_shown(poll: Poll) -> str:
    """Where the poll is shown, in a few words."""
    places = ["на главной"] if poll.front_page else []
    places += [COUNTRIES[c].name for c in poll.countries if c in COUNTRIES]
    if poll.article_ids:
        places.append(f"в статьях: {len(poll.article_ids)}")
    return ", ".join(places) or "нигде не показан"


@router.page("GET", "/polls/new", "A new poll", role=Role.EDITOR)
async def poll_new(request: Request) -> Response:
    return await poll_form(request, Draft())


@router.page("POST", "/polls", "Create a poll", role=Role.EDITOR)
async def poll_create(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    try:
        draft = draft_of(posted(request))
        body = new_poll(newsroom, draft)
        created = await newsroom.api.polls.create(session.principal, body)
    except InvalidInput as exc:
        return await poll_form(request, draft_of_safe(posted(request)), exc.message, 422)
    except UpstreamUnavailable as exc:  # what was typed stays in the form
        return await poll_form(request, draft_of_safe(posted(request)), exc.message, 502)
    await newsroom.sessions.flash(session, "Опрос создан.")
    return see_other(request, "poll", poll_id=created.poll_id)


def draft_of_safe(form: Form) -> Draft:
    """The draft to show again with an error (what the form said, as far as it reads)."""
    try:
        return draft_of(form)
    except InvalidInput:
        return Draft(
            question=(form.get("question") or "").strip(), options=form.get("options") or ""
        )


@router.page("GET", "/polls/{poll_id}", "A poll: results, anomalies, placement", role=Role.EDITOR)
async def poll(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    who = current(request).principal
    poll_id = poll_id_of(request)
    found = await newsroom.api.polls.get(who, poll_id)
    results = await newsroom.api.polls.results(who, poll_id)
    return await newsroom.pages.render(
        request,
        "polls/poll.html",
        found.question,
        {
            "poll": found,
            "results": results.results,
            "anomalies": results.anomalies,
            "anomaly_kinds": ANOMALY_KINDS,
            "statuses": STATUS_LABELS,
            "visibility": VISIBILITY,
            "countries": {c.code: c.name for c in COUNTRIES.values()},
            "articles": await articles_to_choose(newsroom, who, found.article_ids),
        },
    )


@router.page("POST", "/polls/{poll_id}/placement", "Where a poll is shown", role=Role.EDITOR)
async def poll_place(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    poll_id = poll_id_of(request)

    async def place() -> None:
        front_page, countries, articles = placement_of(posted(request))
        await newsroom.api.polls.place(session.principal, poll_id, front_page, countries, articles)

    await newsroom.attempt(
        session,
        place,
        done="Размещение опроса сохранено.",
        failed="Размещение не изменено",
        refused=(InvalidInput, InvalidTransition),
    )
    return see_other(request, "poll", poll_id=poll_id)


@router.page("POST", "/polls/{poll_id}/close", "Close a poll now", role=Role.EDITOR)
async def poll_close(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    poll_id = poll_id_of(request)
    await newsroom.attempt(
        session,
        lambda: newsroom.api.polls.close(session.principal, poll_id),
        done="Опрос закрыт: голоса больше не принимаются.",
        failed="Опрос не закрыт",
        refused=(InvalidTransition,),
    )
    return see_other(request, "poll", poll_id=poll_id)
