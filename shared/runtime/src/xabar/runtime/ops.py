"""``python -m xabar.runtime.ops``: the operators' CLI for streams and dead letters.

    xabar-ops streams                          length, groups, pending, lag of every Xabar stream
    xabar-ops dlq list STREAM [--count N]      dead letters with their errors
    xabar-ops dlq replay STREAM [ID ...]       put dead letters back on their stream
    xabar-ops dlq drop STREAM ID ...           delete dead letters for good

The Redis URL comes from ``--redis-url`` or ``XABAR_REDIS_URL`` (default redis://127.0.0.1:6379/0).
"""

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.contracts import STREAM_OF_TYPE, dlq_stream
from xabar.runtime.bus import list_dead_letters, replay_dead_letters
from xabar.runtime.deployment import parse_redis_url


async def streams_report(redis: Redis) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for stream in sorted(set(STREAM_OF_TYPE.values())):
        length = await redis.xlen(stream)
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:
            groups = []
        out.append(
            {
                "stream": stream,
                "length": length,
                "dead_letters": await redis.xlen(dlq_stream(stream)),
                "groups": [
                    {
                        "name": _s(g["name"]),
                        "consumers": g["consumers"],
                        "pending": g["pending"],
                        "lag": g.get("lag"),
                    }
                    for g in groups
                ],
            }
        )
    # the services' own work streams (ingest's intake, the polls' vote log) have dead letters too
    known = {dlq_stream(e["stream"]) for e in out}
    async for key in redis.scan_iter(match="*.dlq", _type="stream", count=1000):
        name = _s(key)
        if name not in known:
            source = name.removesuffix(".dlq")
            out.append(
                {
                    "stream": source,
                    "length": await redis.xlen(source),
                    "dead_letters": await redis.xlen(name),
                    "groups": [],
                }
            )
    return out


def _s(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


async def _main(args: argparse.Namespace) -> int:
    redis = parse_redis_url(args.redis_url).client()
    try:
        if args.cmd == "streams":
            print(json.dumps(await streams_report(redis), ensure_ascii=False, indent=2))
        elif args.cmd == "dlq" and args.action == "list":
            for letter in await list_dead_letters(redis, args.stream, args.count):
                print(
                    json.dumps(
                        {
                            "id": letter.dlq_id,
                            "entry_id": letter.entry_id,
                            "group": letter.group,
                            "deliveries": letter.deliveries,
                            "failed_at": letter.failed_at,
                            "error": letter.error,
                        },
                        ensure_ascii=False,
                    )
                )
        elif args.cmd == "dlq" and args.action == "replay":
            n = await replay_dead_letters(redis, args.stream, args.ids or None)
            print(f"replayed {n} dead letter(s) onto {args.stream}")
        elif args.cmd == "dlq" and args.action == "drop":
            n = await redis.xdel(dlq_stream(args.stream), *args.ids) if args.ids else 0
            print(f"dropped {n} dead letter(s)")
        return 0
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xabar-ops", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("XABAR_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("streams", help="stream lengths, groups, pending entries and lag")
    dlq = sub.add_parser("dlq", help="dead-letter streams")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    lst = dlq_sub.add_parser("list")
    lst.add_argument("stream")
    lst.add_argument("--count", type=int, default=100)
    rep = dlq_sub.add_parser("replay")
    rep.add_argument("stream")
    rep.add_argument("ids", nargs="*")
    drop = dlq_sub.add_parser("drop")
    drop.add_argument("stream")
    drop.add_argument("ids", nargs="+")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
