"""«О странах» over HTTP (the publisher in-process, real Redis and FerretDB): an editor fills in a
country's profile with a plain form post; the publisher stores it and emits
``country_profile.published`` (its version growing with every save) on the articles stream,
sanitized as an article's body; a save over someone else's keeps both texts and stores nothing;
a form with problems says them in Russian; the seed (``import-profiles``) never overwrites an
edit; every action is in the audit log."""

from pathlib import Path

import redis.asyncio as aioredis
from xabar.devstack.demo import PROFILES

from tests.publisher.conftest import SettingsFactory, publisher_cli, stream_events
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from xabar.contracts import ARTICLES_STREAM, COUNTRIES, CountryProfilePublished
from xabar.runtime.auth import Role

FORM = {
    "version": "0",
    "title": "Казахстан",
    "lead": "Республика Казахстан — крупнейшая страна Центральной Азии.",
    "body_html": "<p>Столица — <strong>Астана</strong>.</p><script>alert(1)</script>"
    '<p><a href="javascript:alert(2)">ссылка</a></p>',
    "fact_label": ["Столица", "Валюта", ""],
    "fact_value": ["Астана", "тенге", ""],
}


async def profiles(redis: aioredis.Redis) -> list[CountryProfilePublished]:
    return [
        e
        for e in await stream_events(redis, ARTICLES_STREAM)
        if isinstance(e, CountryProfilePublished)
    ]


async def save(newsroom: Newsroom, code: str, **changes: object) -> tuple[int, str]:
    page = await newsroom.client.get(f"/countries/{code}")
    assert page.status_code == 200, page.text
    resp = await newsroom.client.post(
        f"/countries/{code}",
        data={**FORM, "csrf": csrf_of(page.text), **changes},
        headers={"Origin": ORIGIN},
    )
    return resp.status_code, resp.text


async def test_an_editor_publishes_a_profile_and_each_save_is_a_new_version(
    newsroom: Newsroom, redis: aioredis.Redis
) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    listing = (await newsroom.client.get("/countries")).text
    assert listing.count('class="row country-row"') == 6 and listing.count("не заполнен") == 6
    form = (await newsroom.client.get("/countries/KZ")).text
    assert 'value="Казахстан"' in form and 'name="version" value="0"' in form

    status, _ = await save(newsroom, "KZ")
    assert status == 303
    after = (await newsroom.client.get("/countries/KZ")).text
    assert "Профиль «Казахстан» опубликован (версия 1)" in after
    assert 'name="version" value="1"' in after and "Редактор editor" in after
    [first] = await profiles(redis)
    assert first.aggregate_id == "KZ" and first.version == 1 and first.producer == "publisher"
    data = first.data
    assert data.country == "KZ" and data.title == "Казахстан"
    assert data.lead == FORM["lead"]
    assert "<strong>Астана</strong>" in data.body_html
    assert "script" not in data.body_html and "javascript" not in data.body_html
    assert [(f.label, f.value) for f in data.facts] == [("Столица", "Астана"), ("Валюта", "тенге")]

    status, _ = await save(newsroom, "kz", version="1", lead="Второй вариант вводного абзаца.")
    assert status == 303
    events = await profiles(redis)
    assert [e.version for e in events] == [1, 2]
    assert events[1].data.lead == "Второй вариант вводного абзаца."
    listing = (await newsroom.client.get("/countries")).text
    assert "версия 2" in listing and listing.count("не заполнен") == 5

    audit = await newsroom.h.parts.collections.audit.find(
        {"action": "country_profile.published"}
    ).to_list(None)
    assert sorted(a["detail"]["version"] for a in audit) == [1, 2]
    assert {a["target_id"] for a in audit} == {"KZ"}
    log = (await newsroom.client.get("/audit")).text
    assert "опубликовал(а) профиль страны" in log


