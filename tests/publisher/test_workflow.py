"""The workflow and who may move an article through it; optimistic concurrency; revisions."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from tests.publisher.conftest import (
    Harness,
    article_and_url,
    create_article,
    jpeg,
    publish,
    stream_events,
)
from tests.support.waiting import eventually
from xabar.contracts import ArticlePublished, ArticleUnpublished, ArticleUpdated
from xabar.runtime.auth import Role

C, E, X = Role.CONTRIBUTOR, Role.EDITOR, Role.CHIEF
AUTHOR = "author-1"

# (action, role of the actor, actor owns the article, status before, expected HTTP status)
MATRIX: list[tuple[str, Role, bool, str, int]] = [
    ("edit", C, True, "draft", 200),
    ("edit", C, False, "draft", 403),
    ("edit", C, True, "in_review", 403),
    ("edit", C, True, "published", 403),
    ("edit", E, False, "in_review", 200),
    ("edit", E, False, "published", 200),
    ("edit", X, False, "scheduled", 200),
    ("submit", C, True, "draft", 200),
    ("submit", C, False, "draft", 403),
    ("submit", C, True, "in_review", 409),
    ("submit", E, False, "draft", 200),
    ("return", C, True, "in_review", 403),
    ("return", E, False, "in_review", 200),
    ("return", E, False, "scheduled", 200),
    ("return", E, False, "unpublished", 200),
    ("return", E, False, "published", 409),
    ("schedule", C, True, "draft", 403),
    ("schedule", E, False, "in_review", 200),
    ("schedule", E, False, "published", 409),
    ("publish", C, True, "draft", 403),
    ("publish", C, True, "in_review", 403),
    ("publish", E, False, "in_review", 200),
    ("publish", E, False, "scheduled", 200),
    ("publish", X, False, "draft", 200),
    ("publish", E, False, "published", 409),
    ("unpublish", C, True, "published", 403),
    ("unpublish", E, False, "published", 200),
    ("unpublish", E, False, "draft", 409),
    ("correct", C, True, "published", 403),
    ("correct", E, False, "published", 200),
    ("correct", E, False, "draft", 409),
    ("feature", C, True, "published", 403),
    ("feature", E, False, "published", 200),
    ("feature", E, False, "in_review", 409),
    ("restore", C, True, "draft", 200),
    ("restore", C, False, "draft", 403),
    ("restore", E, False, "published", 200),
]


async def _owned(h: Harness) -> dict[str, Any]:
    resp = await h.client.post(
        "/api/v1/articles",
        json={"title": "Статья автора", "body_html": "<p>Текст</p>"},
        headers=h.auth(C, AUTHOR),
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def attempt(h: Harness, action: str, role: Role, own: bool, article: dict[str, Any]) -> int:
    aid = article["article_id"]
    who = h.auth(role, AUTHOR if own else f"{role.value}-other")
    match = {"If-Match": f'"{article["version"]}"'}
    url = f"/api/v1/articles/{aid}"
    if action == "edit":
        resp = await h.client.patch(url, json={"title": "Правка"}, headers={**who, **match})
    elif action == "schedule":
        at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        resp = await h.client.post(f"{url}/schedule", json={"publish_at": at}, headers=who)
    elif action == "correct":
        resp = await h.client.post(
            f"{url}/corrections", json={"note": "Исправлена опечатка"}, headers={**who, **match}
        )
    elif action == "feature":
        resp = await h.client.post(f"{url}/feature", json={}, headers=who)
    elif action == "restore":
        resp = await h.client.post(f"{url}/revisions/1/restore", headers={**who, **match})
    else:
        resp = await h.client.post(f"{url}/{action}", headers=who)
    return resp.status_code


async def test_role_matrix_of_the_workflow(harness: Harness) -> None:
    h = harness
    wrong = []
    for action, role, own, status, expected in MATRIX:
        article = await _owned(h)
        article = await bring_to_existing(h, article, status)
        got = await attempt(h, action, role, own, article)
        if got != expected:
            wrong.append((action, role.value, "own" if own else "other's", status, expected, got))
    assert wrong == []


async def bring_to_existing(h: Harness, article: dict[str, Any], status: str) -> dict[str, Any]:
    aid = article["article_id"]
    resp = await h.client.patch(
        f"/api/v1/articles/{aid}",
        json={"lead": "Новый лид"},
        headers={**h.auth(C, AUTHOR), "If-Match": f'"{article["version"]}"'},
    )
    assert resp.status_code == 200, resp.text
    steps = {
        "draft": [],
        "in_review": ["submit"],
        "published": ["publish"],
        "unpublished": ["publish", "unpublish"],
        "scheduled": ["schedule"],
    }[status]
    for step in steps:
        body = {"publish_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
        resp = await h.client.post(
            f"/api/v1/articles/{aid}/{step}",
            json=body if step == "schedule" else None,
            headers=h.auth(E),
        )
        assert resp.status_code == 200, resp.text
    got: dict[str, Any] = (await h.client.get(f"/api/v1/articles/{aid}", headers=h.auth())).json()
    assert got["status"] == status
    return got


async def test_non_article_routes_by_role(harness: Harness) -> None:
    h = harness
    expected = {
        ("GET", "/api/v1/inbox"): {C: 403, E: 200, X: 200},
        ("GET", "/api/v1/audit"): {C: 403, E: 200, X: 200},
        ("GET", "/api/v1/editors"): {C: 403, E: 403, X: 200},
    }
    for (method, url), by_role in expected.items():
        for role, status in by_role.items():
            resp = await h.client.request(method, url, headers=h.auth(role))
            assert resp.status_code == status, (url, role, resp.text)
    for role, status in {C: 403, E: 201, X: 201}.items():
        resp = await h.client.post(
            "/api/v1/media",
            content=jpeg(),
            headers={**h.auth(role), "Content-Type": "image/jpeg"},
        )
        assert resp.status_code == status, (role, resp.text)


async def test_two_concurrent_edits_of_one_version_one_wins_one_gets_409(
    harness: Harness,
) -> None:
    h = harness
    article, url = await article_and_url(h)
    headers = {**h.auth(), "If-Match": f'"{article["version"]}"'}
    first, second = await asyncio.gather(
        h.client.patch(url, json={"title": "Первая правка"}, headers=headers),
        h.client.patch(url, json={"title": "Вторая правка"}, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    assert loser.json()["error"]["code"] == "version_conflict"
    assert loser.headers["etag"] == winner.headers["etag"] == '"2"'
    stored = (await h.client.get(url, headers=h.auth())).json()
    assert stored["version"] == 2
    assert stored["title"] == winner.json()["title"]
    revisions = (await h.client.get(f"{url}/revisions", headers=h.auth())).json()["items"]
    assert [r["version"] for r in revisions] == [1, 2]  # the loser left no trace


async def test_many_concurrent_edits_of_one_version_exactly_one_is_stored(
    harness: Harness,
) -> None:
    """FerretDB applies concurrent updates of one document non-atomically (each reports success,
    the last write wins): the document lock makes exactly one of them happen."""
    h = harness
    _, url = await article_and_url(h)
    headers = {**h.auth(), "If-Match": '"1"'}
    answers = await asyncio.gather(
        *(h.client.patch(url, json={"lead": f"Правка {n}"}, headers=headers) for n in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    [winner] = [a for a in answers if a.status_code == 200]
    stored = (await h.client.get(url, headers=h.auth())).json()
    assert (stored["version"], stored["lead"]) == (2, winner.json()["lead"])


async def test_if_match_is_required_and_a_stale_one_is_refused(harness: Harness) -> None:
    h = harness
    _, url = await article_and_url(h)
    missing = await h.client.patch(url, json={"lead": "x"}, headers=h.auth())
    assert missing.status_code == 428
    put_missing = await h.client.put(url, json={"title": "x"}, headers=h.auth())
    assert put_missing.status_code == 428
    ok = await h.client.patch(url, json={"lead": "x"}, headers={**h.auth(), "If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    stale = await h.client.patch(url, json={"lead": "y"}, headers={**h.auth(), "If-Match": '"1"'})
    assert stale.status_code == 409
    weak = await h.client.put(
        url, json={"title": "Заменено"}, headers={**h.auth(), "If-Match": 'W/"2"'}
    )
    assert weak.status_code == 200
    replaced = weak.json()
    assert (replaced["title"], replaced["lead"], replaced["version"]) == ("Заменено", "", 3)
    bad = await h.client.patch(url, json={"lead": "z"}, headers={**h.auth(), "If-Match": "abc"})
    assert bad.status_code == 400


async def test_revisions_keep_who_and_when_with_a_diff_and_a_restore(
    harness: Harness, redis: aioredis.Redis
) -> None:
    h = harness
    article = await create_article(h, title="Первый заголовок", body_html="<p>Один</p>")
    aid, url = article["article_id"], f"/api/v1/articles/{article['article_id']}"
    edits = [{"title": "Второй заголовок"}, {"body_html": "<p>Один</p><p>Два</p>"}]
    version = 1
    for n, edit in enumerate(edits):
        resp = await h.client.patch(
            url, json=edit, headers={**h.auth(E, f"editor-{n}"), "If-Match": f'"{version}"'}
        )
        assert resp.status_code == 200, resp.text
        version = resp.json()["version"]
    revisions = (await h.client.get(f"{url}/revisions", headers=h.auth())).json()["items"]
    assert [(r["version"], r["action"], r["by"]["id"]) for r in revisions] == [
        (1, "create", "editor-1"),
        (2, "edit", "editor-0"),
        (3, "edit", "editor-1"),
    ]
    assert revisions[1]["changed"] == ["title", "slug"]
    at_one = (await h.client.get(f"{url}/revisions/1", headers=h.auth())).json()["fields"]
    assert (at_one["title"], at_one["body_html"]) == ("Первый заголовок", "<p>Один</p>")
    diff = (await h.client.get(f"{url}/diff?from=1&to=3", headers=h.auth())).json()
    changed = {f["field"]: f for f in diff["fields"]}
    assert set(changed) == {"title", "slug", "body_html"}
    assert changed["body_html"]["unified"].endswith("+<p>Два</p>\n")
    assert (await h.client.get(f"{url}/revisions/9", headers=h.auth())).status_code == 404

    await publish(h, aid)  # version 4
    restored = await h.client.post(
        f"{url}/revisions/1/restore", headers={**h.auth(), "If-Match": '"4"'}
    )
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert (body["version"], body["title"], body["body_html"]) == (
        5,
        "Первый заголовок",
        "<p>Один</p>",
    )
    assert body["slug"] == "vtoroi-zagolovok"  # stable once published

    async def updated_sent() -> bool:
        return any(isinstance(e, ArticleUpdated) for e in await stream_events(redis))

    await eventually(updated_sent, what="article.updated after the restore")
    [update] = [e for e in await stream_events(redis) if isinstance(e, ArticleUpdated)]
    assert (update.version, update.data.title) == (5, "Первый заголовок")
    last = (await h.client.get(f"{url}/revisions", headers=h.auth())).json()["items"][-1]
    assert (last["action"], last["restored_from"]) == ("restore", 1)


async def test_slugs_are_transliterated_unique_and_frozen_once_published(
    harness: Harness,
) -> None:
    h = harness
    title = "Таджикистан и Казахстан сверили приоритеты"
    first = await create_article(h, title=title)
    second = await create_article(h, title=title)
    third = await create_article(h, title=title)
    assert first["slug"] == "tadzhikistan-i-kazakhstan-sverili-prioritety"
    assert second["slug"] == "tadzhikistan-i-kazakhstan-sverili-prioritety-2"
    assert third["slug"] == "tadzhikistan-i-kazakhstan-sverili-prioritety-3"
    # a draft's slug follows its title, and gives the old one back
    resp = await h.client.patch(
        f"/api/v1/articles/{first['article_id']}",
        json={"title": "Узбекистан открыл границу"},
        headers={**h.auth(), "If-Match": '"1"'},
    )
    assert resp.json()["slug"] == "uzbekistan-otkryl-granitsu"
    fourth = await create_article(h, title=title)
    assert fourth["slug"] == "tadzhikistan-i-kazakhstan-sverili-prioritety"
    # once published, it never changes
    published = await publish(h, second["article_id"])
    resp = await h.client.patch(
        f"/api/v1/articles/{second['article_id']}",
        json={"title": "Совсем другой заголовок"},
        headers={**h.auth(), "If-Match": f'"{published["version"]}"'},
    )
    assert resp.status_code == 200
    assert resp.json()["slug"] == "tadzhikistan-i-kazakhstan-sverili-prioritety-2"


async def test_unpublish_correct_and_republish_carry_state_and_versions_on_the_stream(
    harness: Harness, redis: aioredis.Redis
) -> None:
    h = harness
    article = await create_article(
        h, body_html='<p onclick="x()">Текст<script>alert(1)</script></p>'
    )
    assert article["body_html"] == "<p>Текст</p>"
    aid = article["article_id"]
    url = f"/api/v1/articles/{aid}"
    first = await publish(h, aid)
    corrected = await h.client.post(
        f"{url}/corrections",
        json={"note": "Уточнено название ведомства", "changes": {"lead": "Исправленный лид"}},
        headers={**h.auth(), "If-Match": f'"{first["version"]}"'},
    )
    assert corrected.status_code == 200, corrected.text
    down = await h.client.post(f"{url}/unpublish", headers=h.auth())
    assert down.status_code == 200
    again = await publish(h, aid)
    assert again["published_at"] == first["published_at"]

    async def four_events() -> bool:
        return len(await stream_events(redis)) >= 4

    await eventually(four_events, what="four article events")
    events = await stream_events(redis)
    assert [(type(e).__name__, e.version) for e in events] == [  # type: ignore[attr-defined]
        ("ArticlePublished", 2),
        ("ArticleUpdated", 3),
        ("ArticleUnpublished", 4),
        ("ArticlePublished", 5),
    ]
    update = events[1]
    assert isinstance(update, ArticleUpdated)
    assert update.data.lead == "Исправленный лид"
    assert [c.note for c in update.data.corrections] == ["Уточнено название ведомства"]
    assert isinstance(events[2], ArticleUnpublished) and events[2].data.slug == first["slug"]
    assert isinstance(events[3], ArticlePublished)
    assert events[3].data.corrections == update.data.corrections


async def test_a_new_news_of_the_day_replaces_the_old_one_with_events_for_both(
    harness: Harness, redis: aioredis.Redis
) -> None:
    h = harness
    old = await publish(h, (await create_article(h, title="Старая новость дня"))["article_id"])
    new = await publish(h, (await create_article(h, title="Новая новость дня"))["article_id"])
    for article in (old, new):
        resp = await h.client.post(
            f"/api/v1/articles/{article['article_id']}/feature", json={}, headers=h.auth()
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["featured"] is True
    featured = (await h.client.get("/api/v1/featured", headers=h.auth())).json()
    assert featured["site"] == new["article_id"]
    stored_old = (
        await h.client.get(f"/api/v1/articles/{old['article_id']}", headers=h.auth())
    ).json()
    assert stored_old["featured"] is False

    async def updates() -> list[ArticleUpdated]:
        return [e for e in await stream_events(redis) if isinstance(e, ArticleUpdated)]

    async def three() -> bool:
        return len(await updates()) >= 3

    await eventually(three, what="three article.updated")
    got = [(u.aggregate_id, u.data.featured, u.version) for u in await updates()]
    # Order is promised per article (consumers gate on each aggregate's version); the relay
    # publishes different articles concurrently, so events of two articles may interleave.
    per_article = {
        a: [(f, v) for agg, f, v in got if agg == a] for a in (old["article_id"], new["article_id"])
    }
    assert per_article == {
        old["article_id"]: [(True, old["version"] + 1), (False, old["version"] + 2)],
        new["article_id"]: [(True, new["version"] + 1)],
    }
    assert len(got) == 3
    # per country, independent of the site-wide one
    resp = await h.client.post(
        f"/api/v1/articles/{old['article_id']}/feature", json={"country": "kz"}, headers=h.auth()
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["featured"], resp.json()["featured_countries"]) == (False, ["KZ"])
    off = await h.client.delete(f"/api/v1/articles/{new['article_id']}/feature", headers=h.auth())
    assert off.status_code == 200 and off.json()["featured"] is False
    featured = (await h.client.get("/api/v1/featured", headers=h.auth())).json()
    assert featured == {"site": None, "countries": {"KZ": old["article_id"]}}


async def test_the_audit_log_lists_who_did_what(harness: Harness) -> None:
    h = harness
    article = await create_article(h, Role.EDITOR)
    await publish(h, article["article_id"])
    resp = await h.client.get(f"/api/v1/audit?target_id={article['article_id']}", headers=h.auth())
    assert resp.status_code == 200
    items = resp.json()["items"]
    assert [(i["action"], i["editor"]["id"]) for i in items] == [
        ("article.publish", "editor-1"),
        ("article.create", "editor-1"),
    ]
