"""The polls command line: ``python -m xabar.polls [serve | import-poll FILE | recount ...]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xabar.contracts import Event
from xabar.polls.bootstrap import Polls, build, redis_client
from xabar.polls.config import PollsSettings
from xabar.polls.errors import BadImportFile, PollsError
from xabar.polls.handlers import declare_channels
from xabar.polls.importer import ImportFile, import_poll
from xabar.polls.service import RecountReport
from xabar.runtime.bus import EventBus
from xabar.runtime.logs import configure_logging
from xabar.runtime.mongo import mongo_client

USAGE = """\
python -m xabar.polls [serve]                 run the HTTP service (port XABAR_POLLS_PORT)
python -m xabar.polls import-poll FILE.json   create, open and fill a poll (idempotent by key)
python -m xabar.polls recount [POLL_ID] [--repair] [--json]
                                              recount from the MongoDB vote log, report any
                                              difference with Redis; --repair rewrites Redis
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m xabar.polls", usage=USAGE)
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP service")
    imp = sub.add_parser("import-poll", help="import a poll with its results")
    imp.add_argument("file", type=Path)
    rec = sub.add_parser("recount", help="recount polls from the vote log")
    rec.add_argument("poll_id", nargs="?")
    rec.add_argument("--repair", action="store_true", help="rewrite Redis counters that differ")
    rec.add_argument("--json", action="store_true", help="one JSON object per poll")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = PollsSettings()  # required values come from the env
    except ValidationError as exc:
        print(f"polls: bad settings:\n{exc}", file=sys.stderr)
        return 2
    configure_logging("polls", settings.log_level, json=settings.log_json)
    if args.command in (None, "serve"):
        from xabar.polls.app import create_app
        from xabar.polls.routes.votes import CHOICE_COOKIE
        from xabar.runtime.app import serve
        from xabar.runtime.fastprotocol import FastProtocol

        app = create_app(settings)
        # the public reader pages are answered before any ASGI scope exists; a voter's never
        protocol = FastProtocol.serving(
            app.state.deps.reader_pages,
            name="PollsProtocol",
            private_cookies=(settings.cookie_name, CHOICE_COOKIE),
        )
        serve(app, settings, protocol=protocol)
        return 0
    if args.command == "import-poll":
        return asyncio.run(_import(settings, args.file))
    return asyncio.run(_recount(settings, args.poll_id, repair=args.repair, as_json=args.json))


async def _with_polls(settings: PollsSettings, *, bus: EventBus | None, consumer: str) -> Polls:
    async def no_publish(_: Event) -> None:
        raise RuntimeError("this command publishes no events")

    return build(
        settings,
        redis=redis_client(settings),
        mongo=mongo_client(settings.mongodb_url, settings.mongo_durability()),
        publish=bus.publish if bus else no_publish,
        consumer=consumer,
    )


async def _import(settings: PollsSettings, path: Path) -> int:
    try:
        data = ImportFile.model_validate_json(await asyncio.to_thread(path.read_bytes))
    except OSError as exc:
        print(f"polls: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"polls: {path} is not a valid poll import:\n{exc}", file=sys.stderr)
        return 2
    bus = EventBus(settings.redis, consumer_name=f"{settings.consumer_name}-import")
    declare_channels(bus)
    await bus.start()
    polls = await _with_polls(settings, bus=bus, consumer=f"{settings.consumer_name}-import")
    try:
        await polls.service.votes.ensure_indexes()
        await polls.writer.ensure_group()
        result = await import_poll(polls, data)
    except (BadImportFile, PollsError) as exc:
        print(f"polls: import failed: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await bus.stop()
        await polls.close()
    print(json.dumps(result, ensure_ascii=False))
    return 0


async def _recount(
    settings: PollsSettings, poll_id: str | None, *, repair: bool, as_json: bool
) -> int:
    polls = await _with_polls(settings, bus=None, consumer=f"{settings.consumer_name}-recount")
    try:
        reports = await polls.service.recount(poll_id, repair=repair)
    except PollsError as exc:
        print(f"polls: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await polls.close()
    for report in reports:
        print(
            json.dumps(report_json(report), ensure_ascii=False) if as_json else report_text(report)
        )
    if not as_json:
        differ = sum(1 for r in reports if not r.agrees)
        print(
            f"{len(reports)} polls recounted, {differ} with differences"
            + (", repaired" if repair and differ else "")
        )
    return 0 if all(r.agrees or r.repaired for r in reports) else 1


def report_json(report: RecountReport) -> dict[str, Any]:
    return {
        "poll_id": report.poll_id,
        "agrees": report.agrees,
        "repaired": report.repaired,
        "redis": None
        if report.redis is None
        else {
            "options": report.redis.options,
            "total_votes": report.redis.total,
        },
        "log": {"options": report.log.options, "total_votes": report.log.total},
        "voters_in_redis": report.voters_in_redis,
        "voters_in_log": report.voters_in_log,
        "differences": report.differences,
    }


def report_text(report: RecountReport) -> str:
    if report.agrees:
        return f"poll {report.poll_id}: ok, {report.log.total} votes (Redis and the log agree)"
    lines = [f"poll {report.poll_id}: DIFFERENT"] + [f"  {d}" for d in report.differences]
    if report.repaired:
        lines.append("  repaired: Redis counters rewritten from the log")
    return "\n".join(lines)
