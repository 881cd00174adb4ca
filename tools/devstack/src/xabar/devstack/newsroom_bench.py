"""``python -m xabar.devstack bench-newsroom``: the editors' lists at 100,000 articles.

Starts redis-server, FerretDB and the publisher alone; imports ``ARTICLES`` published articles
(made-up Russian news, words drawn with a long tail like real text) through the publisher's
``import-articles``, adds drafts and articles in review through its API, then asks every kind of
list and search, one request at a time over loopback, and reports each one's p50 and p99 and the
p99 of all of them (the target: 50 ms), with the Redis memory the index takes. Results: a table
on stdout and ``.bench/newsroom.json``. Extra page URLs (the newsroom's) are measured as well
when ``PAGES`` names them.
"""

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from xabar.devstack.stack import load_secrets, say, service_env

from xabar.runtime.localinfra import free_port, local_infra, wait_for_port

ARTICLES = 100_000
DRAFTS = 1_000
IN_REVIEW = 200
REQUESTS = 60  # per URL
TARGET_P99_MS = 50.0
COUNTRIES = ["KZ", "KG", "UZ", "TJ", "TM", "CN"]
CHIEF = ("bench-chief@xabar.local", "Главный редактор")
_COMMON = """президент правительство заявил года страны республики министр встреча развитие
экономики сотрудничество вопросы газ нефть выборы парламент граница суд закон цены тенге сомони
сум банк кредит инфляция экспорт импорт транспорт дорога железная строительство школа больница
врачи учителя студенты университет погода снег дождь жара урожай хлопок пшеница вода энергия
электричество отключение авария пожар полиция задержан преступление коррупция расследование
журналист сми интернет телефон связь мигранты россия китай сша турция иран афганистан граница
саммит визит переговоры соглашение подписали проект инвестиции компания завод рабочие зарплата
пенсии налоги бюджет реформа образование здравоохранение спорт футбол чемпионат олимпиада борьба
культура театр фестиваль кино музыка праздник навруз рамадан туризм гостиница аэропорт рейс"""
COMMON = _COMMON.split()
_PLACES = "астана алматы бишкек ош ташкент самарканд душанбе худжанд ашхабад урумчи"
PLACES = _PLACES.split()


def words(rnd: random.Random, n: int) -> list[str]:
    """Common words with a long tail of rare ones (``слово123``), as news text has."""
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.75:
            out.append(COMMON[min(int(rnd.paretovariate(1.2)) - 1, len(COMMON) - 1)])
        elif r < 0.85:
            out.append(rnd.choice(PLACES))
        else:
            out.append(f"слово{int(rnd.paretovariate(0.6))}")
    return out


def article_lines(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        title = " ".join(words(rnd, rnd.randint(5, 10))).capitalize()
        paragraphs = [" ".join(words(rnd, rnd.randint(30, 60))) for _ in range(rnd.randint(3, 6))]
        yield {
            "import_key": f"bench:{n}",
            "title": f"{title} {n}",
            "lead": " ".join(words(rnd, 20)),
            "body_html": "".join(f"<p>{p}.</p>" for p in paragraphs),
            "countries": rnd.sample(COUNTRIES, rnd.choice([1, 1, 1, 2])),
            "tags": rnd.sample(COMMON[:40], 2),
            "published_at": (start - timedelta(minutes=7 * n)).isoformat(),
            "featured": False,
            "source": "Xabar",
            "author": "Редакция",
        }


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "xabar.publisher", *args],
        env=env,
        check=True,
        input=stdin,
        text=True,
    )


async def add_work_in_progress(client: httpx.AsyncClient, rnd: random.Random) -> None:
    """Drafts and articles in review, made through the API as editors make them."""
    for n in range(DRAFTS + IN_REVIEW):
        resp = await client.post(
            "/api/v1/articles",
            json={
                "title": " ".join(words(rnd, 7)).capitalize() + f" черновик {n}",
                "lead": " ".join(words(rnd, 15)),
                "body_html": "<p>" + " ".join(words(rnd, 80)) + "</p>",
                "countries": rnd.sample(COUNTRIES, 1),
            },
        )
        resp.raise_for_status()
        if n >= DRAFTS:
            done = await client.post(f"/api/v1/articles/{resp.json()['article_id']}/submit")
            done.raise_for_status()


def api_urls(owner: str) -> dict[str, str]:
    base = "/api/v1/articles?per_page=50"
    return {
        "list page 1": base,
        "list page 100": base + "&page=100",
        "list page 2000": base + "&page=2000",
        "drafts": base + "&status=draft",
        "in review": base + "&status=in_review",
        "country KZ": base + "&country=KZ",
        "published in UZ, page 50": base + "&status=published&country=UZ&page=50",
        "by owner": base + f"&owner_id={owner}",
        "owner and country": base + f"&owner_id={owner}&country=KG",
        "search common word": base + "&q=президент",
        "search common word, page 20": base + "&q=правительство&page=20",
        "search prefix": base + "&q=эконом",
        "search place": base + "&q=душанбе",
        "search rare word": base + "&q=слово977",
        "search two words": base + "&q=газ%20цены",
        "search in a country, drafts": base + "&q=черновик&country=TJ&status=draft",
        "search nothing": base + "&q=жирафы",
    }


