"""The newsroom's article pages over HTTP, as a browser without JavaScript uses them (plain form
posts), against the real Redis and FerretDB: the list with search and filters, the editor, saving
with a merge when someone saved first, the workflow by role, history and restore, the media
library and a photo chosen from it."""

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from PIL import Image

from tests.publisher.conftest import jpeg
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from xabar.runtime.auth import Role

FORM = {"Origin": ORIGIN}


def version_in(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, "no version in the form"
    return found.group(1)


def article_form(page: str, **fields: str | list[str]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {
        "csrf": csrf_of(page),
        "version": version_in(page),
        "title": "Заголовок",
        "lead": "",
        "body_html": "",
        "tags": "",
        "source": "",
        "source_url": "",
        "author": "",
    }
    data.update(fields)
    return data


async def new_article(n: Newsroom, client: httpx.AsyncClient, **fields: str | list[str]) -> str:
    page = await client.get("/articles/new")
    assert page.status_code == 200, page.text
    data = article_form(page.text, **fields)
    data.pop("version")
    data["version"] = "1"
    resp = await client.post("/articles/new", data=data, headers=FORM)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"].rsplit("/", 1)[1]


async def test_the_list_searches_and_filters_and_the_editor_saves(newsroom: Newsroom) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    client = newsroom.client
    one = await new_article(
        newsroom, client, title="Выборы в Астане", countries=["KZ"], body_html="<p>Итоги</p>"
    )
    await new_article(newsroom, client, title="Газ подорожал", countries=["UZ"])
    listed = await client.get("/articles")
    assert listed.status_code == 200
    assert "Выборы в Астане" in listed.text and "Газ подорожал" in listed.text
    found = await client.get("/articles", params={"q": "астан"})
    assert "Выборы в Астане" in found.text and "Газ подорожал" not in found.text
    by_country = await client.get("/articles", params={"country": "UZ", "status": "draft"})
    assert "Газ подорожал" in by_country.text and "Выборы" not in by_country.text
    bad = await client.get("/articles", params={"status": "nonsense"})
    assert bad.status_code == 422 and "<html" in bad.text

    page = await client.get(f"/articles/{one}")
    assert page.status_code == 200 and "Выборы в Астане" in page.text
    data = article_form(
        page.text,
        title="Выборы в Астане: итоги",
        body_html="<p>Итоги <strong>подведены</strong></p><script>x()</script>",
        countries=["KZ", "KG"],
        tags="выборы, Астана",
    )
    saved = await client.post(f"/articles/{one}", data=data, headers=FORM)
    assert saved.status_code == 303
    page = await client.get(f"/articles/{one}")
    assert "Сохранено." in page.text and "итоги" in page.text
    article = await newsroom.h.parts.articles.get(one)
    assert article.body_html == "<p>Итоги <strong>подведены</strong></p>"  # the same sanitizer
    assert article.countries == ("KZ", "KG") and article.tags == ("выборы", "Астана")
    empty = await client.post(
        f"/articles/{one}", data=article_form(page.text, title=""), headers=FORM
    )
    assert empty.status_code == 422 and "Заголовок: не заполнено" in empty.text


async def test_when_someone_saved_first_both_edits_are_merged_and_nothing_is_lost(
    newsroom: Newsroom,
) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR, "ann@xabar.test"))
    other = newsroom.fresh_client()
    await newsroom.editor(Role.EDITOR, "bob@xabar.test")
    await newsroom.login("bob@xabar.test", client=other)
    body = "<p>Первый абзац.</p><p>Второй абзац.</p><p>Третий абзац.</p>"
    aid = await new_article(newsroom, newsroom.client, title="Общий черновик", body_html=body)
    mine = await newsroom.client.get(f"/articles/{aid}")
    theirs = await other.get(f"/articles/{aid}")
    # Bob saves first: a new last paragraph
    bob = article_form(theirs.text, title="Общий черновик", body_html=body + "<p>Абзац Боба.</p>")
    assert (await other.post(f"/articles/{aid}", data=bob, headers=FORM)).status_code == 303
    # Ann, from the older version, changes the first paragraph: merged cleanly
    ann = article_form(
        mine.text,
        title="Общий черновик",
        body_html=body.replace("Первый абзац.", "Первый абзац Анны."),
    )
    merged = await newsroom.client.post(f"/articles/{aid}", data=ann, headers=FORM)
    assert merged.status_code == 303
    shown = await newsroom.client.get(f"/articles/{aid}")
    assert "правки объединены" in shown.text
    stored = (await newsroom.h.parts.articles.get(aid)).body_html
    assert "Первый абзац Анны." in stored and "Абзац Боба." in stored

    # both change the same paragraph: a conflict, shown with both texts, saved only when asked
    theirs = await other.get(f"/articles/{aid}")
    stale = await newsroom.client.get(f"/articles/{aid}")
    bob = article_form(
        theirs.text, title="Заголовок Боба", body_html=stored.replace("Второй", "Боб: второй")
    )
    assert (await other.post(f"/articles/{aid}", data=bob, headers=FORM)).status_code == 303
    ann = article_form(
        stale.text, title="Заголовок Анны", body_html=stored.replace("Второй", "Анна: второй")
    )
    conflict = await newsroom.client.post(f"/articles/{aid}", data=ann, headers=FORM)
    assert conflict.status_code == 409
    assert "Ваш вариант" in conflict.text and "Их вариант" in conflict.text
    assert "Анна: второй" in conflict.text and "Боб: второй" in conflict.text
    assert "Заголовок Боба" in conflict.text
    assert (await newsroom.h.parts.articles.get(aid)).title == "Заголовок Боба"  # not saved yet
    settle = article_form(conflict.text)  # the merged form as shown: both texts in the body
    body_field = re.search(r'<textarea id="a-body"[^>]*>(.*?)</textarea>', conflict.text, re.S)
    assert body_field is not None
    settle.update(title="Заголовок Анны", body_html=_unescape(body_field.group(1)))
    done = await newsroom.client.post(f"/articles/{aid}", data=settle, headers=FORM)
    assert done.status_code == 303
    final = (await newsroom.h.parts.articles.get(aid)).body_html
    assert "Анна: второй" in final and "Боб: второй" in final and "Абзац Боба." in final


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


