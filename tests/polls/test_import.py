"""``python -m xabar.polls import-poll FILE``: the reference poll through the real counting path."""

import json
from pathlib import Path

from redis.asyncio import Redis

from tests.polls.conftest import SettingsFactory, client_for, run_cli, running, stream_events
from xabar.polls.importer import poll_id_for
from xabar.polls.repository import VoteLog
from xabar.runtime.mongo import mongo_client

REFERENCE = {
    "import_key": "reference:poll-eaeu",
    "question": "Как вы относитесь к вступлению Таджикистана в ЕАЭС?",
    "options": [
        {"text": "Вступление в ЕАЭС - единственный выход из кризиса", "votes": 463},
        {"text": "Мне это безразлично", "votes": 343},
        {"text": "Негативно - мигрантов прибавится", "votes": 194},
        {"text": "Таджикистан без особых экономических потерь объединится", "votes": 179},
        {"text": "Отрицательно, Таджикистан должен идти своим путем", "votes": 179},
        {"text": "Таджикистан не вступит в объединение", "votes": 134},
    ],
    "multiple": False,
}


async def test_import_creates_opens_and_fills_the_reference_poll_once(
    make_settings: SettingsFactory, redis: Redis, tmp_path: Path
) -> None:
    settings = make_settings()
    file = tmp_path / "poll.json"
    file.write_text(json.dumps(REFERENCE, ensure_ascii=False), encoding="utf-8")
    pid = poll_id_for("reference:poll-eaeu")

    rc, out, err = await run_cli(settings, "import-poll", str(file))
    assert rc == 0, err
    result = json.loads(out)
    assert result == {
        "poll_id": pid,
        "created": True,
        "counted": 1492,
        "already_counted": 0,
        "total_votes": 1492,
    }
    events = await stream_events(redis)
    assert [(e.type, e.version) for e in events] == [  # type: ignore[attr-defined]
        ("poll.opened", 1),
        ("poll.tallied", 1492),
    ]
    tally = events[1].data  # type: ignore[attr-defined]
    assert tally.total_votes == 1492
    assert list(tally.percentages.values()) == [31, 23, 13, 12, 12, 9]

    mongo = mongo_client(settings.mongodb_url)
    log = VoteLog(mongo[settings.mongodb_db])
    entries = await log.for_poll(pid)
    assert len(entries) == 1492
    assert {e.voter_id for e in entries} == {f"import:reference:poll-eaeu:{n}" for n in range(1492)}
    await mongo.close()

    rc, out, err = await run_cli(settings, "import-poll", str(file))
    assert rc == 0, err
    again = json.loads(out)
    assert again["created"] is False and again["counted"] == 0
    assert again["already_counted"] == 1492 and again["total_votes"] == 1492
    assert [e.type for e in await stream_events(redis)].count("poll.opened") == 1

    async with running(settings) as app, client_for(app) as client:
        listed = (await client.get("/api/v1/polls")).json()
        assert [p["poll_id"] for p in listed["items"]] == [pid]
        view = (await client.get(f"/api/v1/polls/{pid}")).json()
        assert view["status"] == "open"
        assert [o["percent"] for o in view["results"]["options"]] == [31, 23, 13, 12, 12, 9]
        assert view["results"]["total_votes"] == 1492
        page = await client.get(f"/polls/{pid}")
        assert "Всего голосов: 1492" in page.text
        r = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o2"]})
        assert r.status_code == 201  # readers can keep voting on it
        [report] = await app.state.polls.service.recount(pid)
        assert report.agrees


async def test_a_bad_import_file_is_refused_with_a_readable_message(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    bad = tmp_path / "bad.json"
    bad.write_text('{"import_key": "x", "question": "Q?", "options": [{"text": "A"}]}')
    rc, _, err = await run_cli(settings, "import-poll", str(bad))
    assert rc == 2
    assert "not a valid poll import" in err and "options" in err
    assert "Traceback" not in err
    future = tmp_path / "future.json"
    future.write_text(
        json.dumps({**REFERENCE, "import_key": "f", "opens_at": "2999-01-01T00:00:00Z"})
    )
    rc, _, err = await run_cli(settings, "import-poll", str(future))
    assert rc == 1 and "future" in err
    rc, _, err = await run_cli(settings, "import-poll", str(tmp_path / "missing.json"))
    assert rc == 2 and "cannot read" in err
