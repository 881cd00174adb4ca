"""The fast lane of votes is the route: every body reaches the route's endpoint with its bytes
intact, and its answers have the route's statuses, body schema, headers, cookie and metrics."""

import json
from datetime import datetime

from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.types import Message

from tests.polls.conftest import client_for, poll_on
from xabar.polls.routes import HOT_PATH
from xabar.polls.schemas import VoteReceipt
from xabar.polls.service import VoteResult

JSON = {"Content-Type": "application/json"}
JSON_TYPE = b"application/json"
ROUTE = HOT_PATH.path


def counted(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "xabar_http_requests_total", {"method": "POST", "route": ROUTE, "status": status}
    )
    return value or 0.0


async def test_votes_the_lane_takes_and_bodies_it_passes_on(
    app: Starlette, auth: dict[str, str]
) -> None:
    pid = await poll_on(app, auth, options=["Да", "Нет", "Не знаю"])
    url = f"/api/v1/polls/{pid}/votes"
    before = counted("201"), counted("409"), counted("422")

    async with client_for(app) as reader:
        r = await reader.post(url, content=b'{"options": ["o2"]}', headers=JSON)
        assert r.status_code == 201, r.text
        receipt = VoteReceipt.model_validate(r.json())  # the documented schema
        assert receipt.options == ["o2"] and receipt.counted and receipt.flagged == []
        assert receipt.results is not None and receipt.results.total_votes == 1
        assert [(o.option_id, o.text, o.votes, o.percent) for o in receipt.results.options] == [
            ("o1", "Да", 0, 0),
            ("o2", "Нет", 1, 100),
            ("o3", "Не знаю", 0, 0),
        ]
        assert "Нет" in r.content.decode()  # UTF-8, not \\u escapes, as the route answers
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        assert int(r.headers["content-length"]) == len(r.content)
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("xabar_voter=") and "HttpOnly" in cookie
        assert "Path=/" in cookie and "SameSite=lax" in cookie
        # the cookie is sent back: the same voter, refused by the counter, no new cookie
        again = await reader.post(url, json={"options": ["o1"]})
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_voted"
        assert "set-cookie" not in again.headers

    refused = [
        (b'{"options": ["o1"], "extra": 1}', 422, "validation_failed"),
        (b'{"options": []}', 422, "validation_failed"),
        (b'{"options": [1]}', 422, "validation_failed"),
        (b'{"options": "o1"}', 422, "validation_failed"),
        (b'["o1"]', 422, "validation_failed"),
        (b'{"options": ["o1"', 400, "malformed_json"),
        (b'{"options": ["' + b"x" * 20_000 + b'"]}', 413, "payload_too_large"),
    ]
    for body, status, error in refused:
        async with client_for(app) as reader:
            r = await reader.post(url, content=body, headers=JSON)
            assert (r.status_code, r.json()["error"]["code"]) == (status, error), body[:40]
            assert r.headers["set-cookie"].startswith("xabar_voter=")  # as the route does

    # a chunked body (no Content-Length) whose last chunk carries it past the limit, as a real
    # server hands it over (httpx's test transport always ends with an empty chunk)
    chunks = [
        {"type": "http.request", "body": b'{"options": ["o1"]', "more_body": True},
        {"type": "http.request", "body": b" " * 20_000 + b"}", "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"polls.test"), (b"content-type", JSON_TYPE)],
        "client": ("203.0.113.9", 40000),
        "server": ("polls.test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["error"]["code"] == (
        "payload_too_large"
    )

    async with client_for(app) as reader:  # an unknown poll, a bad id: the route's 404
        for bad in ("nothere1", "not%20an%20id"):
            r = await reader.post(f"/api/v1/polls/{bad}/votes", json={"options": ["o1"]})
            assert (r.status_code, r.json()["error"]["code"]) == (404, "poll_not_found")
        r = await reader.post(url, content=json.dumps({"options": ["o1"]}), headers={})
        assert r.status_code == 415

    after = counted("201"), counted("409"), counted("422")
    assert after[0] - before[0] == 1 and after[1] - before[1] == 1
    assert after[2] - before[2] == 5  # the refusals the route answered, counted by its metrics


def test_the_lane_renders_the_receipt_byte_for_byte_as_the_route_does() -> None:
    from datetime import UTC, datetime

    from tests.support.polls import open_poll
    from xabar.polls.counter import Counts
    from xabar.polls.views import Receipts

    now = datetime.now(UTC)
    texts = ["«Да», конечно", 'Нет "вообще"', "C:\\path\\ and \u2028 and 😀", "</script>"]
    receipts = Receipts()
    for visibility in ("always", "after_vote", "after_close"):
        poll = open_poll(
            "p-1",
            texts,
            now,
            multiple=True,
            results_visibility=visibility,  # type: ignore[arg-type]
            version=2,
        )
        for votes, chosen, flags in [
            ((0, 0, 0, 0), ("o1",), ()),
            ((1, 2, 0, 4), ("o2", "o4"), ("address",)),
            ((333, 333, 334, 0), ("o3",), ("address", "subnet")),
        ]:
            counts = Counts({f"o{i + 1}": v for i, v in enumerate(votes)}, sum(votes), 9)
            result = VoteResult(poll, counts, chosen, flags)
            route = json.dumps(
                receipt_of(result, now), ensure_ascii=False, separators=(",", ":")
            ).encode()  # the documented schema, dumped as json_response dumps plain data
            assert receipts.render(result, now) == route


def receipt_of(result: VoteResult, now: datetime) -> dict[str, object]:
    """The receipt as the ``VoteReceipt`` schema says it, from the service's own results."""
    from xabar.polls.service import PollService

    results = None
    if result.poll.results_visible(now, voted=True):
        rows, total = PollService.results(result.poll, result.counts)
        results = {
            "total_votes": total,
            "options": [
                {"option_id": o, "text": t, "votes": v, "percent": p} for o, t, v, p in rows
            ],
        }
    receipt = VoteReceipt(
        poll_id=result.poll.poll_id,
        options=list(result.options),
        flagged=list(result.flags),
        results=results,  # type: ignore[arg-type]
    )
    return receipt.model_dump(mode="json")