async def test_a_contributor_sees_no_publish_button_and_a_forged_post_is_refused(
    newsroom: Newsroom,
) -> None:
    await newsroom.login(await newsroom.editor(Role.CONTRIBUTOR))
    aid = await new_article(newsroom, newsroom.client, title="Заметка автора", body_html="<p>x</p>")
    page = await newsroom.client.get(f"/articles/{aid}")
    assert "Отправить на проверку" in page.text
    assert 'value="publish"' not in page.text and "Опубликовать" not in page.text
    forged = await newsroom.client.post(
        f"/articles/{aid}/workflow/publish",
        data={"csrf": csrf_of(page.text), "version": version_in(page.text)},
        headers=FORM,
    )
    assert forged.status_code == 403 and "<html" in forged.text
    assert (await newsroom.h.parts.articles.get(aid)).status == "draft"
    submitted = await newsroom.client.post(
        f"/articles/{aid}/workflow/submit",
        data={"csrf": csrf_of(page.text), "version": version_in(page.text)},
        headers=FORM,
    )
    assert submitted.status_code == 303
    assert (await newsroom.h.parts.articles.get(aid)).status == "in_review"


async def test_an_editor_publishes_schedules_corrects_and_restores(newsroom: Newsroom) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    client = newsroom.client
    aid = await new_article(
        newsroom, client, title="Новость", body_html="<p>Было</p>", countries=["TJ"]
    )
    page = await client.get(f"/articles/{aid}")
    for label in ("Опубликовать", "Запланировать"):
        assert label in page.text

    def post_of(html: str) -> dict[str, str]:
        return {"csrf": csrf_of(html), "version": version_in(html)}

    scheduled = await client.post(
        f"/articles/{aid}/workflow/schedule",
        data={**post_of(page.text), "publish_at": "2199-01-01T10:00"},
        headers=FORM,
    )
    assert scheduled.status_code == 303
    article = await newsroom.h.parts.articles.get(aid)
    assert article.status == "scheduled"
    almaty = datetime(2199, 1, 1, 10, 0, tzinfo=ZoneInfo("Asia/Almaty"))
    assert article.publish_at == almaty  # read in the newsroom's time zone
    page = await client.get(f"/articles/{aid}")
    assert "Публикация запланирована на 1\xa0января\xa02199, 10:00" in page.text
    await client.post(f"/articles/{aid}/workflow/publish", data=post_of(page.text), headers=FORM)
    page = await client.get(f"/articles/{aid}")
    assert "Статья опубликована." in page.text and "Снять с публикации" in page.text
    data = article_form(page.text, title="Новость", body_html="<p>Стало</p>", countries=["TJ"])
    data["correction_note"] = "Исправлена ошибка в тексте."
    assert (await client.post(f"/articles/{aid}", data=data, headers=FORM)).status_code == 303
    article = await newsroom.h.parts.articles.get(aid)
    assert [c.note for c in article.corrections] == ["Исправлена ошибка в тексте."]
    featured = await client.post(
        f"/articles/{aid}/feature",
        data={"csrf": csrf_of(page.text), "scope": "TJ", "do": "feature"},
        headers=FORM,
    )
    assert featured.status_code == 303
    assert (await newsroom.h.parts.articles.get(aid)).featured_countries == ("TJ",)

    history = await client.get(f"/articles/{aid}/revisions")
    assert history.status_code == 200 and "Версия 1: создание" in history.text
    diff = await client.get(f"/articles/{aid}/diff", params={"from": 1, "to": article.version})
    assert diff.status_code == 200
    assert "<p>Было</p>" in diff.text and "<p>Стало</p>" in diff.text
    restored = await client.post(
        f"/articles/{aid}/revisions/1/restore", data=post_of(history.text), headers=FORM
    )
    assert restored.status_code == 303
    assert (await newsroom.h.parts.articles.get(aid)).body_html == "<p>Было</p>"


