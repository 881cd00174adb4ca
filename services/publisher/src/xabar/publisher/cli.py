"""``python -m xabar.publisher [COMMAND]``: the server and the editors' and operators' commands.

    python -m xabar.publisher                    run the server (same as ``serve``)
    python -m xabar.publisher serve
    python -m xabar.publisher create-editor --email E --name N --role chief [--password-stdin]
        the password comes from one line of standard input with --password-stdin, otherwise from
        the environment variable XABAR_PUBLISHER_NEW_EDITOR_PASSWORD (never from the command
        line). An e-mail that exists already is left unchanged (exit 0, with a note).
    python -m xabar.publisher import-articles FILE.jsonl [--batch-size 500] [--no-progress]
        create and publish articles (see ``importer`` for the line format); idempotent.
    python -m xabar.publisher import-profiles FILE.json
        store and publish («О стране») each country profile of a JSON list (the fields of
        ``country_profile.published``'s data but ``updated_at``) whose country has none yet; a
        profile the newsroom edited is never overwritten.
    python -m xabar.publisher republish-all [--no-progress]
        re-emit every published article as ``article.updated`` with its current version.

Every command reads the same settings from the environment (``XABAR_PUBLISHER_*``, see
``config``). Exit codes: 0 done, 1 failed (or some import lines were invalid), 2 bad usage or
settings.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from tqdm import tqdm  # type: ignore[import-untyped]

from xabar.publisher.app import Publisher, build, create_app
from xabar.publisher.config import PublisherSettings
from xabar.publisher.errors import EditorExists, PublisherError
from xabar.publisher.handlers import PUBLISHES
from xabar.publisher.importer import import_articles
from xabar.runtime.app import serve
from xabar.runtime.auth import Role
from xabar.runtime.bus import EventBus
from xabar.runtime.logs import configure_logging
from xabar.runtime.mongo import mongo_client

PASSWORD_ENV = "XABAR_PUBLISHER_NEW_EDITOR_PASSWORD"  # noqa: S105 - a variable name
T = TypeVar("T")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m xabar.publisher",
        description="Xabar publisher: the server (default) and its commands.",
    )
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP server, the consumer, the relay and the scheduler")
    ce = sub.add_parser("create-editor", help="create an editor's account (the first chief)")
    ce.add_argument("--email", required=True)
    ce.add_argument("--name", required=True)
    ce.add_argument("--role", choices=[r.value for r in Role], default=Role.CONTRIBUTOR.value)
    ce.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password from standard input (otherwise from ${PASSWORD_ENV})",
    )
    ia = sub.add_parser("import-articles", help="create and publish articles from a JSONL file")
    ia.add_argument("file", type=Path)
    ia.add_argument("--batch-size", type=int, default=500)
    ia.add_argument("--no-progress", action="store_true")
    ip = sub.add_parser(
        "import-profiles",
        help="store and publish the countries' profiles of a JSON file that have none yet",
    )
    ip.add_argument("file", type=Path)
    ra = sub.add_parser("republish-all", help="re-emit every published article as article.updated")
    ra.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = PublisherSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        print(f"publisher: invalid settings (XABAR_PUBLISHER_*): {problems}", file=sys.stderr)
        return 2
    configure_logging("publisher", settings.log_level, json=settings.log_json)
    command = args.command or "serve"
    if command == "serve":
        serve(create_app(settings), settings)
        return 0
    try:
        if command == "create-editor":
            return create_editor(settings, args)
        if command == "import-articles":
            return run(settings, lambda parts: _import(parts, args), with_bus=True)
        if command == "import-profiles":
            return run(settings, lambda parts: _import_profiles(parts, args), with_bus=True)
        return run(settings, lambda parts: _republish(parts, args), with_bus=True)
    except PublisherError as exc:
        print(f"publisher: {exc.message}", file=sys.stderr)
        return 1


def run(
    settings: PublisherSettings, fn: Callable[[Publisher], Awaitable[T]], *, with_bus: bool
) -> T:
    async def go() -> T:
        mongo = mongo_client(settings.mongodb_url, settings.mongo_durability())
        bus = EventBus(
            settings.redis,
            consumer_name=f"{settings.consumer_name}-cli",
            options=settings.bus_options(),
            name="publisher",
        )
        bus.publishes(*PUBLISHES)
        redis = settings.redis_client()
        if with_bus:
            await bus.start()
        parts = build(settings, mongo, bus, redis, login_limits=False)
        try:
            return await fn(parts)
        finally:
            await parts.ingest.aclose()
            await parts.preview.aclose()
            await parts.polls.aclose()
            if with_bus:
                await bus.stop()
            await redis.aclose()
            await mongo.close()

    return asyncio.run(go())


def create_editor(settings: PublisherSettings, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        print(
            f"publisher: give the password on standard input with --password-stdin, or in "
            f"${PASSWORD_ENV}",
            file=sys.stderr,
        )
        return 2

    async def go(parts: Publisher) -> int:
        try:
            doc = await parts.editors.create(
                email=args.email, name=args.name, role=Role(args.role), password=password
            )
        except EditorExists:
            print(f"editor {args.email} exists already; left unchanged", file=sys.stderr)
            return 0
        print(f"editor created: {doc['email']} ({doc['role']}), id {doc['_id']}")
        return 0

    return run(settings, go, with_bus=False)


async def _import(parts: Publisher, args: argparse.Namespace) -> int:
    total = sum(1 for line in _lines(args.file) if line.strip())
    with tqdm(
        total=total, unit="article", desc="import", disable=args.no_progress, file=sys.stderr
    ) as bar:
        report = await import_articles(
            parts, args.file, batch_size=max(1, args.batch_size), progress=bar.update
        )
    print(
        f"imported {args.file}: {report.lines} lines, {report.created} created and published, "
        f"{report.existing} there already, {len(report.invalid)} invalid, "
        f"{report.events} events relayed"
        + (f", news of the day {report.featured}" if report.featured else "")
    )
    for number, problem in report.invalid[:50]:
        print(f"  line {number}: {problem}", file=sys.stderr)
    return 1 if report.invalid else 0


async def _import_profiles(parts: Publisher, args: argparse.Namespace) -> int:
    try:
        items = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PublisherError(f"cannot read {args.file}: {exc}") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PublisherError(f"{args.file}: a JSON list of profiles is expected")
    stored = await parts.profiles.seed(items)
    print(
        f"country profiles from {args.file}: {len(stored)} stored and published"
        + (f" ({', '.join(stored)})" if stored else "")
        + f", {len(items) - len(stored)} kept as the newsroom left them"
    )
    return 0


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PublisherError(f"cannot read {path}: {exc}") from exc


async def _republish(parts: Publisher, args: argparse.Namespace) -> int:
    with tqdm(unit="article", desc="republish", disable=args.no_progress, file=sys.stderr) as bar:
        count = await parts.articles.republish_all(progress=bar.update)
    print(f"re-emitted {count} published articles as article.updated")
    return 0
