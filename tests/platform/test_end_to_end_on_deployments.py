"""From a reader's tip to the readers' site with all four services on a Redis Cluster and under
Sentinel (the cluster tier): the tip posted to ingest (with a photo), accepted into a draft and
published through the publisher's API, is on the feed's front page and on its article page.

The services run as real processes (``xabar.devstack``'s ``running_stack``) on the session's
deployment (``tests.support.ha``), each waiting for one replica to confirm a durable write
(``REDIS_MIN_REPLICAS=1``), as the ``ha`` and ``cluster`` profiles run them.
"""

import html
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from xabar.devstack.clients import CHIEF_EMAIL, ensure_chief
from xabar.devstack.stack import Stack, running_stack

from tests.support.ha import ON_DEPLOYMENTS
from tests.support.waiting import until
from xabar.runtime.localinfra import LocalRedisCluster, LocalSentinel

pytestmark = ON_DEPLOYMENTS

SERVICES = ("feed", "ingest", "publisher", "polls")
TITLE = "В Худжанде третий день нет света на улице Ленина"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(params=["cluster", "sentinel"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    deployment: LocalRedisCluster | LocalSentinel = request.getfixturevalue(
        f"redis_{request.param}"
    )
    request.getfixturevalue(f"{request.param}_url")  # healthy and empty
    replicated = {s: {f"XABAR_{s.upper()}_REDIS_MIN_REPLICAS": "1"} for s in SERVICES}
    with running_stack(tmp_path, echo=False, extra_env=replicated, redis=deployment) as running:
        ensure_chief(running)
        yield running


def test_a_tip_accepted_and_published_is_on_the_front_page_and_its_article_page(
    stack: Stack,
) -> None:
    ingest, feed = stack.services["ingest"].url, stack.services["feed"].url
    sent = httpx.post(
        f"{ingest}/api/v1/submissions",
        data={"title": TITLE, "text": "Жители жалуются третий день.", "country": "TJ"}
        | {"anonymous": "on", "consent": "on"},
        files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))],
        headers={"Idempotency-Key": "e2e-on-a-deployment"},
        timeout=30,
    )
    assert sent.status_code == 202, sent.text
    sid = sent.json()["submission_id"]
    login = httpx.post(
        f"{stack.services['publisher'].url}/api/v1/auth/login",
        json={"email": CHIEF_EMAIL, "password": stack.secrets["chief_password"]},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with httpx.Client(base_url=stack.services["publisher"].url, headers=auth, timeout=30) as pub:
        until("the tip in the inbox", lambda: pub.get(f"/api/v1/inbox/{sid}").is_success or None)
        accepted = pub.post(f"/api/v1/inbox/{sid}/accept")
        assert accepted.status_code == 201, accepted.text
        draft = accepted.json()["article"]
        assert draft["title"] == TITLE
        published = pub.post(
            f"/api/v1/articles/{draft['article_id']}/publish",
            headers={"If-Match": accepted.headers["ETag"]},
        )
        assert published.status_code == 200, published.text
        path = published.json()["url"].removeprefix(feed)
    escaped = html.escape(TITLE, quote=False)

    def on_front_page() -> str | None:
        page = httpx.get(f"{feed}/", timeout=10)
        return page.text if page.status_code == 200 and escaped in page.text else None

    front = until("the article on the front page", on_front_page)
    assert path in front  # linked to its page
    article = httpx.get(f"{feed}{path}", timeout=10)
    assert article.status_code == 200, article.text
    assert escaped in article.text and "Жители жалуются третий день." in article.text
    listed = httpx.get(f"{feed}/api/v1/articles", params={"page": 1}, timeout=10).json()
    assert [i["title"] for i in listed["items"]] == [TITLE]