async def test_the_library_uploads_without_metadata_and_gives_an_article_its_photo(
    newsroom: Newsroom,
) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    client = newsroom.client
    aid = await new_article(newsroom, client, title="С фото", body_html="<p>x</p>")
    library = await client.get("/media-library")
    assert library.status_code == 200 and "В медиатеке пока нет фото." in library.text
    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (43.0, 15.0, 30.0)}
    Image.new("RGB", (800, 600), (10, 90, 160)).save(photo, "JPEG", exif=exif)
    up = await client.post(
        "/media-library",
        data={"csrf": csrf_of(library.text), "alt": "Мост", "credit": "Фото: редакция"},
        files={"file": ("p.jpg", photo.getvalue(), "image/jpeg")},
        headers=FORM,
    )
    assert up.status_code == 303, up.text
    pick = await client.get("/media-library", params={"pick": aid})
    assert "Мост" in pick.text and "Фото: редакция" in pick.text
    media_id = re.search(r'name="media_id" value="([0-9a-f]{32})"', pick.text)
    assert media_id is not None
    chosen = await client.post(
        f"/articles/{aid}/photo",
        data={"csrf": csrf_of(pick.text), "media_id": media_id.group(1)},
        headers=FORM,
    )
    assert chosen.status_code == 303
    article = await newsroom.h.parts.articles.get(aid)
    assert article.image is not None and article.image.credit == "Фото: редакция"
    assert article.image.alt == "Мост" and len(article.image.variants) == 4
    served = await client.get(article.image.url.removeprefix(newsroom.h.settings.public_url))
    with Image.open(io.BytesIO(served.content)) as img:
        assert not img.getexif().get_ifd(0x8825)
    recent = (await client.get("/media-library/recent.json")).json()
    assert recent["items"][0]["media_id"] == media_id.group(1)
    assert jpeg()  # the fixture helper still makes images
