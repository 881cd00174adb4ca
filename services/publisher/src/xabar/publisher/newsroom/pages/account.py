"""The editor's own account: change one's password (every editor), and set a password through a
one-time link (no session needed: the link is the proof). Either ends every session and API
token of the account, so the editor logs in again with the new password."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.errors import InvalidCredentials, InvalidInput, NotFound
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.pages.login import anonymous_csrf, keep_anonymous_csrf
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.runtime.auth import Role

router = PageRouter()


@router.page("GET", "/account", "My account and password", role=Role.CONTRIBUTOR)
async def account(request: Request, *, error: str = "", status: int = 200) -> Response:
    """The page (shown again by ``change_password`` with what went wrong)."""
    newsroom = Newsroom.of(request)
    doc = await newsroom.api.accounts.get(current(request).editor_id)
    return await newsroom.pages.render(
        request, "account/account.html", "Мой пароль", {"me": doc, "error": error}, status=status
    )


def _new_password(form_get: str | None, again: str | None) -> str:
    new = form_get or ""
    if new != (again or ""):
        raise InvalidInput("новый пароль и повтор не совпадают")
    return new


@router.page("POST", "/account/password", "Change my password", role=Role.CONTRIBUTOR)
async def change_password(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    form = posted(request)
    try:
        new = _new_password(form.get("new_password"), form.get("new_password_again"))
        await newsroom.api.accounts.change_password(
            current(request).principal, form.get("current_password") or "", new
        )
    except (InvalidInput, InvalidCredentials) as exc:
        return await account(request, error=exc.message, status=422)
    return see_other(request, "login_page", "changed=1")


async def reset_page(
    request: Request, token: str, *, error: str = "", status: int = 200
) -> Response:
    newsroom = Newsroom.of(request)
    target = await newsroom.api.accounts.reset_target(token)
    anonymous_csrf(request)
    rendered = await newsroom.pages.render(
        request,
        "account/reset.html",
        "Новый пароль",
        {"target": target, "token": token, "error": error},
        status=status if target is not None else 404,
    )
    return keep_anonymous_csrf(request, rendered)


@router.page("GET", "/password/{token}", "Set a password with a one-time link", role=None)
async def reset_form(request: Request) -> Response:
    return await reset_page(request, str(request.path_params["token"]))


@router.page("POST", "/password/{token}", "Set the password", role=None)
async def reset_submit(request: Request) -> Response:
    token = str(request.path_params["token"])
    form = posted(request)
    accounts = Newsroom.of(request).api.accounts
    try:
        new = _new_password(form.get("new_password"), form.get("new_password_again"))
        await accounts.reset_password(token, new)
    except InvalidInput as exc:
        return await reset_page(request, token, error=exc.message, status=422)
    except NotFound:
        return await reset_page(request, token)
    return see_other(request, "login_page", "changed=1")
