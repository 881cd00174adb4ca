"""What the newsroom's browser tests share: the login form filled in as an editor does, a
signed-in context of a Russian editor's browser (``tests.support.browser.new_context``), and the
checks every page passes (axe-core with no serious or critical violation, no CSP refusal,
screenshots at desktop and phone width)."""

from playwright.async_api import Browser, BrowserContext, Page

from tests.publisher.newsroom.processes import CHIEF, PASSWORD
from tests.support.browser import axe_violations, new_context, screenshots


async def log_in(page: Page, email: str = CHIEF, password: str = PASSWORD) -> None:
    """The login form on ``page``, filled in and sent."""
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def open_signed_in(page: Page, url: str, email: str = CHIEF) -> None:
    """``url`` opened as a newcomer would: the login page first, then back to ``url``."""
    await page.goto(url)
    await log_in(page, email)
    await page.wait_for_url(url)


async def signed_in(browser: Browser, base: str, email: str = CHIEF) -> tuple[BrowserContext, Page]:
    """A new context (its own cookies) logged in as ``email``, on the newsroom's first page."""
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await log_in(page, email)
    await page.wait_for_url(f"{base}/")
    return context, page


async def check_page(page: Page, name: str, refused: list[str]) -> None:
    """No serious axe-core violation, a screenshot ``newsroom-<name>``, and no CSP refusal."""
    violations = await axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    await screenshots(page, f"newsroom-{name}")
    assert refused == [], f"{name}: the page's CSP refused {refused}"


async def type_formatted(
    page: Page, *, heading: str, bold: str, joiner: str, linked: tuple[str, str]
) -> None:
    """At the caret of the rich-text editor: ``heading`` made a subheading, then a paragraph of
    ``bold`` in bold, ``joiner``, and ``linked``'s words made a link to its address, all with the
    toolbar as a journalist does."""
    words, href = linked
    await page.keyboard.type(heading)
    await page.click("button[aria-label='Подзаголовок']")
    await page.keyboard.press("End")
    await page.keyboard.press("Enter")
    await page.click("button[aria-label='Жирный']")
    await page.keyboard.type(bold)
    await page.click("button[aria-label='Жирный']")
    await page.keyboard.type(joiner)
    await page.keyboard.type(words)
    for _ in range(len(words)):
        await page.keyboard.press("Shift+ArrowLeft")
    await page.click("button[aria-label='Ссылка']")
    await page.fill(".ql-tooltip input[type=text]", href)
    await page.keyboard.press("Enter")
