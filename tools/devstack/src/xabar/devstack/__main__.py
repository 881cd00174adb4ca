"""``python -m xabar.devstack run``: the whole platform with demo content, until Ctrl-C.

Ports (each overridable): feed 8080, ingest 8081, publisher 8082, polls 8083; Redis and FerretDB
on free local ports. State (Redis AOF, FerretDB's SQLite files, secrets, logs) lives in ``.state/``
of the repository; ``make clean`` removes it.
"""

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

import httpx
from xabar.devstack.clients import CHIEF_EMAIL, ensure_chief
from xabar.devstack.demo import PROFILES, write_demo_files
from xabar.devstack.stack import DEFAULT_PORTS, SERVICES, Stack, running_stack, say
from xabar.devstack.tips import send_demo_tips


def _ports() -> dict[str, int]:
    return {n: int(os.environ.get(f"XABAR_{n.upper()}_PORT", DEFAULT_PORTS[n])) for n in SERVICES}


def load_demo(stack: Stack) -> None:
    # "О стране": the reference's six profiles, stored and published by the publisher for the
    # countries the newsroom has not written yet (an edit in the newsroom is kept)
    stack.cli("publisher", "import-profiles", str(PROFILES))
    marker = stack.state / "demo-loaded.json"
    if marker.exists():
        say("stack", "demo content already loaded (remove .state to start over)")
        return
    say("stack", "loading demo content through the publisher and polls (once; takes a minute)")
    started = time.monotonic()
    ensure_chief(stack)
    articles, poll = write_demo_files(stack.state)
    stack.cli("publisher", "import-articles", str(articles))
    stack.cli("polls", "import-poll", str(poll))
    expected = sum(1 for _ in articles.open(encoding="utf-8"))
    feed = stack.services["feed"].url
    deadline = time.monotonic() + 300
    count = 0
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"{feed}/api/v1/articles", params={"page": 1}, timeout=5)
            count = int(resp.json().get("total", 0)) if resp.status_code == 200 else 0
        except (httpx.HTTPError, ValueError):
            count = 0
        if count >= expected:
            break
        time.sleep(1)
    tips = send_demo_tips(stack.services["ingest"].url)
    say("stack", f"{tips} citizen tips with photos sent through ingest (the newsroom's inbox)")
    marker.write_text(
        json.dumps({"articles": expected, "seconds": round(time.monotonic() - started, 1)})
    )
    say("stack", f"demo content loaded: {count} articles in the feed, the reference poll")


def banner(urls: Mapping[str, str], secrets: Mapping[str, str]) -> list[str]:
    """What ``make run`` prints once the platform is up: where each part is, and the chief's
    login to the newsroom."""
    return [
        "Xabar is up:",
        f"  readers' site    {urls['feed']}/   (RSS {urls['feed']}/rss.xml)",
        f"  citizen reports  {urls['ingest']}/report",
        f"  newsroom         {urls['publisher']}/   (login {CHIEF_EMAIL}, "
        f"password {secrets['chief_password']}, also in .state/secrets.json)",
        f"  editors' API     {urls['publisher']}/openapi.json",
        f"  polls API        {urls['polls']}/api/v1/polls",
        "  metrics          operators only: 127.0.0.1:(port + 1000)/metrics; "
        "health /healthz, /readyz",
    ]


