"""A real headless browser (Debian's chromium) loads the front page of the real feed process,
fed through the real streams with the reference page's content, and sees the news of the day,
the poll and the pager; hostile text in articles and readers' comments stays text. The
screenshot lands in test-artifacts/front-page.png."""

import asyncio
import re
import shutil
import struct
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.dates import format_date

from tests.feed import demo
from tests.feed.conftest import publish_all
from tests.feed.factory import article_state, comment, comment_published, published
from tests.feed.validators import CHROMIUM_FLAGS
from tests.support.procs import ServiceProcess, service_process
from tests.support.waiting import eventually
from xabar.runtime.bus import EventBus

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"
    ),
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "test-artifacts" / "front-page.png"
FILLER = 300  # older items: the pager runs to page 52
FLAGS = ["--headless", *CHROMIUM_FLAGS]
INGEST = "http://127.0.0.1:8081"


async def chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="xabar-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM or "chromium",
            *FLAGS,
            f"--user-data-dir={profile}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


class _Dom(HTMLParser):
    """Text and elements of a DOM dump."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.parts).replace("\xa0", " "))


def dom_of(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    dom.close()
    return dom


@pytest.fixture
async def site(
    redis_url: str, tmp_path: Path, publisher: EventBus
) -> AsyncIterator[ServiceProcess]:
    """The feed as a real process, with the reference page's content published as events."""
    env = {
        "XABAR_FEED_REDIS_URL": redis_url,
        "XABAR_FEED_CONSUMER_NAME": "feed-browser",
        "XABAR_FEED_INGEST_PUBLIC_URL": INGEST,
        "XABAR_FEED_LOG_JSON": "false",
        "XABAR_FEED_WORKERS": "1",  # one process: what this test looks at is the page
    }
    proc = service_process("xabar.feed", env, tmp_path, "XABAR_FEED_PORT")
    proc.env["XABAR_FEED_SITE_URL"] = proc.url
    try:
        await asyncio.to_thread(proc.start)
        await publish_all(publisher, [published(s) for s in demo.filler(FILLER)])
        await publish_all(publisher, demo.events())
        async with httpx.AsyncClient(base_url=proc.url) as client:

            async def ready() -> bool:
                front = (await client.get("/")).text
                return "Всего голосов: 1492" in front and f">{(FILLER + 7 + 5) // 6}<" in front

            await eventually(ready, timeout=30, what="the demo content on the front page")
        yield proc
    finally:
        await asyncio.to_thread(proc.terminate)


async def test_the_browser_shows_the_news_of_the_day_the_poll_and_the_pager(
    site: ServiceProcess,
) -> None:
    html = await chromium("--dump-dom", f"{site.url}/")
    dom = dom_of(html)
    text = dom.text
    today = format_date(datetime.now(demo.ZONE).date(), "EEEE, d MMMM y", locale="ru")
    for expected in (
        today,
        "Центральноазиатский информационный портал «Xabar»",
        "Народный репортер",
        "Напишите нам",
        f"{demo.TITLE} Новость дня",
        demo.LEAD,
        "Политический диалог: акцент на координацию и доверие",
        demo.CREDIT,
        "Сегодня 07:58",
        "Комментарии [0]",
        "Последние новости",
        "24 сентября 2013 16:37 ОБСЕ обеспокоена исчезновением журналиста Сергея Наумова",
        "18 сентября 2013 13:39 Оппозиция Таджикистана не исключает выдвижения",
        "Наш опрос все опросы",
        demo.POLL_QUESTION,
        *demo.POLL_OPTIONS,
        "Всего голосов: 1492",
        "Голосовать",
        "Казахстан Кыргызстан Узбекистан Таджикистан Туркменистан Китай",
    ):
        assert expected in text, expected
    assert re.findall(r"<b>(\d+)%</b>", html) == ["31", "23", "13", "12", "12", "9"]
    pager = html[html.index('class="pager"') :]
    pager = pager[: pager.index("</nav>")]
    assert re.findall(r">(\d+|…)<", pager) == ["1", "2", "3", "4", "5", "…", "52"]
    links = {a.get("href") for tag, a in dom.elements if tag == "a"}
    assert f"{INGEST}/report" in links and "/rss.xml" in links and "/polls" in links
    (form,) = [a for tag, a in dom.elements if tag == "form"]
    assert form["action"] == "http://127.0.0.1:8083/api/v1/polls/poll-eaeu/votes"
    assert form["method"] == "post"
    hidden = [a for tag, a in dom.elements if tag == "input" and a.get("type") == "hidden"]
    # back to the poll on the page the reader voted from
    assert hidden == [
        {"type": "hidden", "name": "return_to", "value": f"{site.url}/#poll-poll-eaeu"}
    ]

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    await chromium(
        "--hide-scrollbars",
        "--window-size=1280,2600",
        f"--screenshot={SCREENSHOT}",
        f"{site.url}/",
    )
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 2600)
    assert len(png) > 50_000  # a rendered page, not a blank one


async def test_in_the_browser_hostile_text_stays_text(
    site: ServiceProcess, publisher: EventBus
) -> None:
    payload = (
        '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    )
    state = article_state(title=f"Заголовок {payload}", lead=payload, tags=(payload,))
    await publisher.publish(published(state))
    link = 'https://evil.example/"><img src=x onerror="document.title=1">'
    said = comment(state, "x1", f"Мнение {payload} {link}", name=f"Имя {payload}")
    await publisher.publish(comment_published(said))
    async with httpx.AsyncClient(base_url=site.url) as client:

        async def shown() -> bool:
            page = await client.get(f"/news/{state.slug}")
            return page.status_code == 200 and "Комментарии [1]" in page.text

        await eventually(shown, what="the hostile article and its comment")
    html = await chromium("--dump-dom", f"{site.url}/news/{state.slug}")
    dom = dom_of(html)
    assert f"Заголовок {payload}" in dom.text  # shown to the reader as the editor typed it
    assert f"Имя {payload}" in dom.text and f"Мнение {payload}" in dom.text  # and as typed
    links = [a for tag, a in dom.elements if tag == "a" and "ugc" in (a.get("rel") or "")]
    assert links == [{"href": "https://evil.example/", "rel": "nofollow ugc noopener"}]
    scripts = [a for tag, a in dom.elements if tag == "script"]
    assert scripts == [{"type": "application/ld+json"}]
    assert not [a for _, a in dom.elements if any(k.startswith("on") for k in a)]
    assert "<title>pwned</title>" not in html
