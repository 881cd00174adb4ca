"""``make bench``: speed and memory of the real stack, as ratios against baselines measured in the
same run on the same machine. Results: a table on stdout and .bench/results.json.

Baselines (``baseline.py``, the services' own uvicorn settings): a bare Starlette endpoint, one
that does a single XADD, one that does a single HINCRBY. Load: wrk, one thread, from a second
process on loopback. The feed is loaded with 100,000 articles (events on the stream, as the
publisher emits them) before its pages are measured.

Reader pages are also measured against Debian's nginx serving the same bytes from a file
(``nginx.py``), in the same run with the same wrk settings (-t1 -c32), the request accepting
gzip and brotli as a browser does: each page's figure is a ratio to nginx's (target >= 0.9),
and its p99 must stay within 5 ms. The feed and nginx get the same number of worker processes:
the cores wrk leaves (``server_workers``; ``--feed-workers`` to choose), and while the reader
pages run, wrk is pinned to one CPU and the servers to the others (``run_reader_pages``).

Before every run the bench waits until the stack is quiet (``CpuMeter.settle``: all its processes
together at most 0.15 of a core over a second), so that no run pays for what an earlier one left
in the background; the table says how long each waited ("quiet s", "!" when it never got quiet).
"""

import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from xabar.devstack.clients import chief_token, ensure_chief, feed_total, import_poll
from xabar.devstack.demo import publish_profiles
from xabar.devstack.drills import RELAXED
from xabar.devstack.loadgen import (
    CpuMeter,
    WrkResult,
    children,
    pin,
    publish_synthetic_articles,
    publish_synthetic_comments,
    rss_mb,
    split_cpus,
)
from xabar.devstack.nginx import StaticPage, static_baseline
from xabar.devstack.stack import Stack, running_stack, say

from xabar.runtime.localinfra import free_port, wait_for_port

ARTICLES = 100_000
SECONDS = 8
COMMENTED = "bench-400"  # the article with 200 approved comments (issue 13)
COMMENTS = 200

# feed paths
NEWS_PAGE = "/news?page={n}"
RSS = "/rss.xml"
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}
NGINX_TARGET = 0.9
P99_TARGET_MS = 5.0