def run() -> int:
    state = Path(os.environ.get("XABAR_STATE_DIR", ".state")).resolve()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Ctrl-C reaches us more than once (the terminal signals the whole process group, and
        # uv forwards it too): stop once, and let nothing interrupt the stopping.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with running_stack(state, ports=_ports()) as stack:
            load_demo(stack)
            s = stack.services
            for line in banner({n: svc.url for n, svc in s.items()}, stack.secrets):
                say("stack", line)
            say("stack", "press Ctrl-C to stop")
            while True:
                for svc in s.values():
                    if svc.proc is not None and svc.proc.poll() is not None:
                        say("stack", f"{svc.name} exited with {svc.proc.returncode}; stopping")
                        return 1
                time.sleep(0.5)
    except KeyboardInterrupt:
        say("stack", "stopping: services first, then FerretDB and Redis")
    say("stack", "stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xabar.devstack", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the platform with demo content until Ctrl-C")
    bench = sub.add_parser("bench", help="measure speed and memory (see `make bench`)")
    bench.add_argument(
        "--only",
        default="ingest,polls,feed,cluster",
        help="comma-separated groups to measure (ingest, polls, feed on one node; cluster: the "
        "vote and the feed's reads on a 3+3 Redis Cluster); baselines always run; "
        "projector alone: the feed projector's live and rebuild rates, nothing else",
    )
    bench.add_argument("--seconds", type=int, default=8, help="length of each wrk run (default 8)")
    bench.add_argument(
        "--feed-workers",
        type=int,
        default=0,
        help="worker processes of the feed and of nginx (default: the cores wrk leaves)",
    )
    bench.add_argument(
        "--no-pin",
        action="store_true",
        help="wrk and the reader pages' servers share every CPU (default: wrk on one CPU only)",
    )
    sub.add_parser("asyncapi", help="print the AsyncAPI document of every service's events")
    newsroom = sub.add_parser(
        "bench-newsroom", help="the editors' lists and searches at 100,000 articles (p99)"
    )
    newsroom.add_argument("--articles", type=int, default=100_000)
    hostile = sub.add_parser(
        "hostile", help="each service's peak memory under 20 concurrent hostile requests"
    )
    hostile.add_argument("--rounds", type=int, default=3, help="rounds of 20 of each kind")
    memory = sub.add_parser(
        "memory", help="Redis bytes per stored article, one node and a 3-master cluster"
    )
    memory.add_argument("--articles", type=int, default=20_000)
    memory.add_argument("--body-chars", type=int, default=1500)
    memory.add_argument("--single-only", action="store_true", help="no cluster run")
    drills = sub.add_parser("drills", help="fault drills under load (see `make drills`)")
    drills.add_argument(
        "--only",
        default="",
        help="comma-separated drills to run (default: all); names as in drills.py's DRILLS",
    )
    args = parser.parse_args(argv)
    if args.cmd == "run":
        return run()
    if args.cmd == "asyncapi":
        from xabar.devstack.asyncapi import main as asyncapi_main

        return asyncapi_main()
    if args.cmd == "memory":
        from xabar.devstack.memory import main as memory_main

        return memory_main(args.articles, args.body_chars, cluster=not args.single_only)
    if args.cmd == "bench-newsroom":
        from xabar.devstack.newsroom_bench import main as newsroom_main

        return newsroom_main(args.articles)
    if args.cmd == "bench":
        from xabar.devstack.bench import GROUPS
        from xabar.devstack.bench import main as bench_main

        groups = tuple(g.strip() for g in args.only.split(",") if g.strip())
        if groups == ("projector",):  # the feed projector's live and rebuild rates alone
            from xabar.devstack.bench import projector_main

            return projector_main(max(0, args.feed_workers) or None)
        unknown = sorted(set(groups) - {*GROUPS, "cluster"})
        if unknown or not groups:
            parser.error(f"--only takes some of {', '.join(GROUPS)}, cluster; got {args.only!r}")
        on_one_node = tuple(g for g in GROUPS if g in groups)
        code = (
            bench_main(
                on_one_node,
                max(1, args.seconds),
                max(0, args.feed_workers) or None,
                not args.no_pin,
            )
            if on_one_node
            else 0
        )
        if "cluster" in groups:  # the same on a 3+3 Redis Cluster (bench_cluster.py)
            from xabar.devstack.bench_cluster import main as cluster_main

            cluster_main(max(1, args.seconds))
        return code
    if args.cmd == "hostile":
        from xabar.devstack.hostile import main as hostile_main

        return hostile_main(args.rounds)
    from xabar.devstack.drills import DRILLS
    from xabar.devstack.drills import main as drills_main

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DRILLS))
    if unknown:
        parser.error(f"--only takes some of {', '.join(DRILLS)}; got {args.only!r}")
    return drills_main(names or None)


if __name__ == "__main__":
    sys.exit(main())
