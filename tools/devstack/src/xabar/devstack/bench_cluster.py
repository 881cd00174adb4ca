"""``make bench`` on a Redis Cluster (``python -m xabar.devstack bench --only cluster``): the four
services on a 3-master, 3-replica Redis Cluster on loopback (``running_stack(redis="cluster")``),
measured against baselines on the same cluster in the same run.

- the vote against the HINCRBY baseline (``baseline.py`` on the cluster: one HINCRBY, routed to
  its key's master), the ratio's target as on one node (``bench.targets``);
- the feed's reads (front page, an article page, news page 1, a deep news page, a section page)
  against the bare Starlette baseline, with the feed loaded with ``ARTICLES`` article events.

Votes are measured twice, each time on a new poll: as one node runs them
(``REDIS_MIN_REPLICAS=0``), and as the ``cluster`` profile does (``1``: each vote waits for its
master's replica, ``WAIT``; the polls service restarted with it). With replicas the vote is also
reported against a second baseline, ``hincrby+wait baseline``: one HINCRBY and ``WAIT 1`` in one
round trip, the cost floor of any write acknowledged only once replicated (the first baseline
stays the target's). Results:
the table on stdout and ``.bench/cluster.json``.
"""

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from xabar.devstack.clients import ensure_chief, feed_total, import_poll
from xabar.devstack.drills import VOTING
from xabar.devstack.loadgen import CpuMeter, WrkResult, publish_synthetic_articles
from xabar.devstack.stack import Stack, running_stack, say

from xabar.polls.importer import poll_id_for
from xabar.runtime.localinfra import free_port, wait_for_port

ARTICLES = 20_000
LAST_PAGE = -(-ARTICLES // 6)  # the feed's page size: 6
READS = [
    ("front page", "/"),
    ("article page", "/news/bench-500"),
    ("news page 1", "/news"),
    (f"news page {LAST_PAGE} (last)", f"/news?page={LAST_PAGE}"),
    ("section page", "/kazakhstan"),
]
VOTE_TARGET = 0.7  # vote rps / hincrby baseline rps, as on one node
READ_TARGET = 0.8  # a page's rps / bare starlette rps, as the front page's on one node
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}


def _poll(stack: Stack, key: str) -> tuple[str, str]:
    """A new poll (no voter counted on it yet) and its first option."""
    import_poll(stack, key, "Как вы относитесь к скорости сайта?", {"Хорошо": 10, "Плохо": 5})
    poll_id = poll_id_for(key)
    detail = httpx.get(f"{stack.services['polls'].url}/api/v1/polls/{poll_id}").json()
    return poll_id, str(detail["options"][0]["option_id"])


async def _load_feed(stack: Stack) -> None:
    await publish_synthetic_articles(stack.redis_url, ARTICLES)
    while await feed_total(stack) < ARTICLES:
        await asyncio.sleep(0.2)


def _votes(stack: Stack, meter: CpuMeter, base: str, replicas: int) -> list[WrkResult]:
    """The HINCRBY baseline, then the vote, polls running with ``REDIS_MIN_REPLICAS``."""
    polls = stack.services["polls"]
    polls.stop()
    polls.env["XABAR_POLLS_REDIS_MIN_REPLICAS"] = str(replicas)
    polls.start()
    polls.wait_ready(60)
    poll_id, option = _poll(stack, f"bench-{replicas}")
    suffix = f" (replicas {replicas})"
    say("bench", f"wrk hincrby baseline and vote on the cluster{suffix}")
    floor = (
        [meter.wrk(f"hincrby+wait baseline{suffix}", f"{base}/hincrby-wait", method="POST")]
        if replicas
        else []
    )
    return [
        meter.wrk(f"hincrby baseline{suffix}", f"{base}/hincrby", method="POST"),
        *floor,
        meter.wrk(
            f"vote{suffix}",
            f"{polls.url}/api/v1/polls/{poll_id}/votes",
            method="POST",
            body=json.dumps({"options": [option]}),
            headers={"Content-Type": "application/json"},
        ),
    ]


def _measure(stack: Stack, seconds: int) -> list[WrkResult]:
    port = free_port()
    baseline = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "xabar.devstack.baseline", str(port), stack.redis_url]
    )
    meter = CpuMeter({}, seconds)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, 20, baseline)
        say("bench", f"loading {ARTICLES} articles into the feed on the cluster")
        asyncio.run(_load_feed(stack))
        results = [meter.wrk("bare starlette", f"{base}/bare")]
        for name, path in READS:
            say("bench", f"wrk {name} on the cluster")
            url = stack.services["feed"].url + path
            results.append(meter.wrk(name, url, headers=BROWSER))
        return results + _votes(stack, meter, base, 0) + _votes(stack, meter, base, 1)
    finally:
        baseline.terminate()
        baseline.wait()


def main(seconds: int) -> dict[str, Any]:
    """Run the cluster bench; the report (also written to .bench/cluster.json)."""
    state = Path(".bench/cluster").resolve()
    shutil.rmtree(state, ignore_errors=True)
    with running_stack(state, echo=False, extra_env=VOTING, redis="cluster") as stack:
        ensure_chief(stack)
        runs = _measure(stack, seconds)
    by = {r.name: r for r in runs}
    ratios: dict[str, dict[str, Any]] = {}
    for replicas in (0, 1):
        suffix = f" (replicas {replicas})"
        vote, hincrby = by[f"vote{suffix}"], by[f"hincrby baseline{suffix}"]
        ratio = round(vote.rps / hincrby.rps, 2)
        ratios[f"vote{suffix}"] = {
            "vs": "hincrby baseline",
            "ratio": ratio,
            "target": VOTE_TARGET,
            "met": ratio >= VOTE_TARGET,
        }
        floor = by.get(f"hincrby+wait baseline{suffix}")
        if floor is not None:  # the cost floor of a replicated write: reported, no target
            ratios[f"vote{suffix}"]["vs_hincrby_wait"] = round(vote.rps / floor.rps, 2)
    for name, _ in READS:
        ratio = round(by[name].rps / by["bare starlette"].rps, 2)
        ratios[name] = {
            "vs": "bare starlette",
            "ratio": ratio,
            "p99_ms": by[name].p99_ms,
            "target": READ_TARGET,
            "met": ratio >= READ_TARGET,
        }
    report = {
        "deployment": "3 masters, 3 replicas (redis-server on loopback)",
        "articles": ARTICLES,
        "runs": [r.as_dict() for r in runs],
        "ratios": ratios,
    }
    out = Path(".bench/cluster.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print()
    print(f"{'on the cluster':<36}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for r in runs:
        print(f"{r.name:<36}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.non_2xx_3xx:>9}")
    for name, v in ratios.items():
        met = "met" if v["met"] else "NOT met"
        also = (
            f"; {v['vs_hincrby_wait']} of hincrby+wait baseline" if "vs_hincrby_wait" in v else ""
        )
        print(f"  {name}: {v['ratio']} of {v['vs']} (target {v['target']}, {met}){also}")
    return report
