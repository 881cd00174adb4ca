"""The vendored rich-text editor (Quill 2 through ``static/editor.js``) in a real browser, on a
newsroom page of the tests' own served by the real app: it loads under the newsroom's CSP,
its toolbar speaks Russian and passes axe-core, and what a journalist formats (a subheading,
bold, a link) reaches the server as HTML in the textarea's own form field."""

from collections.abc import AsyncIterator
from html import escape

import pytest
from playwright.async_api import Browser
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tests.publisher.conftest import SettingsFactory, running_in_task
from tests.publisher.newsroom.browsing import open_signed_in, type_formatted
from tests.publisher.newsroom.conftest import Newsroom
from tests.support.browser import axe_violations, new_page, screenshots, watch_csp
from tests.support.serving import over_http
from xabar.publisher.newsroom.deps import Newsroom as NewsroomParts
from xabar.publisher.newsroom.web import PageRouter, posted
from xabar.runtime.auth import Role
from xabar.runtime.localinfra import free_port

PAGE = """{% extends "base.html" %}
{% block head %}
<link rel="stylesheet" href="{{ static('vendor/quill/quill.snow.css') }}">
<script src="{{ static('vendor/quill/quill.js') }}" defer></script>
<script src="{{ static('editor.js') }}" defer></script>
{% endblock %}
{% block main %}
<h1>Проверка редактора</h1>
<form method="post" class="form">
  {{ csrf_field() }}
  <div class="field">
    <label for="body">Текст</label>
    <textarea id="body" name="body_html" data-wysiwyg>{{ body }}</textarea>
  </div>
  <button type="submit" class="button">Сохранить</button>
</form>
{% endblock %}
"""

demo = PageRouter()


@demo.page("GET", "/test-wysiwyg", "A page with the editor")
async def wysiwyg_page(request: Request) -> Response:
    pages = NewsroomParts.of(request).pages
    context = pages.context(request, "Проверка редактора", {"body": "<p>Старый текст</p>"})
    return HTMLResponse(pages.env.from_string(PAGE).render(context))


@demo.page("POST", "/test-wysiwyg", "What the editor sent")
async def wysiwyg_sent(request: Request) -> Response:
    body = posted(request).get("body_html") or ""
    return HTMLResponse(f'<pre id="out">{escape(body)}</pre>')


@pytest.fixture
async def served(make_settings: SettingsFactory) -> AsyncIterator[tuple[str, Newsroom]]:
    port = free_port()
    settings = make_settings(public_url=f"http://127.0.0.1:{port}")
    async with running_in_task(settings, newsroom_pages=(demo,)) as h:
        newsroom = Newsroom(h)
        await newsroom.editor(Role.EDITOR, "writer@xabar.test")
        async with over_http(h.app, port) as url:
            yield url, newsroom


async def test_a_journalist_formats_text_and_the_form_sends_html(
    served: tuple[str, Newsroom], browser: Browser
) -> None:
    url, _ = served
    page = await new_page(browser)
    refused = watch_csp(page)
    await open_signed_in(page, f"{url}/test-wysiwyg", "writer@xabar.test")
    editor = page.locator(".ql-editor")
    await editor.wait_for()
    assert await page.locator("textarea[name=body_html]").is_hidden()
    labels = await page.locator(".ql-toolbar button").evaluate_all(
        "bs => bs.map(b => b.getAttribute('aria-label'))"
    )
    assert "Жирный" in labels
    assert "Подзаголовок" in labels
    assert "Ссылка" in labels
    assert "Фото" in labels
    assert await axe_violations(page) == []

    await editor.click()
    await page.keyboard.press("Control+End")
    await page.keyboard.press("Enter")
    await type_formatted(
        page,
        heading="Главное",
        bold="важно",
        joiner=" и ",
        linked=("источник", "https://example.org/source"),
    )
    await screenshots(page, "newsroom-wysiwyg")
    assert refused == []

    await page.click("button:has-text('Сохранить')")
    sent = await page.locator("#out").inner_text()
    assert "<p>Старый текст</p>" in sent
    assert "<h2>Главное</h2>" in sent
    assert "<strong>важно</strong>" in sent
    assert '<a href="https://example.org/source"' in sent
    assert ">источник</a>" in sent
