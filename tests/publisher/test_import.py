"""``import-articles`` and ``republish-all`` as the dev runner and ops call them (subprocesses)."""

import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from PIL import Image

from tests.publisher.conftest import (
    SettingsFactory,
    jpeg,
    publisher_cli,
    running_in_task,
    stream_events,
)
from xabar.contracts import ArticlePublished, ArticleUpdated
from xabar.publisher.config import PublisherSettings


def line(n: int, **extra: Any) -> dict[str, Any]:
    at = datetime(2013, 9, 24, 16, 37, tzinfo=UTC) - timedelta(hours=n)
    return {
        "import_key": f"site:{n}",
        "title": f"ОБСЕ обеспокоена исчезновением журналиста {n}",
        "lead": "Независимый журналист пропал несколько дней назад",
        "body_html": f"<p>Новость {n}</p><script>alert(1)</script>",
        "countries": ["UZ"],
        "tags": ["СМИ"],
        "published_at": at.isoformat(),
        "featured": False,
        "image": None,
        "source": "Xabar",
        "author": "Редакция",
        **extra,
    }


async def cli(settings: PublisherSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return await publisher_cli(settings, *args, "--no-progress")


async def test_import_creates_and_publishes_once_and_republish_all_re_emits(
    make_settings: SettingsFactory, tmp_path: Path, redis: aioredis.Redis
) -> None:
    settings = make_settings()
    photo = tmp_path / "dushanbe.jpg"
    photo.write_bytes(jpeg(120, 80))
    lines = [line(n) for n in range(30)]
    lines[0] = line(
        0,
        featured=True,
        image={"credit": "Фото: пресс-служба МИД РТ", "alt": "Переговоры в Душанбе"},
        image_path=str(photo),
        body_markdown="Переговоры **прошли**.",
        body_html=None,
    )
    lines[5] = line(5, featured=True)  # older: the newest featured line wins
    lines[7] = line(7, image={"url": "https://example.org/a.jpg", "credit": "Фото: архив"})
    path = tmp_path / "articles.jsonl"
    bad = '{"import_key": "broken", "title": ""}\nnot json\n'
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n" + bad,
        encoding="utf-8",
    )

    first = await cli(settings, "import-articles", str(path))
    assert first.returncode == 1, first.stderr  # two invalid lines are reported
    assert "30 created and published" in first.stdout
    assert "line 31:" in first.stderr and "line 32: not JSON" in first.stderr
    events = await stream_events(redis)
    published = [e for e in events if isinstance(e, ArticlePublished)]
    updated = [e for e in events if isinstance(e, ArticleUpdated)]
    assert len(published) == 30
    assert {e.version for e in published} == {1}
    by_title = {e.data.title: e for e in published}
    top = by_title["ОБСЕ обеспокоена исчезновением журналиста 0"]
    assert top.data.body_html == "<p>Переговоры <strong>прошли</strong>.</p>"
    assert top.data.published_at == datetime(2013, 9, 24, 16, 37, tzinfo=UTC)
    assert top.data.image is not None
    assert top.data.image.credit == "Фото: пресс-служба МИД РТ"
    assert (top.data.image.width, top.data.image.height) == (120, 80)
    assert all("<script>" not in e.data.body_html for e in published)
    assert by_title["ОБСЕ обеспокоена исчезновением журналиста 7"].data.image.url == (  # type: ignore[union-attr]
        "https://example.org/a.jpg"
    )
    assert [(u.aggregate_id, u.data.featured, u.version) for u in updated] == [
        (top.aggregate_id, True, 2)
    ]
    slugs = {e.data.slug for e in published}
    assert len(slugs) == 30
    assert "obse-obespokoena-ischeznoveniem-zhurnalista-0" in slugs

    again = await cli(settings, "import-articles", str(path))
    assert "0 created and published, 30 there already" in again.stdout, again.stderr
    assert len(await stream_events(redis)) == len(events)  # nothing new

    re_emit = await cli(settings, "republish-all")
    assert re_emit.returncode == 0, re_emit.stderr
    assert "re-emitted 30" in re_emit.stdout
    replays = [e for e in (await stream_events(redis))[len(events) :]]
    assert len(replays) == 30 and all(isinstance(e, ArticleUpdated) for e in replays)
    versions = {e.aggregate_id: e.version for e in replays}  # type: ignore[attr-defined]
    assert versions[top.aggregate_id] == 2 and set(versions.values()) == {1, 2}

    async with running_in_task(settings) as h:
        assert top.data.image.url.startswith(settings.public_url)
        media = await h.client.get(top.data.image.url.removeprefix(settings.public_url))
        assert media.status_code == 200 and media.content != photo.read_bytes()  # re-encoded
        with Image.open(io.BytesIO(media.content)) as img:
            assert (img.format, img.size) == ("JPEG", (120, 80))
        assert [v.width for v in top.data.image.variants] == [120, 120]
        listing = await h.client.get(
            "/api/v1/articles?status=published&country=UZ&per_page=10", headers=h.auth()
        )
        assert listing.json()["total"] == 30
        featured = (await h.client.get("/api/v1/featured", headers=h.auth())).json()
        assert featured["site"] == top.aggregate_id


async def test_the_article_list_is_filtered_paged_and_rebuilt_from_mongodb(
    make_settings: SettingsFactory, redis: aioredis.Redis
) -> None:
    async with running_in_task(make_settings()) as h:
        made = []
        for n, (country, owner) in enumerate(
            [("KZ", "a"), ("KZ", "b"), ("UZ", "a"), ("TJ", "a"), ("KZ", "a")]
        ):
            resp = await h.client.post(
                "/api/v1/articles",
                json={
                    "title": f"Статья {n} о погоде",
                    "countries": [country],
                    "body_html": "<p>Текст</p>",
                },
                headers=h.auth(editor_id=owner),
            )
            made.append(resp.json())
        await h.client.post(f"/api/v1/articles/{made[1]['article_id']}/publish", headers=h.auth())

        async def titles(query: str) -> tuple[list[str], int]:
            body = (await h.client.get(f"/api/v1/articles?{query}", headers=h.auth())).json()
            return [i["title"] for i in body["items"]], body["total"]

        assert await titles("per_page=2") == (["Статья 1 о погоде", "Статья 4 о погоде"], 5)
        assert await titles("per_page=2&page=3") == (["Статья 0 о погоде"], 5)
        assert await titles("country=KZ&status=draft") == (
            ["Статья 4 о погоде", "Статья 0 о погоде"],
            2,
        )
        assert await titles("owner_id=a&q=статья 3") == (["Статья 3 о погоде"], 1)
        assert (
            await h.client.get("/api/v1/articles?status=bogus", headers=h.auth())
        ).status_code == 422

        before = await titles("per_page=50")
        await redis.flushdb()  # the index is lost; MongoDB is the truth
        assert await titles("per_page=50") == ([], 0)
        await h.parts.repos.articles.rebuild_index()
        assert await titles("per_page=50") == before
