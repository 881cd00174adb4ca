"""«Письма» over HTTP (the publisher in-process, real Redis and FerretDB): ``letter.received`` on
the stream lands in the box once; an editor reads it, with its way to answer opened with the
newsroom's private key, and marks it handled; nothing of it is ever published."""

import base64

import redis.asyncio as aioredis
from nacl.public import PrivateKey, SealedBox

from tests.publisher.conftest import send_tip, stream_events
from tests.publisher.moderation import drained, letter
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from xabar.contracts import ARTICLES_STREAM, COMMENTS_STREAM, REVIEWS_STREAM
from xabar.publisher.handlers import GROUP_LETTERS
from xabar.runtime.auth import Role

KEY = PrivateKey.generate()


def sealed(text: str) -> str:
    return base64.b64encode(SealedBox(KEY.public_key).encrypt(text.encode())).decode()


async def test_a_letter_lands_once_is_read_with_its_way_to_answer_and_handled(
    newsroom: Newsroom, redis_url: str, redis: aioredis.Redis
) -> None:
    h = newsroom.h
    h.parts.letters.key = KEY  # the newsroom's private key, as its setting gives it
    event = letter(
        subject="Опечатка <b>в статье</b>",
        text="Здравствуйте!\nВ статье о ЕАЭС перепутаны даты.",
        reply_to_sealed=sealed("gulnara@example.org, +996 555 000 000"),
    )
    broken = letter(subject="Сломанный ящик", reply_to_sealed=base64.b64encode(b"x" * 80).decode())
    for e in (event, event, broken):
        await send_tip(redis_url, e)
    await drained(redis, GROUP_LETTERS)
    assert await h.parts.collections.letters.count_documents({}) == 2
    resp = await newsroom.login(await newsroom.editor(Role.EDITOR))
    assert resp.status_code == 303

    box = (await newsroom.client.get("/letters")).text
    assert "Опечатка &lt;b&gt;в статье&lt;/b&gt;" in box and "можно ответить" in box
    assert box.count('class="row letter-row"') == 2
    assert "gulnara@example.org" not in box  # only on the letter's own page
    lid = event.data.letter_id
    page = (await newsroom.client.get(f"/letters/{lid}")).text
    assert "gulnara@example.org, +996 555 000 000" in page
    assert "Здравствуйте!\nВ статье о ЕАЭС перепутаны даты." in page
    other = (await newsroom.client.get(f"/letters/{broken.data.letter_id}")).text
    assert "не открывается ключом редакции" in other
    stored = await h.parts.collections.letters.find_one({"_id": lid})
    assert stored is not None and "gulnara" not in str(stored)  # kept sealed

    handled = await newsroom.client.post(
        f"/letters/{lid}/handled", data={"csrf": csrf_of(page)}, headers={"Origin": ORIGIN}
    )
    assert handled.status_code == 303 and handled.headers["location"] == "/letters"
    after = (await newsroom.client.get("/letters")).text
    assert "Письмо обработано." in after and after.count('class="row letter-row"') == 1
    done = (await newsroom.client.get("/letters?status=handled")).text
    assert "Опечатка" in done and "обработал(а) Редактор editor" in done
    back = await newsroom.client.post(
        f"/letters/{lid}/new", data={"csrf": csrf_of(done)}, headers={"Origin": ORIGIN}
    )
    assert back.status_code == 303
    assert (await newsroom.client.get("/letters")).text.count('class="row letter-row"') == 2
    for stream in (ARTICLES_STREAM, COMMENTS_STREAM, REVIEWS_STREAM):
        assert await stream_events(redis, stream) == []  # letters are never published


async def test_letters_are_for_editors(newsroom: Newsroom) -> None:
    resp = await newsroom.login(await newsroom.editor(Role.CONTRIBUTOR))
    assert resp.status_code == 303
    assert (await newsroom.client.get("/letters")).status_code == 403
    assert (await newsroom.client.get("/letters/let-1")).status_code == 403


async def test_an_unknown_letter_or_status_is_a_page_in_russian(newsroom: Newsroom) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    missing = await newsroom.client.get("/letters/let-nope")
    assert missing.status_code == 404 and "такого письма нет" in missing.text
    bad = await newsroom.client.get("/letters?status=archived")
    assert bad.status_code == 422
