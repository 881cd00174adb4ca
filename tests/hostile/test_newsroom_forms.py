"""The newsroom's form posts (HTML pages, not in the API's OpenAPI document, so schemathesis does
not reach them): every POST page of every newsroom router, logged in as the chief with a valid
CSRF token, gets generated forms (the pages' own field names and others, any text, urlencoded
and multipart) on an article and a poll that exist. Every answer is a page of ours or a
redirect: never a 5xx, never Python's exception text. Bounded and deterministic."""

from typing import Any

import httpx
import hypothesis
import hypothesis.strategies as st
import pytest

from tests.hostile.conftest import Hostile
from tests.hostile.test_corpus import ours
from xabar.publisher.newsroom.pages import routers

pytestmark = pytest.mark.infra

EXAMPLES = 8  # of one page
FIELDS = [
    "title",
    "lead",
    "body_html",
    "publish_at",
    "version",
    "country",
    "countries",
    "tags",
    "email",
    "name",
    "role",
    "password",
    "password_again",
    "question",
    "options",
    "opens_at",
    "closes_at",
    "text",
    "reason",
    "status",
    "alt",
    "credit",
    "caption",
    "media_id",
    "slug",
    "front_page",
    "article_ids",
    "results_visibility",
    "multiple",
    "hours",
    "ids",
    "next",
]
# the chief's own session and password stay: these pages end or change them
LEFT_OUT = {"/login", "/logout", "/account/password", "/password/{token}"}
PATHS = {"version": ["1", "²", "99999999999999999999"], "action": ["schedule", "publish", "x"]}


def _posts() -> list[str]:
    return sorted(
        op.path
        for router in routers()
        for op in router.operations
        if op.method == "POST" and op.path not in LEFT_OUT
    )


text = st.text(max_size=40) | st.sampled_from(["9999-12-31T23:59:59-14:00", "²", "-1", ""])
forms = st.lists(
    st.tuples(st.sampled_from(FIELDS) | st.text(min_size=1, max_size=10), text), max_size=8
)


def _path(template: str, known: dict[str, str], draw: Any) -> str:
    out = template
    for name in (
        "article_id",
        "poll_id",
        "version",
        "action",
        "submission_id",
        "comment_id",
        "letter_id",
        "editor_id",
        "media_id",
        "client_hash",
    ):
        if "{" + name + "}" in out:
            choices = [known[name]] if name in known else []
            value = draw(st.sampled_from([*choices, *PATHS.get(name, []), "nope"]))
            out = out.replace("{" + name + "}", value)
    return out


@pytest.mark.parametrize("template", _posts())
def test_generated_newsroom_forms_never_get_a_5xx(hostile: Hostile, template: str) -> None:
    made = httpx.post(
        f"{hostile.url('publisher')}/api/v1/articles",
        json={"title": "Форма", "lead": "Лид", "body_html": "<p>Текст</p>"},
        headers=hostile.auth,
    )
    assert made.status_code == 201, made.text
    polls = httpx.get(f"{hostile.url('polls')}/api/v1/polls", headers=hostile.auth).json()
    known = {"article_id": made.json()["article_id"]}
    if polls["items"]:
        known["poll_id"] = polls["items"][0]["poll_id"]
    with hostile.newsroom() as (client, csrf):

        @hypothesis.settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(data=st.data(), fields=forms, multipart=st.booleans())
        def post(data: st.DataObject, fields: list[tuple[str, str]], multipart: bool) -> None:
            path = _path(template, known, data.draw)
            form: dict[str, list[str]] = {}
            for name, value in fields:
                form.setdefault(name, []).append(value)
            form["csrf"] = [csrf]
            if multipart:
                files = {"file": ("p.jpg", b"\xff\xd8\xff\xe0 not quite a jpeg", "image/jpeg")}
                answer = client.post(path, data=form, files=files)
            else:
                answer = client.post(path, data=form)
            ours(answer, *range(200, 500))

        post()
