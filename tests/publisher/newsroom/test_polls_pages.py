"""The newsroom's poll pages over HTTP (the publisher in-process) against a real polls process on
the real Redis and FerretDB: a poll created from the form, its results and anomaly flags, its
placement and its early close reach the polls service under the editor's own identity; a form
the polls service would refuse is answered in Russian with what was typed kept; and when the
polls service does not answer, every page says so in Russian (502, never a 500)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.publisher.conftest import SettingsFactory, create_article, publish, running_in_task
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from tests.support.procs import ServiceProcess
from xabar.runtime.auth import Role
from xabar.runtime.localinfra import free_port


@pytest.fixture
async def with_polls(
    make_settings: SettingsFactory, polls: ServiceProcess
) -> AsyncIterator[Newsroom]:
    async with running_in_task(make_settings(polls_url=polls.url)) as h:
        newsroom = Newsroom(h)
        resp = await newsroom.login(await newsroom.editor(Role.EDITOR))
        assert resp.status_code == 303
        yield newsroom


async def submit(
    newsroom: Newsroom, page: str, action: str, data: dict[str, Any]
) -> httpx.Response:
    html = (await newsroom.client.get(page)).text
    return await newsroom.client.post(
        action, data={"csrf": csrf_of(html), **data}, headers={"Origin": ORIGIN}
    )


async def polls_api(polls: ServiceProcess, poll_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=polls.url) as client:
        data: dict[str, Any] = (await client.get(f"/api/v1/polls/{poll_id}")).json()
        return data


async def test_an_editor_creates_places_and_closes_a_poll(
    with_polls: Newsroom, polls: ServiceProcess
) -> None:
    newsroom, h = with_polls, with_polls.h
    article = await create_article(h, title="Выборы в Кыргызстане")
    await publish(h, article["article_id"])
    later = (datetime.now(UTC) + timedelta(days=7)).astimezone(h.settings.newsroom_zone())
    form = await newsroom.client.get("/polls/new")
    assert form.status_code == 200 and "Выборы в Кыргызстане" in form.text
    created = await submit(
        newsroom,
        "/polls/new",
        "/polls",
        {
            "question": "Пойдёте ли вы на выборы?",
            "options": "Да\nНет\n\nЕщё не решил(а)\n",
            "choice": "single",
            "opens_at": "",
            "closes_at": later.strftime("%Y-%m-%dT%H:%M"),
            "visibility": "after_vote",
            "front_page": "1",
            "country": ["KG"],
        },
    )
    assert created.status_code == 303, created.text
    poll_id = created.headers["location"].rsplit("/", 1)[1]
    page = await newsroom.client.get(f"/polls/{poll_id}")
    assert page.status_code == 200
    assert "Опрос создан." in page.text and "Пойдёте ли вы на выборы?" in page.text
    assert "Всего голосов: <strong>0</strong>" in page.text
    assert "Подозрительных всплесков нет." in page.text
    stored = await polls_api(polls, poll_id)
    assert [o["text"] for o in stored["options"]] == ["Да", "Нет", "Ещё не решил(а)"]
    assert (stored["status"], stored["front_page"], stored["countries"]) == ("open", True, ["KG"])
    assert stored["results_visibility"] == "after_vote"
    closes = datetime.fromisoformat(stored["closes_at"])
    assert abs(closes - later.replace(second=0, microsecond=0)) < timedelta(seconds=1)

    placed = await submit(
        newsroom,
        f"/polls/{poll_id}",
        f"/polls/{poll_id}/placement",
        {"country": ["KZ", "XX"], "article_id": [article["article_id"]]},
    )
    assert placed.status_code == 303
    stored = await polls_api(polls, poll_id)
    assert (stored["front_page"], stored["countries"]) == (False, ["KZ"])
    assert stored["article_ids"] == [article["article_id"]]
    listed = (await newsroom.client.get("/polls")).text
    assert "Пойдёте ли вы на выборы?" in listed and "Казахстан, в статьях: 1" in listed

    closed = await submit(newsroom, f"/polls/{poll_id}", f"/polls/{poll_id}/close", {})
    assert closed.status_code == 303
    after = (await newsroom.client.get(f"/polls/{poll_id}")).text
    assert "Опрос закрыт: голоса больше не принимаются." in after
    assert (await polls_api(polls, poll_id))["status"] == "closed"
    again = await newsroom.client.post(
        f"/polls/{poll_id}/close", data={"csrf": csrf_of(after)}, headers={"Origin": ORIGIN}
    )
    assert again.status_code == 303
    assert "Опрос не закрыт" in (await newsroom.client.get(f"/polls/{poll_id}")).text
    missing = await newsroom.client.get("/polls/0123456789abcdef")
    assert missing.status_code == 404 and "такого опроса нет" in missing.text


async def test_a_form_the_polls_service_would_refuse_is_answered_in_russian(
    with_polls: Newsroom,
) -> None:
    newsroom = with_polls
    cases = [
        ({"question": "Да?", "options": "Один"}, "Вариантов ответа нужно от 2 до 20"),
        ({"question": "Ну", "options": "А\nБ"}, "Вопрос: от 3 до 500 символов"),
        ({"question": "Когда?", "options": "А\nа"}, "Варианты ответа повторяются"),
        (
            {"question": "Когда?", "options": "А\nБ", "closes_at": "2001-01-01T10:00"},
            "Конец опроса должен быть позже его начала",
        ),
        ({"question": "Когда?", "options": "А\nБ", "opens_at": "завтра"}, "Начало: укажите"),
        ({"question": "Когда?", "options": "\n".join(map(str, range(21)))}, "от 2 до 20"),
    ]
    for fields, said in cases:
        resp = await submit(newsroom, "/polls/new", "/polls", {"visibility": "always", **fields})
        assert resp.status_code == 422, (fields, resp.text)
        assert said in resp.text, fields
        assert f'value="{fields["question"]}"' in resp.text  # what was typed is kept
    assert (await newsroom.client.get("/polls")).text.count('class="row poll-row"') == 0


async def test_when_the_polls_service_does_not_answer_the_pages_say_so(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(polls_url=f"http://127.0.0.1:{free_port()}")
    async with running_in_task(settings) as h:
        newsroom = Newsroom(h)
        await newsroom.login(await newsroom.editor(Role.EDITOR))
        for path in ("/polls", "/polls/0123456789abcdef"):
            resp = await newsroom.client.get(path)
            assert resp.status_code == 502, (path, resp.text)
            assert "Сервис опросов не отвечает. Повторите через минуту." in resp.text
        sent = await submit(
            newsroom, "/polls/new", "/polls", {"question": "Работает ли?", "options": "Да\nНет"}
        )
        assert sent.status_code == 502
        assert "Сервис опросов не отвечает" in sent.text and 'value="Работает ли?"' in sent.text
        placed = await submit(
            newsroom, "/polls/new", "/polls/0123456789abcdef/placement", {"front_page": "1"}
        )
        assert placed.status_code == 502 and "Сервис опросов не отвечает" in placed.text