async def test_a_save_over_someone_elses_keeps_both_texts_and_stores_nothing(
    newsroom: Newsroom, redis: aioredis.Redis
) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    stale = await newsroom.client.get("/countries/UZ")
    assert (await save(newsroom, "UZ", lead="Их вариант: опубликован первым."))[0] == 303
    resp = await newsroom.client.post(
        "/countries/UZ",
        data={**FORM, "csrf": csrf_of(stale.text), "lead": "Мой вариант, написанный позже."},
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 409
    assert "Пока вы писали, профиль сохранил(а) Редактор editor" in resp.text
    assert "Мой вариант, написанный позже." in resp.text  # in the form, not lost
    assert "Их вариант: опубликован первым." in resp.text
    assert 'name="version" value="1"' in resp.text  # sent again, it is saved over theirs
    assert [e.version for e in await profiles(redis)] == [1]


async def test_a_form_with_problems_says_them_in_russian_and_publishes_nothing(
    newsroom: Newsroom, redis: aioredis.Redis
) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    status, text = await save(
        newsroom,
        "TJ",
        title="",
        lead=" ",
        fact_label=["Столица", "x" * 61],
        fact_value=["", "значение"],
    )
    assert status == 422
    for said in (
        "Укажите название страны.",
        "Напишите вводный абзац",
        "У каждого факта нужны и название, и значение.",
        "Название факта — до 60 знаков",
    ):
        assert said in text
    status, text = await save(newsroom, "TJ", version="не число")
    assert status == 422 and "Форма повреждена" in text
    assert await profiles(redis) == []


async def test_profiles_are_for_editors_and_unknown_countries_are_a_page(
    newsroom: Newsroom, redis: aioredis.Redis
) -> None:
    anonymous = await newsroom.client.get("/countries/KZ")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fcountries%2FKZ"
    await newsroom.login(await newsroom.editor(Role.CONTRIBUTOR))
    assert (await newsroom.client.get("/countries")).status_code == 403
    assert (await newsroom.client.get("/countries/KZ")).status_code == 403
    today = (await newsroom.client.get("/")).text
    assert "О странах" not in today  # not in the contributor's menu

    other = newsroom.fresh_client()
    async with other:
        await newsroom.login(await newsroom.editor(Role.EDITOR), client=other)
        missing = await other.get("/countries/RU")
        assert missing.status_code == 404 and "такой страны на портале нет" in missing.text
        assert "Traceback" not in missing.text
        token = csrf_of((await other.get("/countries/KZ")).text)
        forged = await other.post(
            "/countries/KZ",
            data={**FORM, "csrf": token},
            headers={"Origin": "http://evil.example"},
        )
        assert forged.status_code == 403
        stale = await other.post("/countries/KZ", data=FORM, headers={"Origin": ORIGIN})
        assert stale.status_code == 403
    assert await profiles(redis) == []


async def test_the_seed_fills_in_missing_profiles_and_never_overwrites_an_edit(
    newsroom: Newsroom, redis: aioredis.Redis
) -> None:
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    assert (await save(newsroom, "KG", title="Кыргызстан", lead="Правка редакции."))[0] == 303
    seed = [
        {"country": "KG", "title": "Кыргызстан", "lead": "Из файла.", "facts": []},
        {"country": "CN", "title": "Китай", "lead": "Из файла.", "body_html": "<p>Текст</p>"},
    ]
    assert await newsroom.h.parts.profiles.seed(seed) == ["CN"]
    assert await newsroom.h.parts.profiles.seed(seed) == []
    events = await profiles(redis)
    assert [(e.aggregate_id, e.version, e.data.lead) for e in events] == [
        ("KG", 1, "Правка редакции."),
        ("CN", 1, "Из файла."),
    ]
    stored = await newsroom.h.parts.profiles.get("KG")
    assert stored is not None and stored["lead"] == "Правка редакции."


async def test_the_demo_profiles_are_imported_by_the_publisher_once(
    make_settings: SettingsFactory, tmp_path: Path, redis: aioredis.Redis
) -> None:
    """What ``make run`` does: the reference's six profiles, stored and published once."""
    settings = make_settings()
    first = await publisher_cli(settings, "import-profiles", str(PROFILES))
    assert first.returncode == 0, first.stderr
    assert "6 stored and published" in first.stdout
    events = await profiles(redis)
    assert sorted(e.aggregate_id for e in events) == sorted(COUNTRIES)
    assert {e.version for e in events} == {1}
    again = await publisher_cli(settings, "import-profiles", str(PROFILES))
    assert again.returncode == 0 and "0 stored and published" in again.stdout
    assert len(await profiles(redis)) == 6
    broken = tmp_path / "broken.json"
    broken.write_text('[{"country": "RU", "title": "x", "lead": "y"}]', encoding="utf-8")
    refused = await publisher_cli(settings, "import-profiles", str(broken))
    assert refused.returncode == 1 and "такой страны на портале нет" in refused.stderr
    assert "Traceback" not in refused.stderr
