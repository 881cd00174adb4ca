"""The ops CLI's stream report against a real redis-server: the event streams with their groups,
and the dead letters of the services' own work streams (ingest's intake, the polls' vote log)."""

import redis.asyncio as aioredis

from xabar.contracts import ARTICLES_STREAM, dlq_stream
from xabar.runtime.ops import streams_report


async def test_the_report_lists_event_streams_and_every_dead_letter_stream(
    redis: aioredis.Redis,
) -> None:
    await redis.xadd(ARTICLES_STREAM, {"v": "1"})
    await redis.xgroup_create(ARTICLES_STREAM, "feed", id="0")
    await redis.xadd(dlq_stream(ARTICLES_STREAM), {"v": "1"})
    await redis.xadd("svc:intake", {"v": "1"})
    await redis.xadd("svc:intake", {"v": "2"})
    await redis.xadd(dlq_stream("svc:intake"), {"v": "1"})
    await redis.set("not-a-stream.dlq", "x")  # a key of another type with the same ending

    report = {entry["stream"]: entry for entry in await streams_report(redis)}

    articles = report[ARTICLES_STREAM]
    assert (articles["length"], articles["dead_letters"]) == (1, 1)
    assert [g["name"] for g in articles["groups"]] == ["feed"]
    intake = report["svc:intake"]
    assert (intake["length"], intake["dead_letters"], intake["groups"]) == (2, 1, [])
    assert "not-a-stream" not in report
    assert sum(1 for name in report if name == ARTICLES_STREAM) == 1  # listed once
