"""A reader votes on the front page in a real browser (Debian's chromium through Playwright):
the real polls service counts the vote and sends them back to the front page of the real feed,
which says "Ваш голос учтён: «…»" and shows the total with their vote in it, from the
tally the polls service published through the stream. Screenshots in test-artifacts/."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright

from tests.conftest import TOKEN_KEYS
from tests.feed.conftest import eventually
from tests.feed.validators import CHROMIUM, CHROMIUM_FLAGS, ROOT
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from xabar.runtime.auth import Principal, Role

ARTIFACTS = ROOT / "test-artifacts"
QUESTION = "Поедете ли вы летом на Иссык-Куль?"
OPTIONS = ["Да, обязательно", "Может быть", "Нет"]
EARLIER = [0, 0, 1, 2]  # options of the votes cast before the reader's: 2, 1 and 1


@dataclass
class Stack:
    feed: ServiceProcess
    polls: ServiceProcess
    poll_id: str


@pytest.fixture
async def stack(
    infra: Infra, redis_url: str, mongo_db_name: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The feed and the polls service as real processes on one Redis (and FerretDB for the
    polls), and a front-page poll created through the polls' API with four votes in it."""
    feed = service_process(
        "xabar.feed",
        {
            "XABAR_FEED_REDIS_URL": redis_url,
            "XABAR_FEED_CONSUMER_NAME": "feed-vote-browser",
            "XABAR_FEED_LOG_JSON": "false",
            "XABAR_FEED_WORKERS": "1",
            "XABAR_FEED_VOTE_WAIT_MS": "5000",  # a generous bound on a loaded box
        },
        tmp_path,
        "XABAR_FEED_PORT",
    )
    polls = service_process(
        "xabar.polls",
        {
            "XABAR_POLLS_REDIS_URL": redis_url,
            "XABAR_POLLS_MONGODB_URL": infra.mongo_url,
            "XABAR_POLLS_MONGODB_DB": mongo_db_name,
            "XABAR_POLLS_TOKEN_PUBLIC_KEY": TOKEN_KEYS.public,
            "XABAR_POLLS_COOKIE_SECRET": "cookie-secret-for-tests-0123456789abcdef",
            "XABAR_POLLS_ADDRESS_SALT": "address-salt-for-tests-0123456789abcdef",
            "XABAR_POLLS_CONSUMER_NAME": "polls-vote-browser",
            "XABAR_POLLS_LOG_JSON": "false",
            "XABAR_POLLS_ADDRESS_COOLDOWN_S": "0",
            "XABAR_POLLS_OUTBOX_SWEEP_S": "0.5",
        },
        tmp_path,
        "XABAR_POLLS_PORT",
    )
    feed.env["XABAR_FEED_SITE_URL"] = feed.url
    feed.env["XABAR_FEED_POLLS_PUBLIC_URL"] = polls.url
    polls.env["XABAR_POLLS_SITE_URL"] = feed.url
    polls.env["XABAR_POLLS_PUBLIC_URL"] = polls.url
    token = TOKEN_KEYS.issue(Principal("ed-1", "Редактор", Role.EDITOR))
    try:
        await asyncio.gather(asyncio.to_thread(feed.start, 90), asyncio.to_thread(polls.start, 90))
        async with httpx.AsyncClient(base_url=polls.url, timeout=30) as api:
            created = await api.post(
                "/api/v1/polls",
                json={"question": QUESTION, "options": OPTIONS, "front_page": True},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
            poll_id = created.json()["poll_id"]
            for n in EARLIER:  # other readers, each a voter of their own
                async with httpx.AsyncClient(base_url=polls.url) as reader:
                    voted = await reader.post(
                        f"/api/v1/polls/{poll_id}/votes", json={"options": [f"o{n + 1}"]}
                    )
                    assert voted.status_code == 201, voted.text
        async with httpx.AsyncClient(base_url=feed.url) as client:

            async def shown() -> bool:
                return "Всего голосов: 4" in (await client.get("/")).text

            await eventually(shown, timeout=30, what="the poll and its tally on the front page")
        yield Stack(feed, polls, poll_id)
    finally:
        for proc in (feed, polls):
            if proc.proc is not None:
                await asyncio.to_thread(proc.terminate)


async def test_after_voting_on_the_front_page_the_reader_sees_their_choice_and_the_new_total(
    stack: Stack,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for width, height, suffix in ((1280, 900, ""), (390, 844, "-phone")):
                context = await browser.new_context(
                    locale="ru-RU", viewport={"width": width, "height": height}
                )
                page = await context.new_page()
                await page.goto(f"{stack.feed.url}/")
                poll = page.locator("section.poll")
                assert "Всего голосов:" in await poll.inner_text()
                total_before = int(
                    (await poll.locator(".poll-total").inner_text()).rsplit(" ", 1)[1]
                )
                await poll.get_by_label(OPTIONS[1]).check()
                async with page.expect_navigation(url=f"{stack.feed.url}/?*"):
                    await poll.get_by_role("button", name="Голосовать").click()
                assert page.url.startswith(f"{stack.feed.url}/?voted={stack.poll_id}.o2&tally=")
                assert page.url.endswith(f"#poll-{stack.poll_id}")  # scrolled to the poll
                box = page.locator("section.poll")
                text = await box.inner_text()
                assert f"Ваш голос учтён: «{OPTIONS[1]}»" in text
                assert f"Всего голосов: {total_before + 1}" in text  # the total has the vote
                assert "Итоги обновляются" not in text
                assert await box.locator("form").count() == 0  # voted: the results, no form
                assert await page.locator(".poll-voted").is_visible()
                await page.screenshot(
                    path=str(ARTIFACTS / f"reader-front-voted{suffix}.png"), full_page=False
                )
                # what the polls service counted is what the page says
                async with httpx.AsyncClient(base_url=stack.polls.url) as api:
                    view = (await api.get(f"/api/v1/polls/{stack.poll_id}")).json()
                assert view["results"]["total_votes"] == total_before + 1
                again = await page.goto(f"{stack.feed.url}/")
                assert again is not None and again.status == 200
                plain = await page.locator("section.poll").inner_text()
                assert "Ваш голос учтён" not in plain  # the front page itself says no one's vote
                assert f"Всего голосов: {total_before + 1}" in plain
                await context.close()
        finally:
            await browser.close()