def reader_pages(poll_id: str = "") -> list[tuple[str, str]]:
    """(name, path) of every reader page type measured against nginx."""
    last = -(-ARTICLES // 6)
    return [
        ("front page", "/"),
        ("article page", "/news/bench-500"),
        (f"article, {COMMENTS} comments", f"/news/{COMMENTED}"),
        ("news page 1", "/news"),
        ("news page 1000", NEWS_PAGE.format(n=1000)),
        (f"news page {last}", NEWS_PAGE.format(n=last)),
        ("section page", "/kazakhstan"),
        ("section page 100", "/kazakhstan?page=100"),
        ("tag page", "/tags/%D1%82%D0%B5%D0%BC%D0%B0%203"),
        ("country page", "/kazakhstan/about"),
        ("polls page", "/polls"),
        ("poll page", f"/polls/{poll_id}"),
        ("rss 200", RSS),
        ("section rss", "/kazakhstan/rss.xml"),
        ("atom", "/atom.xml"),
        ("json feed", "/feed.json"),
        ("sitemap index", "/sitemap.xml"),
        ("news sitemap", "/sitemap-news.xml"),
        ("articles sitemap", "/sitemaps/articles-1.xml"),
        ("pages sitemap", "/sitemap-pages.xml"),
    ]


def polls_pages(poll_id: str = "") -> list[tuple[str, str]]:
    """(name, path) of the polls service's own reader pages (where a vote without a page to go
    back to lands), measured against nginx too."""
    return [
        ("polls service: list", "/polls"),
        ("polls service: poll", f"/polls/{poll_id}"),
    ]


def targets() -> dict[str, tuple[str, str, float]]:
    """name -> (measured, baseline, target ratio: measured rps / baseline rps at least)."""
    return {
        "vote": ("vote", "hincrby baseline", 0.7),
        "ingest accept": ("ingest accept", "xadd baseline", 0.3),
        "comment accept": ("comment accept", "xadd baseline", 0.3),
        "front page": ("front page", "bare starlette", 0.8),
        "commented article": (f"article, {COMMENTS} comments", "bare starlette", 0.8),
        "rss": ("rss 200", "bare starlette", 0.8),
        "rss 304": ("rss 304", "bare starlette", 0.9),
    }


def _import_bench_poll(stack: Stack) -> None:
    ensure_chief(stack)
    import_poll(stack, "bench", "Как вы относитесь к скорости сайта?", {"Хорошо": 10, "Плохо": 5})


async def prepare(stack: Stack) -> dict[str, Any]:
    _import_bench_poll(stack)
    await publish_profiles(stack.redis.url)
    started = time.monotonic()
    await publish_synthetic_articles(stack.redis.url, ARTICLES)
    written = time.monotonic()
    while await feed_total(stack) < ARTICLES:
        await asyncio.sleep(0.2)
    applied = time.monotonic()
    await publish_synthetic_comments(stack.redis.url, COMMENTED, COMMENTS)
    while await _comment_count(stack, COMMENTED) < COMMENTS:
        await asyncio.sleep(0.2)
    return {
        "articles": ARTICLES,
        "xadd_seconds": round(written - started, 2),
        "live_projector_events_per_s": round(ARTICLES / (applied - started), 0),
    }


async def _comment_count(stack: Stack, slug: str) -> int:
    async with httpx.AsyncClient(base_url=stack.services["feed"].url, timeout=10) as feed:
        resp = await feed.get(f"/api/v1/articles/{slug}")
        return int(resp.json().get("comment_count", 0)) if resp.status_code == 200 else 0


async def publish_to_visible(stack: Stack, samples: int = 60) -> dict[str, float]:
    """Publisher API publish -> the article visible in the feed's API, in milliseconds."""
    token = await chief_token(stack)
    auth = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    async with (
        httpx.AsyncClient(
            base_url=stack.services["publisher"].url, headers=auth, timeout=10
        ) as pub,
        httpx.AsyncClient(base_url=stack.services["feed"].url, timeout=10) as feed,
    ):
        for n in range(samples):
            created = await pub.post(
                "/api/v1/articles",
                json={
                    "title": f"Замер задержки публикации {n}",
                    "lead": "Проверка.",
                    "body_html": "<p>Текст.</p>",
                    "countries": ["KZ"],
                },
            )
            created.raise_for_status()
            art = created.json()
            etag = created.headers.get("etag", "")
            start = time.perf_counter()
            resp = await pub.post(
                f"/api/v1/articles/{art['article_id']}/publish", headers={"If-Match": etag}
            )
            resp.raise_for_status()
            slug = resp.json()["slug"]
            while (await feed.get(f"/api/v1/articles/{slug}")).status_code != 200:
                await asyncio.sleep(0.001)
            out.append((time.perf_counter() - start) * 1000)
    out.sort()
    return {
        "p50_ms": round(statistics.median(out), 1),
        "p99_ms": round(out[min(len(out) - 1, int(len(out) * 0.99))], 1),
    }


def service_memory(stack: Stack) -> dict[str, float]:
    """Resident MB per service; for the feed, its largest worker (each has its own cache)."""
    out = {}
    for name, svc in stack.services.items():
        if svc.proc is None:
            continue
        pids = children(svc.proc.pid) if name == "feed" else []
        out[name] = round(max([rss_mb(p) for p in pids] or [rss_mb(svc.proc.pid)]), 1)
    return out


def rebuild_rate(stack: Stack) -> float:
    started = time.monotonic()
    stack.cli("feed", "rebuild")
    return round(ARTICLES / (time.monotonic() - started), 0)


GROUPS = ("ingest", "polls", "feed")


def meter_of(stack: Stack, baseline: int, seconds: int) -> CpuMeter:
    """CPU per request of every process that may serve a request or its writes."""
    roots = {name: svc.proc.pid for name, svc in stack.services.items() if svc.proc is not None}
    return CpuMeter(
        {**roots, "redis": stack.redis.proc.pid, "mongo": stack.mongo.proc.pid, "base": baseline},
        seconds,
    )


def run_wrk(
    stack: Stack,
    base: str,
    poll: dict[str, Any],
    slug: str,
    groups: tuple[str, ...] = GROUPS,
    meter: CpuMeter | None = None,
    pin_cpus: bool = True,
) -> list[WrkResult]:
    feed = stack.services["feed"].url
    rss_etag = httpx.get(feed + RSS, headers=BROWSER).headers.get("etag", "")
    vote_body = json.dumps({"options": [poll["options"][0]["option_id"]]})
    sub_body = json.dumps(
        {
            "title": "Сообщение",
            "text": "Текст сообщения читателя.",
            "country": "KZ",
            "anonymous": True,
            "consent": True,
        },
        ensure_ascii=False,
    )
    comment_body = json.dumps(
        {"article_id": slug, "name": "Читатель", "text": "Комментарий читателя к статье."},
        ensure_ascii=False,
    )
    js = {"Content-Type": "application/json"}
    baselines: list[tuple[str, str, dict[str, Any]]] = [
        ("bare starlette", f"{base}/bare", {}),
        ("xadd baseline", f"{base}/xadd", {"method": "POST"}),
        ("hincrby baseline", f"{base}/hincrby", {"method": "POST"}),
    ]
    ingest: list[tuple[str, str, dict[str, Any]]] = [
        (
            "ingest accept",
            f"{stack.services['ingest'].url}/api/v1/submissions",
            {"method": "POST", "body": sub_body, "headers": js},
        ),
        (
            "comment accept",
            f"{stack.services['ingest'].url}/api/v1/comments",
            {"method": "POST", "body": comment_body, "headers": js},
        ),
    ]
    polls: list[tuple[str, str, dict[str, Any]]] = [
        (
            "vote",
            f"{stack.services['polls'].url}/api/v1/polls/{poll['poll_id']}/votes",
            {"method": "POST", "body": vote_body, "headers": js},
        ),
    ]
    polls_site = stack.services["polls"].url
    polls_own = [
        (name, polls_site + path, {"headers": BROWSER})
        for name, path in polls_pages(poll["poll_id"])
    ]
    feeds: list[tuple[str, str, dict[str, Any]]] = [
        *[
            (name, feed + path, {"headers": BROWSER})
            for name, path in reader_pages(poll["poll_id"])
        ],
        *polls_own,
    ]
    feeds.append(("rss 304", feed + RSS, {"headers": {**BROWSER, "If-None-Match": rss_etag}}))
    chosen = {"ingest": ingest, "polls": polls, "feed": feeds}
    # the writes last: what they leave to drain in the background (the intake's mover, the vote
    # log writer, both paced) must not overlap the reads' measurements
    order = [g for g in ("feed", "polls", "ingest") if g in groups]
    meter = meter or CpuMeter({})
    results = []
    for name, url, kw in baselines:
        say("bench", f"wrk {name}")
        results.append(meter.wrk(name, url, **kw))
    if "feed" in groups:
        results += run_reader_pages(stack, feeds, meter, pin_cpus)
    elif "polls" in groups:  # the polls service's own pages, against nginx too
        results += run_reader_pages(stack, polls_own, meter, pin_cpus)
    for name, url, kw in [run for group in order if group != "feed" for run in chosen[group]]:
        if name == "comment accept":  # the tips accepted just before are still being moved
            asyncio.run(_intakes_drained(stack))
        say("bench", f"wrk {name}")
        results.append(meter.wrk(name, url, **kw))
    return results


def static_copies(urls: list[str]) -> list[StaticPage]:
    """Each reader page as the feed answers a browser, to be served by nginx from a file."""
    pages = []
    with httpx.Client(headers=BROWSER, timeout=30) as client:
        for n, url in enumerate(urls):
            with client.stream("GET", url) as response:
                response.raise_for_status()
                body = b"".join(response.iter_raw())  # as sent: still compressed
                pages.append(
                    StaticPage(
                        f"page-{n}",
                        body,
                        response.headers["content-type"],
                        response.headers.get("content-encoding", ""),
                        tuple(response.headers.multi_items()),
                    )
                )
    return pages


def run_reader_pages(
    stack: Stack, runs: list[tuple[str, str, dict[str, Any]]], meter: CpuMeter, pin_cpus: bool
) -> list[WrkResult]:
    """Every reader page on the feed, then the same bytes on nginx, page after page.

    With two CPUs or more, wrk runs on one CPU and the servers of the pages (the feed, the
    polls service, Redis, nginx) on the others while these run, as a load generator on its own
    machine would: sharing CPUs, the scheduler makes wrk and the server take turns on one CPU
    instead of running side by side, and how much it does so depends on the server's answers'
    rhythm, not its cost (unpinned, the feed and nginx each spent 5-6 us of CPU per page, yet
    the feed spent 19 us per request waiting to run, nginx 5, and ratios went from 0.3 to 1.3
    from one run to the next)."""
    static = static_copies([url for name, url, _ in runs if not name.endswith(" 304")])
    workers = max(1, len(children(stack.services["feed"].proc.pid)))  # type: ignore[union-attr]
    cpus = split_cpus() if pin_cpus else None
    results: list[WrkResult] = []
    with static_baseline(Path(".bench/nginx").resolve(), static, workers) as (nginx, pid):
        roots = [stack.services[n].proc.pid for n in ("feed", "polls")]  # type: ignore[union-attr]
        servers = [p for r in [*roots, stack.redis.proc.pid, pid] for p in [r, *children(r)]]
        if cpus is not None:
            pin(servers, cpus[1])
        say(
            "bench",
            f"nginx with {workers} worker(s), as the feed"
            + (f"; wrk on CPU {min(cpus[0])}, the servers on the others" if cpus else ""),
        )
        wrk_cpus = cpus[0] if cpus else None
        ours = CpuMeter(meter.roots, meter.seconds, wrk_cpus=wrk_cpus)
        theirs = CpuMeter({**meter.roots, "nginx": pid}, meter.seconds, wrk_cpus=wrk_cpus)
        try:
            for n, (name, url, kw) in enumerate(runs):
                say("bench", f"wrk {name}")
                results.append(ours.wrk(name, url, **kw))
                if n < len(static):
                    say("bench", f"wrk nginx: {name}")
                    target = f"{nginx}/{static[n].name}"
                    results.append(theirs.wrk(f"nginx: {name}", target, **kw))
        finally:
            if cpus is not None:  # the other groups run as they always did
                pin(servers, cpus[0] | cpus[1])
    return results


INTAKES = ("xabar:ingest:intake", "xabar:ingest:comments:intake", "xabar:ingest:letters:intake")


async def _intakes_drained(stack: Stack, timeout: float = 300) -> None:
    """Wait until ingest's movers have taken every accepted tip, comment and letter on to
    MongoDB (paced, 100 a second each): what they leave must not load the next measurement."""
    redis = aioredis.from_url(stack.redis.url)
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if sum([int(await redis.xlen(name)) for name in INTAKES]) == 0:
                return
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()


def server_workers() -> int:
    """The worker processes the feed and nginx each get: the cores wrk's one thread leaves
    (at least one). More workers than free cores only take turns on them, and each then finds
    fewer requests ready per wake-up (on 2 cores, 2 feed workers spent about 13 us of CPU per
    cached page where 1 spent 9-10)."""
    return max(1, (os.cpu_count() or 2) - 1)


def main(
    groups: tuple[str, ...] = GROUPS,
    seconds: int = SECONDS,
    feed_workers: int | None = None,
    pin_cpus: bool = True,
) -> int:
    """Run the bench; ``groups`` limits it to some services' endpoints (the baselines always
    run, and the feed's figures need the 100,000 articles, loaded only when "feed" is chosen).
    ``feed_workers``: the feed's worker processes, and nginx's (default ``server_workers()``);
    ``pin_cpus`` False: wrk and the reader pages' servers share every CPU."""
    state = Path(".bench/state").resolve()
    shutil.rmtree(state, ignore_errors=True)
    workers = feed_workers or server_workers()
    env = {**RELAXED, "feed": {"XABAR_FEED_WORKERS": str(workers)}}
    with running_stack(state, echo=False, extra_env=env) as stack:
        port = free_port()
        baseline = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "xabar.devstack.baseline", str(port), stack.redis.url]
        )
        try:
            wait_for_port(port, 20, baseline)
            loaded: dict[str, Any] = {}
            visible: dict[str, float] = {}
            rebuild = 0.0
            if "feed" in groups:
                say("bench", f"loading {ARTICLES} articles into the feed")
                loaded = asyncio.run(prepare(stack))
                visible = asyncio.run(publish_to_visible(stack))
            else:
                _import_bench_poll(stack)
            poll = httpx.get(stack.services["polls"].url + "/api/v1/polls").json()["items"][0]
            poll = httpx.get(
                stack.services["polls"].url + f"/api/v1/polls/{poll['poll_id']}"
            ).json()
            runs = run_wrk(
                stack,
                f"http://127.0.0.1:{port}",
                poll,
                "bench-500",
                groups,
                meter_of(stack, baseline.pid, seconds),
                pin_cpus,
            )
            memory = service_memory(stack)
            if "feed" in groups:
                rebuild = rebuild_rate(stack)
        finally:
            baseline.terminate()
            baseline.wait()
    by = {r.name: r for r in runs}
    ratios = {
        name: {
            "ratio": round(by[m].rps / by[b].rps, 2),
            "cpu_ratio": cpu_ratio(by[m], by[b]),
            "target": t,
            "met": by[m].rps / by[b].rps >= t,
        }
        for name, (m, b, t) in targets().items()
        if m in by
    }
    report: dict[str, Any] = {
        "machine": {
            "cpus": _cpus(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "groups": list(groups),
        "feed_workers": workers,
        "reader_pages_pinned": pin_cpus
        and ("feed" in groups or "polls" in groups)
        and split_cpus() is not None,
        "quiet_before_each_run": {
            "cores_at_most": CpuMeter.QUIET_CORES,
            "window_s": CpuMeter.QUIET_WINDOW_S,
            "timeout_s": CpuMeter.QUIET_TIMEOUT_S,
        },
        "runs": [r.as_dict() for r in runs],
        "ratios": ratios,
        "resident_memory_mb": {
            **memory,
            "target": 100,
            "met": all(v <= 100 for v in memory.values()),
        },
    }
    if "feed" in groups or "polls" in groups:
        report["reader_pages"] = reader_ratios(by)
    if "feed" in groups:
        last = next(
            r
            for r in runs
            if r.name.startswith("news page") and r.name not in ("news page 1", "news page 1000")
        )
        deep = round(last.p50_ms / by["news page 1"].p50_ms, 2)
        report["deep_page_p50_ratio"] = {
            "value": deep,
            "pages": last.name,
            "target": 1.2,
            "met": deep <= 1.2,
        }
        report["publish_to_visible"] = {
            **visible,
            "target_p99_ms": 50,
            "met": visible["p99_ms"] <= 50,
        }
        report["projector"] = {
            **loaded,
            "rebuild_events_per_s": rebuild,
            "target": 10_000,
            "met": min(rebuild, loaded["live_projector_events_per_s"]) >= 10_000,
        }
    out = Path(".bench/results.json" if groups == GROUPS else ".bench/results-partial.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    _print(report)
    return 0


def projector_main(feed_workers: int | None = None) -> int:
    """``bench --only projector``: the feed projector's part alone (no wrk): the 100,000
    articles applied live, then a ``rebuild`` of them, on the stack ``main`` runs."""
    state = Path(".bench/state").resolve()
    shutil.rmtree(state, ignore_errors=True)
    env = {**RELAXED, "feed": {"XABAR_FEED_WORKERS": str(feed_workers or server_workers())}}
    with running_stack(state, echo=False, extra_env=env) as stack:
        say("bench", f"loading {ARTICLES} articles into the feed")
        loaded = asyncio.run(prepare(stack))
        rebuild = rebuild_rate(stack)
        memory = service_memory(stack)
    live = loaded["live_projector_events_per_s"]
    report = {
        "projector": {
            **loaded,
            "rebuild_events_per_s": rebuild,
            "target": 10_000,
            "met": min(rebuild, live) >= 10_000,
        },
        "resident_memory_mb": memory,
    }
    out = Path(".bench/results-projector.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    verdict = _verdict(report["projector"]["met"])
    print(f"projector: live {live:.0f}/s, rebuild {rebuild:.0f}/s (target >= 10000)  {verdict}")
    print(f"resident memory MB: {memory}")
    return 0


def reader_ratios(by: dict[str, WrkResult]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, _ in [*reader_pages(), *polls_pages()]:
        if name not in by:  # not measured in this run (--only)
            continue
        ours, theirs = by[name], by[f"nginx: {name}"]
        ratio = round(ours.rps / theirs.rps, 2)
        out[name] = {
            "cpu_ratio": cpu_ratio(ours, theirs),
            "rps": round(ours.rps),
            "nginx_rps": round(theirs.rps),
            "ratio": ratio,
            "p99_ms": ours.p99_ms,
            "nginx_p99_ms": theirs.p99_ms,
            "target": NGINX_TARGET,
            "target_p99_ms": P99_TARGET_MS,
            "ratio_met": ratio >= NGINX_TARGET,
            "p99_met": ours.p99_ms <= P99_TARGET_MS,
            "met": ratio >= NGINX_TARGET and ours.p99_ms <= P99_TARGET_MS,
            "settled": ours.settled and theirs.settled,
        }
    return out


def cpu_ratio(ours: WrkResult, theirs: WrkResult) -> float | None:
    """The baseline's CPU per request (all the groups metered) over ours: what the ratio of
    throughputs would be if both were bound by CPU alone (above 1: ours costs less). On a busy
    machine it moves much less than the throughputs, which the scheduler sways."""
    if not ours.cpu_us or not theirs.cpu_us:
        return None
    mine = sum(ours.cpu_us.values())
    return round(sum(theirs.cpu_us.values()) / mine, 2) if mine > 0 else None


def _cpus() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{os.cpu_count()} x {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return str(platform.processor())


def _cpu(spent: dict[str, float] | None) -> str:
    """The process groups that spent at least 1 us per request, most first."""
    if not spent:
        return ""
    busy = sorted(((us, name) for name, us in spent.items() if us >= 1), reverse=True)
    return " ".join(f"{name} {us:.0f}" for us, name in busy)


def _verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


PINNED = "; reader pages: wrk on one CPU, their servers on the others"


def _print(report: dict[str, Any]) -> None:
    print()
    quiet = report["quiet_before_each_run"]
    print(
        f"machine: {report['machine']['cpus']}; feed and nginx: {report['feed_workers']} worker(s)"
        f" each{PINNED if report.get('reader_pages_pinned') else ''}"
        f"; before each run the stack was waited on until it used <= "
        f'{quiet["cores_at_most"]} of a core over {quiet["window_s"]} s ("quiet s")'
    )
    print(
        f"{'endpoint':<28}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'quiet s':>8}"
        "  CPU us per request (where it went)"
    )
    for r in report["runs"]:
        waited = f"{r['settled_s']:.1f}" + ("" if r["settled"] else "!")
        print(
            f"{r['name']:<28}{r['rps']:>9.0f}{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}"
            f"{r['non_2xx_3xx']:>8}{waited:>8}  {_cpu(r.get('cpu_us'))}"
        )
    print()
    for name, v in report["ratios"].items():
        print(
            f"{name:<22} {v['ratio']:>5} x baseline (target >= {v['target']})  "
            f"{_verdict(v['met']):<8} CPU per request: {v['cpu_ratio']} x the baseline's"
        )
    if "reader_pages" in report:
        _print_reader_pages(report["reader_pages"])
    if "projector" not in report:
        _print_memory(report)
        return
    _print_deep_page(report)


def _print_reader_pages(pages: dict[str, dict[str, Any]]) -> None:
    print()
    print(
        f"{'reader page':<26}{'xabar':>8}{'nginx':>8}{'ratio':>7}  {'':8}{'p99 ms':>7}  {'':8}"
        f"{'cpu x':>6}  (targets: >= {NGINX_TARGET} x nginx, p99 <= {P99_TARGET_MS} ms at 32 "
        "connections; cpu x: nginx's CPU per request over the feed's)"
    )
    for name, v in pages.items():
        print(
            f"{name:<26}{v['rps']:>8}{v['nginx_rps']:>8}{v['ratio']:>7}  "
            f"{_verdict(v['ratio_met']):<8}{v['p99_ms']:>7.2f}  {_verdict(v['p99_met']):<8}"
            f"{v['cpu_ratio'] or '':>6}"
            f"{'' if v['settled'] else '  (the stack was not quiet before it)'}"
        )
    met = sum(v["met"] for v in pages.values())
    print(f"{'reader pages':<26} {met} of {len(pages)} meet both targets")


def _print_deep_page(report: dict[str, Any]) -> None:
    d = report["deep_page_p50_ratio"]
    print(f"{'deep page / page 1':<22} {d['value']:>5} (target <= 1.2)  {_verdict(d['met'])}")
    v = report["publish_to_visible"]
    print(
        f"{'publish -> visible':<22} p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms "
        f"(target p99 <= 50)  {_verdict(v['met'])}"
    )
    p = report["projector"]
    print(
        f"{'projector':<22} live {p['live_projector_events_per_s']:.0f}/s, "
        f"rebuild {p['rebuild_events_per_s']:.0f}/s (target >= 10000)  {_verdict(p['met'])}"
    )
    _print_memory(report)


def _print_memory(report: dict[str, Any]) -> None:
    m = report["resident_memory_mb"]
    sizes = ", ".join(f"{k} {v}" for k, v in m.items() if k not in ("target", "met"))
    print(f"{'resident memory MB':<22} {sizes} (target <= 100)  {_verdict(m['met'])}")
