"""Pure logic: sanitizing, Markdown, tips as paragraphs, slugs, revisions, image checks."""

from datetime import UTC, datetime

import pytest

from xabar.publisher.content import (
    allocate,
    base_slug,
    numbered_slug,
    render_markdown,
    sanitize_html,
    text_to_html,
)
from xabar.publisher.domain import (
    Article,
    EditorRef,
    check_transition,
    diff_states,
    revision,
    state_at,
)
from xabar.publisher.errors import InvalidTransition, NotAllowed
from xabar.publisher.schemas import ArticleIn, ArticlePatch
from xabar.runtime.auth import Principal, Role
from xabar.runtime.http import BadRequest, validate


def test_sanitizing_keeps_the_article_markup_and_drops_everything_active() -> None:
    dirty = (
        '<h2 style="color:red">Итоги</h2><p onclick="x()">Текст <a href="javascript:alert(1)">'
        'ссылка</a> <a href="https://mid.tj/">МИД</a></p><script>alert(1)</script>'
        '<img src="https://x.tj/a.jpg" alt="фото" onerror="x()"><iframe src="//evil"></iframe>'
    )
    assert sanitize_html(dirty) == (
        '<h2>Итоги</h2><p>Текст <a rel="noopener noreferrer nofollow">ссылка</a> '
        '<a href="https://mid.tj/" rel="noopener noreferrer nofollow">МИД</a></p>'
        '<img src="https://x.tj/a.jpg" alt="фото">'
    )


def test_markdown_is_rendered_without_raw_html() -> None:
    out = render_markdown("## Заголовок\n\n**Жирно** <b>сырой</b>\n\n- один\n- два")
    assert out == (
        "<h2>Заголовок</h2>\n<p><strong>Жирно</strong> &lt;b&gt;сырой&lt;/b&gt;</p>\n"
        "<ul>\n<li>один</li>\n<li>два</li>\n</ul>"
    )


def test_a_tips_text_becomes_escaped_paragraphs() -> None:
    text = "Первая строка\r\nвторая <строка>\n\n\nНовый абзац & конец  \n"
    assert text_to_html(text) == (
        "<p>Первая строка<br>вторая &lt;строка&gt;</p><p>Новый абзац &amp; конец</p>"
    )
    assert text_to_html("  \n\n ") == ""


def test_slugs_are_transliterated_and_numbered_within_the_length_limit() -> None:
    assert base_slug("Щука, ёж и «Юрта» — 2026!") == "shchuka-ezh-i-iurta-2026"
    assert base_slug("!!!") == "article"
    long = base_slug("Очень " * 40)
    assert len(long) <= 80
    assert len(numbered_slug(long, 12)) <= 80 and numbered_slug(long, 12).endswith("-12")
    claims: dict[str, str] = {"novost": "other", "novost-2": "other"}
    counters: dict[str, int] = {}
    assert allocate("novost", "me", claims, counters) == "novost-3"
    assert allocate("novost", "you", claims, counters) == "novost-4"
    assert counters == {"novost": 3}
    assert allocate("svobodno", "me", claims, counters) == "svobodno"


def article(**fields: object) -> Article:
    at = datetime(2026, 2, 17, tzinfo=UTC)
    base = Article(
        article_id="a1",
        slug="a1",
        created_at=at,
        updated_at=at,
        created_by=EditorRef(id="e", name="Р"),
    )
    return base.with_values(fields)


def test_any_version_is_rebuilt_from_the_revisions_and_diffed() -> None:
    who = Principal("e1", "Редактор", Role.EDITOR)
    at = datetime(2026, 2, 17, tzinfo=UTC)
    doc = article(title="Один")
    doc = doc.model_copy(
        update={"revisions": (revision(1, at, who, "create", {}, doc.values(["title", "status"])),)}
    )
    for version, changes in ((2, {"title": "Два"}), (3, {"lead": "Лид", "status": "in_review"})):
        rev = revision(version, at, who, "edit", doc.values(), changes)
        doc = doc.next_version(changes, rev)
        assert doc.version == version
    assert state_at(doc, 1)["title"] == "Один"
    assert state_at(doc, 2)["title"] == "Два" and state_at(doc, 2)["lead"] == ""
    assert state_at(doc, 3)["status"] == "in_review"
    diff = {d["field"]: d for d in diff_states(state_at(doc, 1), state_at(doc, 3))}
    assert set(diff) == {"title", "lead", "status"}
    assert diff["title"]["unified"].splitlines()[-2:] == ["-Один", "+Два"]


def test_transitions_check_role_then_ownership_then_status() -> None:
    draft = article(owner_id="c1")
    contributor = Principal("c1", "Автор", Role.CONTRIBUTOR)
    other = Principal("c2", "Другой", Role.CONTRIBUTOR)
    assert check_transition(contributor, draft, "submit").target == "in_review"
    with pytest.raises(NotAllowed):
        check_transition(other, draft, "submit")
    with pytest.raises(NotAllowed):
        check_transition(contributor, draft, "publish")
    with pytest.raises(InvalidTransition):
        check_transition(Principal("e", "Р", Role.EDITOR), draft, "unpublish")


def test_article_bodies_validate_countries_tags_urls_and_one_body() -> None:
    ok = validate(
        ArticleIn,
        {
            "title": " Заголовок ",
            "countries": ["kz", "KZ", "tj"],
            "tags": [" МИД ", "мид", "дипломатия"],
            "source_url": "https://mid.tj/x",
        },
    )
    assert (ok.title, ok.countries, ok.tags) == ("Заголовок", ["KZ", "TJ"], ["МИД", "дипломатия"])
    for bad in (
        {"title": "x", "countries": ["RU"]},
        {"title": "x", "source_url": "javascript:alert(1)"},
        {"title": "x", "body_html": "<p>a</p>", "body_markdown": "a"},
        {"title": "", "lead": "x"},
        {"title": "x", "image": {"credit": "Фото: кто-то"}},
        {"title": "x", "unknown": 1},
    ):
        with pytest.raises(BadRequest) as caught:
            validate(ArticleIn, bad)
        assert caught.value.status == 422
    with pytest.raises(BadRequest):
        validate(ArticlePatch, {})
    with pytest.raises(BadRequest):
        validate(ArticlePatch, {"title": None})
    assert validate(ArticlePatch, {"author": None}).model_fields_set == {"author"}
