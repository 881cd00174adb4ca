"""«Журнал»: the audit log of editorial actions, newest first (editors and chiefs).

Pages come from the newest ``LATEST_KEPT`` entries kept in Redis beside the log in MongoDB
(``repositories.audit``): one ``LRANGE`` a page, however long the log is."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem
from xabar.publisher.newsroom.web import PageRouter
from xabar.runtime.auth import Role
from xabar.runtime.params import query_int

router = PageRouter(nav=[NavItem("Журнал", "audit_log", order=90, role=Role.EDITOR)])

PER_PAGE = 50
ACTIONS = {
    "article.create": "создал(а) материал",
    "article.edit": "изменил(а) материал",
    "article.submit": "отправил(а) на проверку",
    "article.return": "вернул(а) в черновики",
    "article.schedule": "запланировал(а)",
    "article.publish": "опубликовал(а)",
    "article.unpublish": "снял(а) с публикации",
    "article.correct": "исправил(а) опубликованное",
    "article.restore": "восстановил(а) версию",
    "article.feature": "сделал(а) главной новостью",
    "article.unfeature": "убрал(а) из главных",
    "inbox.review": "взял(а) сообщение в работу",
    "inbox.accept": "принял(а) сообщение",
    "inbox.reject": "отклонил(а) сообщение",
    "editor.create": "создал(а) учётную запись",
    "editor.role": "сменил(а) роль",
    "editor.disable": "отключил(а) учётную запись",
    "editor.enable": "включил(а) учётную запись",
    "editor.password": "сменил(а) свой пароль",
    "editor.password_reset": "задал(а) пароль по ссылке",
    "editor.reset_link": "отправил(а) ссылку для пароля",
    "media.upload": "загрузил(а) фото",
    "article.import": "импортировал(а) статьи",
    "article.publish_scheduled": "опубликовал(а) по расписанию",
    "article.comments_open": "открыл(а) комментарии к статье",
    "article.comments_close": "закрыл(а) комментарии к статье",
    "media.describe": "изменил(а) подпись к фото",
    "comment.approved": "одобрил(а) комментарий",
    "comment.rejected": "отклонил(а) комментарий",
    "comment.spam": "отметил(а) комментарий как спам",
    "comment.pending": "вернул(а) комментарий на модерацию",
    "comment.edit": "убрал(а) фрагмент комментария",
    "comment.block": "заблокировал(а) адрес комментатора",
    "comment.unblock": "снял(а) блокировку адреса",
    "letter.handled": "обработал(а) письмо",
    "letter.new": "вернул(а) письмо в новые",
    "country_profile.published": "опубликовал(а) профиль страны",
}


@router.page("GET", "/audit", "The audit log", role=Role.EDITOR)
async def audit_log(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    page = query_int(request, "page", default=1, low=1, high=10_000)
    found = await newsroom.api.audit.latest(page, PER_PAGE)
    pages = found.pages
    return await newsroom.pages.render(
        request,
        "audit/log.html",
        "Журнал",
        {"entries": found.items, "page": page, "pages": pages, "actions": ACTIONS},
    )
