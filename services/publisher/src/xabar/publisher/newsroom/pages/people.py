"""«Люди» (chief only): the newsroom's accounts. Create one (its owner sets the password through a
one-time link), change a role, disable and re-enable, send a new password link. A change of role,
a disabled account and a new password end every session and API token of that account at once
(``accounts.Accounts``)."""

import secrets

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import ROLE_LABELS
from xabar.publisher.errors import EditorExists, InvalidInput, NotAllowed
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.runtime.auth import Role

router = PageRouter(nav=[NavItem("Люди", "people", order=80, role=Role.CHIEF)])

ROLES = [{"value": r.value, "label": ROLE_LABELS[r]} for r in Role]
LINK_SENT = "Ссылка для пароля отправлена на почту (без SMTP — записана в журнал сервера)."


def role_of(value: str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError:
        raise InvalidInput("выберите роль из списка") from None


@router.page("GET", "/people", "The newsroom's accounts", role=Role.CHIEF)
async def people(
    request: Request, *, error: str = "", values: dict[str, str] | None = None, status: int = 200
) -> Response:
    """The list (shown again by ``create_person`` with what went wrong and what was typed)."""
    newsroom = Newsroom.of(request)
    rows = await newsroom.api.editors.all()
    return await newsroom.pages.render(
        request,
        "people/list.html",
        "Люди",
        {"people": rows, "roles": ROLES, "error": error, "values": values or {}},
        status=status,
    )


@router.page("POST", "/people", "Create an account", role=Role.CHIEF)
async def create_person(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    form = posted(request)
    values = {k: (form.get(k) or "").strip()[:320] for k in ("email", "name", "role")}
    by = current(request).principal
    try:
        doc = await newsroom.api.editors.create(
            email=values["email"],
            name=values["name"],
            role=role_of(values["role"]),
            password=secrets.token_urlsafe(32),  # nobody knows it: the owner sets their own
            created_by=by,
        )
    except (InvalidInput, EditorExists) as exc:
        return await people(request, error=exc.message, values=values, status=422)
    await newsroom.api.accounts.send_reset_link(by, str(doc["_id"]))
    await newsroom.sessions.flash(
        current(request), f"Учётная запись {doc['email']} создана. {LINK_SENT}"
    )
    return see_other(request, "person", editor_id=str(doc["_id"]))


@router.page("GET", "/people/{editor_id}", "One account", role=Role.CHIEF)
async def person(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    doc = await newsroom.api.accounts.get(str(request.path_params["editor_id"])[:64])
    return await newsroom.pages.render(
        request,
        "people/person.html",
        doc["name"],
        {"person": doc, "roles": ROLES, "me": doc["_id"] == current(request).editor_id},
    )


async def _done(request: Request, editor_id: str, text: str) -> Response:
    await Newsroom.of(request).sessions.flash(current(request), text)
    return see_other(request, "person", editor_id=editor_id)


async def _refused(request: Request, editor_id: str, exc: NotAllowed | InvalidInput) -> Response:
    await Newsroom.of(request).sessions.flash(current(request), exc.message, "error")
    return see_other(request, "person", editor_id=editor_id)


@router.page("POST", "/people/{editor_id}/role", "Change an account's role", role=Role.CHIEF)
async def change_role(request: Request) -> Response:
    editor_id = str(request.path_params["editor_id"])[:64]
    accounts = Newsroom.of(request).api.accounts
    try:
        role = role_of(posted(request).get("role"))
        await accounts.set_role(current(request).principal, editor_id, role)
    except (NotAllowed, InvalidInput) as exc:
        return await _refused(request, editor_id, exc)
    return await _done(
        request, editor_id, f"Роль изменена: {ROLE_LABELS[role]}. Прежние входы завершены."
    )


@router.page("POST", "/people/{editor_id}/active", "Disable or enable an account", role=Role.CHIEF)
async def change_active(request: Request) -> Response:
    editor_id = str(request.path_params["editor_id"])[:64]
    active = posted(request).get("active") == "1"
    accounts = Newsroom.of(request).api.accounts
    try:
        await accounts.set_active(current(request).principal, editor_id, active)
    except NotAllowed as exc:
        return await _refused(request, editor_id, exc)
    text = (
        "Учётная запись включена." if active else "Учётная запись отключена, все входы завершены."
    )
    return await _done(request, editor_id, text)


@router.page("POST", "/people/{editor_id}/reset", "Send a password link", role=Role.CHIEF)
async def send_reset(request: Request) -> Response:
    editor_id = str(request.path_params["editor_id"])[:64]
    accounts = Newsroom.of(request).api.accounts
    await accounts.send_reset_link(current(request).principal, editor_id)
    return await _done(request, editor_id, LINK_SENT)
