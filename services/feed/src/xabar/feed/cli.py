"""``python -m xabar.feed [serve|rebuild]``.

- ``serve`` (the default): run the readers' site as ``XABAR_FEED_WORKERS`` processes (default:
  one per core; see ``xabar.feed.workers``) and, in worker 0, unless
  ``XABAR_FEED_PROJECTOR=false``, the read-model projector (consumer group ``feed`` on
  ``xabar.articles`` and ``xabar.polls``).
- ``rebuild``: replay both streams into a fresh read model with a progress bar and switch the
  site to it atomically (see ``xabar.feed.rebuild``). Safe while the site runs.
"""

import argparse
import gc
import sys

import uvloop

from xabar.feed.config import FeedSettings
from xabar.feed.errors import RebuildError
from xabar.runtime.logs import configure_logging

# the collector's thresholds where events are applied (the rebuild, the worker that runs the
# projector): a batch of events is thousands of objects, each of which would otherwise start a
# collection. Python's default: (700, 10, 10)
PROJECTING_GC_THRESHOLDS = (50_000, 20, 100)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xabar.feed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the site (default)")
    serve.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    rb = sub.add_parser("rebuild", help="rebuild the read model by replaying the streams")
    rb.add_argument(
        "--batch", type=int, default=None, help="stream entries per XRANGE page (default 5000)"
    )
    rb.add_argument("--no-progress", action="store_true", help="no progress bar")
    rb.add_argument(
        "--grace",
        type=float,
        default=0.5,
        help="seconds to keep the old read model after the switch",
    )
    return parser


async def _rebuild(settings: FeedSettings, batch: int | None, progress: bool, grace: float) -> int:
    from xabar.feed.rebuild import BATCH, rebuild  # not imported by the site (tqdm)

    redis = settings.redis_client()
    try:
        report = await rebuild(redis, batch=batch or BATCH, progress=progress, grace_s=grace)
    except RebuildError as exc:
        print(f"rebuild failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
    print(
        f"rebuilt read model {report.generation} (was {report.previous or 'none'}): "
        f"{report.entries} entries, {report.applied} applied, {report.skipped} skipped, "
        f"{report.deleted_keys} old keys deleted, {report.taken_over} articles older than the "
        "stream taken over from the served generation"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = FeedSettings()  # required values come from the env
    configure_logging("feed", settings.log_level, json=settings.log_json)
    if args.command == "rebuild":
        gc.freeze()  # what the imports made is never scanned
        gc.set_threshold(*PROJECTING_GC_THRESHOLDS)
        # uvloop, as the server runs on: its socket I/O costs the replay less
        return uvloop.run(_rebuild(settings, args.batch, not args.no_progress, args.grace))
    return _serve(settings, getattr(args, "worker", None))


def _serve(settings: FeedSettings, worker: int | None) -> int:
    from xabar.feed.app import create_app
    from xabar.feed.workers import (
        Supervisor,
        listening_socket,
        trim_heap,
        worker_count,
        worker_settings,
    )
    from xabar.runtime.app import serve
    from xabar.runtime.fastprotocol import FastProtocol

    count = worker_count(settings)
    if worker is None and count > 1:
        return Supervisor(count).run()
    own = worker_settings(settings, worker or 0)
    sockets = [listening_socket(settings)] if worker is not None else None
    app = create_app(own)
    protocol = FastProtocol.serving(app.state.deps.cache)
    gc.freeze()  # what the imports and the app made lives as long as the process: never scanned
    trim_heap()  # what the imports allocated and freed
    if own.projector:  # worker_settings leaves it on in worker 0 only
        gc.set_threshold(*PROJECTING_GC_THRESHOLDS)
    serve(app, own, sockets=sockets, protocol=protocol)
    return 0