def page_urls(article_id: str) -> dict[str, str]:
    """The newsroom's article pages, as a logged-in editor opens them."""
    return {
        "page: articles": "/articles",
        "page: articles, page 500": "/articles?page=500",
        "page: search": "/articles?q=президент",
        "page: search, filters": "/articles?q=газ&status=published&country=KZ",
        "page: drafts of a country": "/articles?status=draft&country=UZ",
        "page: editor": f"/articles/{article_id}",
        "page: new article": "/articles/new",
        "page: history": f"/articles/{article_id}/revisions",
        "page: diff": f"/articles/{article_id}/diff",
        "page: media library": "/media-library",
        "page: today (dashboard)": "/",
        "page: inbox": "/inbox",
        "page: inbox, filters": "/inbox?status=received&country=TJ",
        "page: inbox updates": "/inbox/updates?after=0",
        "page: people": "/people",
        "page: account": "/account",
        "page: audit log": "/audit",
    }


async def newsroom_session(client: httpx.AsyncClient, password: str) -> None:
    """Log in through the newsroom's form, as a browser does (the cookie stays in ``client``)."""
    form = await client.get("/login")
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    resp = await client.post(
        "/login",
        data={"csrf": csrf, "email": CHIEF[0], "password": password, "next": ""},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )
    if resp.status_code != 303:
        raise RuntimeError(f"the newsroom login answered {resp.status_code}")


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)


async def measure(
    client: httpx.AsyncClient, urls: dict[str, str]
) -> tuple[list[dict[str, Any]], list[float]]:
    """Each URL's p50 and p99, and every time measured."""
    out = []
    every: list[float] = []
    for name, url in urls.items():
        times = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            resp = await client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            resp.raise_for_status()
        times.sort()
        every += times
        body = (
            resp.json()
            if resp.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        out.append(
            {
                "name": name,
                "url": url,
                "p50_ms": round(statistics.median(times), 2),
                "p99_ms": p99(times),
                "total": body.get("total"),
                "exact": body.get("exact"),
            }
        )
    return out, every


async def index_memory(redis_url: str) -> dict[str, float]:
    client = aioredis.from_url(redis_url)
    try:
        total = 0
        keys = 0
        async for key in client.scan_iter(match="xabar:publisher:{idx*", count=2000):
            total += int(await client.memory_usage(key) or 0)
            keys += 1
        info = await client.info("memory")
        return {
            "index_mb": round(total / 1e6, 1),
            "index_keys": keys,
            "redis_used_mb": round(int(info["used_memory"]) / 1e6, 1),
        }
    finally:
        await client.aclose()


def main(articles: int = ARTICLES) -> int:
    state = Path(".bench/newsroom-state").resolve()
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    secrets = load_secrets(state)
    with local_infra(state) as (redis, mongo):
        port = free_port()
        env = {
            **os.environ,
            **service_env(
                "publisher",
                redis.url,
                mongo.url,
                secrets,
                {"publisher": port, "ingest": port, "feed": port},
            ),
            "XABAR_PUBLISHER_METRICS_PORT": "0",
            "XABAR_PUBLISHER_LOG_LEVEL": "INFO",
        }
        path = state / "articles.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for line in article_lines(articles):
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        say("bench", f"importing {articles} articles")
        started = time.monotonic()
        cli(env, "import-articles", str(path), "--no-progress")
        imported_s = time.monotonic() - started
        cli(
            env,
            "create-editor",
            "--email",
            CHIEF[0],
            "--name",
            CHIEF[1],
            "--role",
            "chief",
            "--password-stdin",
            stdin=secrets["chief_password"],
        )
        log = state / "publisher.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "xabar.publisher"], env=env, stdout=sink, stderr=sink
            )
        try:
            wait_for_port(port, 60, proc)
            say("bench", "waiting for the index rebuild the start runs")
            while b"article list index rebuilt" not in log.read_bytes():
                if proc.poll() is not None:
                    raise RuntimeError(f"the publisher stopped; see {log}")
                time.sleep(0.5)
            report = asyncio.run(
                _run(f"http://127.0.0.1:{port}", secrets["chief_password"], redis.url)
            )
        finally:
            proc.terminate()
            proc.wait(30)
    report["articles"] = articles + DRAFTS + IN_REVIEW
    report["import_seconds"] = round(imported_s, 1)
    out = Path(".bench/newsroom.json")
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    for row in report["runs"]:
        extra = (
            ""
            if row.get("total") is None
            else f"  total {row['total']}{'' if row.get('exact', True) else '+'}"
        )
        say(
            "bench",
            f"{row['name']:<32} p50 {row.get('p50_ms', '-'):>7}  p99 {row['p99_ms']:>7} ms{extra}",
        )
    say("bench", f"index memory: {report['memory']}")
    met = report["runs"][-1]["p99_ms"] <= TARGET_P99_MS
    say(
        "bench",
        f"p99 of every request: {report['runs'][-1]['p99_ms']} ms "
        f"(target {TARGET_P99_MS}): {'met' if met else 'NOT met'}",
    )
    return 0


async def _run(base: str, password: str, redis_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"email": CHIEF[0], "password": password}
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        me = (
            await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        ).json()
        client.headers["Authorization"] = f"Bearer {token}"
        say("bench", f"adding {DRAFTS} drafts and {IN_REVIEW} articles in review")
        await add_work_in_progress(client, random.Random(2))
        await measure(client, {"warm": "/api/v1/articles?q=президент"})
        some = (await client.get("/api/v1/articles?per_page=1&page=3")).json()["items"][0]
        runs, api_times = await measure(client, api_urls(me["editor_id"]))
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        await newsroom_session(browser, password)
        pages, page_times = await measure(browser, page_urls(some["article_id"]))
    summary = [
        {"name": "ALL API lists", "p99_ms": p99(api_times)},
        {"name": "ALL newsroom pages", "p99_ms": p99(page_times)},
        {"name": "ALL", "p99_ms": p99(api_times + page_times)},
    ]
    return {"runs": runs + pages + summary, "memory": await index_memory(redis_url)}
