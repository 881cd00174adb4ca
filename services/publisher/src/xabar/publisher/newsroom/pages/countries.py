"""«О странах» (editors and above): the profile of each country section, as the readers' site
shows it on ``/{country}/about`` and beside the section's news.

The list of the portal's countries with each profile's version and last edit; one country's
form (title, lead, the body in the editor, a short table of facts) posted as a plain form with
its CSRF token and the version it was read at. A save publishes ``country_profile.published``
(``profiles.ProfileService``); a form with problems comes back with them (422), and one saved
over someone else's edit comes back with both texts side by side and nothing stored (409).
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.publisher.errors import InvalidInput, VersionConflict
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.publisher.profiles import MAX_FACTS, ProfileDraft, country_of
from xabar.publisher.routes.params import path_id
from xabar.runtime.auth import Role
from xabar.runtime.bodies import Form

router = PageRouter(nav=[NavItem("О странах", "countries", order=65, role=Role.EDITOR)])

SPARE_FACTS = 3  # empty rows under the facts, for new ones
BAD_VERSION = "Форма повреждена: откройте профиль заново и перенесите в него свой текст."


def site_page(newsroom: Newsroom, code: str) -> str:
    return f"{newsroom.settings.site_url.rstrip('/')}/{COUNTRIES[code].slug}/about"


@router.page("GET", "/countries", "The countries' profiles", role=Role.EDITOR)
async def countries(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    stored = await newsroom.api.profiles.all()
    rows = [
        {
            "code": code,
            "name": c.name,
            "profile": stored.get(code),
            "site": site_page(newsroom, code),
        }
        for code, c in COUNTRIES.items()
    ]
    return await newsroom.pages.render(request, "countries/list.html", "О странах", {"rows": rows})


def _draft(form: Form) -> ProfileDraft:
    labels, values = form.getlist("fact_label"), form.getlist("fact_value")
    facts = tuple(zip(labels, values, strict=False))[: MAX_FACTS + SPARE_FACTS]
    return ProfileDraft(
        title=form.get("title") or "",
        lead=form.get("lead") or "",
        body_html=form.get("body_html") or "",
        facts=facts,
    )


async def _form_page(
    request: Request,
    code: str,
    draft: ProfileDraft | None = None,
    *,
    errors: list[str] | None = None,
    theirs: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    newsroom = Newsroom.of(request)
    stored = await newsroom.api.profiles.get(code)
    country = COUNTRIES[code]
    if draft is None:
        draft = ProfileDraft.of(stored) if stored else ProfileDraft(title=country.name)
    facts = [*draft.filled_facts(), *([("", "")] * SPARE_FACTS)][: MAX_FACTS + SPARE_FACTS]
    return await newsroom.pages.render(
        request,
        "countries/edit.html",
        f"О стране: {country.name}",
        {
            "code": code,
            "country": country,
            "profile": stored,
            "version": int(stored["version"]) if stored else 0,
            "values": draft,
            "facts": facts,
            "errors": errors or [],
            "theirs": theirs,
            "site": site_page(newsroom, code),
        },
        status=status,
    )


@router.page("GET", "/countries/{code}", "One country's profile", role=Role.EDITOR)
async def country(request: Request) -> Response:
    return await _form_page(request, country_of(path_id(request, "code")))


@router.page("POST", "/countries/{code}", "Save and publish a country's profile", role=Role.EDITOR)
async def save_country(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    code = country_of(path_id(request, "code"))
    form = posted(request)
    draft = _draft(form)
    version = form.get("version") or "0"
    if not version.isdigit() or len(version) > 9:
        return await _form_page(request, code, draft, errors=[BAD_VERSION], status=422)
    try:
        doc = await newsroom.api.profiles.save(
            current(request).principal, code, draft, int(version)
        )
    except InvalidInput as exc:
        return await _form_page(request, code, draft, errors=exc.message.split("\n"), status=422)
    except VersionConflict:
        theirs = await newsroom.api.profiles.get(code)
        return await _form_page(request, code, draft, theirs=theirs, status=409)
    await newsroom.sessions.flash(
        current(request),
        f"Профиль «{doc['title']}» опубликован (версия {doc['version']}): "
        "сайт покажет его через несколько секунд.",
    )
    return see_other(request, "country", code=code)
