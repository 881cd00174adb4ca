"""The inbox pages in-process against the real Redis and FerretDB: filters (status, country, days
in the newsroom's zone) from the tips' Redis index, bad filters as 422 pages, the live updates'
JSON, and the review, accept and reject actions with their messages."""

from datetime import UTC, datetime, timedelta

from tests.publisher.conftest import tip
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from xabar.runtime.auth import Role


async def test_the_inbox_filters_by_status_country_and_day(newsroom: Newsroom) -> None:
    h = newsroom.h
    old = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 2 March in Almaty (UTC+5)
    await h.parts.inbox.receive(tip("sub-kz-old", country="KZ", received_at=old))
    await h.parts.inbox.receive(tip("sub-tj-new", country="TJ"))
    await h.parts.inbox.receive(tip("sub-tj-new2", country="TJ"))
    await newsroom.login(await newsroom.editor(Role.EDITOR))

    def ids(html: str) -> set[str]:
        return {s for s in ("sub-kz-old", "sub-tj-new", "sub-tj-new2") if f"/inbox/{s}" in html}

    every = await newsroom.client.get("/inbox")
    assert every.status_code == 200
    assert ids(every.text) == {"sub-kz-old", "sub-tj-new", "sub-tj-new2"}
    assert ids((await newsroom.client.get("/inbox?country=KZ")).text) == {"sub-kz-old"}
    day = await newsroom.client.get("/inbox?from=2026-03-02&to=2026-03-02")
    assert ids(day.text) == {"sub-kz-old"}  # the local day, not the UTC one
    assert ids((await newsroom.client.get("/inbox?from=2026-03-01&to=2026-03-01")).text) == set()
    both = await newsroom.client.get("/inbox?status=received&country=TJ")
    assert ids(both.text) == {"sub-tj-new", "sub-tj-new2"}
    for bad in ("status=lost", "country=XX", "from=2026-13-01", "to=9999-12-31", "page=²"):
        resp = await newsroom.client.get(f"/inbox?{bad}")
        assert resp.status_code == 422, bad
        assert "Неверный параметр" in resp.text, bad


async def test_live_updates_bring_only_what_arrived_since(newsroom: Newsroom) -> None:
    h = newsroom.h
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    page = await newsroom.client.get("/inbox")
    since = int(page.text.split('data-newest="', 1)[1].split('"', 1)[0])
    nothing = (await newsroom.client.get(f"/inbox/updates?after={since}")).json()
    assert nothing["count"] == 0
    await h.parts.inbox.receive(
        tip("sub-late", received_at=datetime.now(UTC) - timedelta(hours=2))  # received earlier
    )
    fresh = (await newsroom.client.get(f"/inbox/updates?after={since}")).json()
    assert fresh["count"] == 1  # it arrived now, whenever ingest received it
    assert "/inbox/sub-late" in fresh["html"]
    again = (await newsroom.client.get(f"/inbox/updates?after={fresh['newest']}")).json()
    assert again["count"] == 0
    filtered = await newsroom.client.get(f"/inbox/updates?after={since}&country=KZ")
    assert filtered.json()["count"] == 0


async def test_review_then_reject_with_a_reason_the_reporter_sees(newsroom: Newsroom) -> None:
    h = newsroom.h
    await h.parts.inbox.receive(tip("sub-act"))
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    page = await newsroom.client.get("/inbox/sub-act")
    assert page.status_code == 200
    assert "farhod@example.org" in page.text
    assert "Фарход" in page.text
    token = csrf_of(page.text)
    taken = await newsroom.client.post(
        "/inbox/sub-act/review", data={"csrf": token}, headers={"Origin": ORIGIN}
    )
    assert taken.status_code == 303
    after = await newsroom.client.get("/inbox/sub-act")
    assert "Сообщение взято в работу" in after.text
    assert "Взять в работу" not in after.text
    twice = await newsroom.client.post(
        "/inbox/sub-act/review", data={"csrf": token}, headers={"Origin": ORIGIN}
    )
    assert twice.status_code == 303
    assert "сообщение уже на проверке" in (await newsroom.client.get("/inbox/sub-act")).text
    empty = await newsroom.client.post(
        "/inbox/sub-act/reject", data={"csrf": token, "reason": "  "}, headers={"Origin": ORIGIN}
    )
    assert empty.status_code == 422
    assert "напишите причину" in empty.text
    done = await newsroom.client.post(
        "/inbox/sub-act/reject",
        data={"csrf": token, "reason": "Не удалось подтвердить факты"},
        headers={"Origin": ORIGIN},
    )
    assert done.status_code == 303
    final = await newsroom.client.get("/inbox/sub-act")
    assert "Сообщение отклонено" in final.text
    assert "Причина для автора: Не удалось подтвердить факты" in final.text
    stored = await h.parts.inbox.get("sub-act")
    assert (stored["status"], stored["public_reason"]) == (
        "rejected",
        "Не удалось подтвердить факты",
    )
    missing = await newsroom.client.get("/inbox/sub-none")
    assert missing.status_code == 404
    assert "такого сообщения во входящих нет" in missing.text


async def test_the_inbox_is_for_editors(newsroom: Newsroom) -> None:
    await newsroom.h.parts.inbox.receive(tip("sub-secret"))
    await newsroom.login(await newsroom.editor(Role.CONTRIBUTOR))
    assert (await newsroom.client.get("/inbox")).status_code == 403
    assert (await newsroom.client.get("/inbox/sub-secret")).status_code == 403
    assert "Входящие" not in (await newsroom.client.get("/")).text


async def test_the_inbox_pages_keep_their_filters(newsroom: Newsroom) -> None:
    for n in range(33):
        await newsroom.h.parts.inbox.receive(tip(f"sub-page-{n:02d}", country="UZ"))
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    first = await newsroom.client.get("/inbox?country=UZ")
    assert 'href="/inbox?country=UZ&amp;page=2"' in first.text
    assert first.text.count('class="row tip"') == 30
    second = await newsroom.client.get("/inbox?country=UZ&page=2")
    assert second.text.count('class="row tip"') == 3
    assert "Страница 2 из 2" in second.text
