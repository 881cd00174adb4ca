"""``python -m xabar.devstack hostile``: each service's peak memory under hostile requests.

The four services run as real processes (``running_stack``, with their own redis-server and
FerretDB). Each gets, kind after kind, rounds of 20 concurrent hostile requests. Every service:
a 64 MB header and 100,000 headers (431), JSON nested 1,000 levels (400). Ingest: decompression-
bomb PNGs (128 KB, 39.7 megapixels), the largest PNG that is decoded whole (9.9 megapixels),
40-megapixel JPEGs, the largest body allowed (five photos at the photo size limit), truncated
multipart bodies, invalid UTF-8 in form fields. The publisher: failed logins (argon2 takes
64 MiB each: the hashing is bounded), truncated media uploads. The polls: votes of 100,000 form
fields. The feed: page numbers past the end, huge sitemap numbers. Before each kind the
process's peak resident memory is reset (``/proc/PID/clear_refs``), and after it ``VmHWM`` is
read: the figure is the peak of that kind. Every answer must be a 4xx or a 2xx (a 5xx or a
dropped connection is counted as a failure), and the target is a peak of at most 200 MB.
Results: a table and ``.bench/hostile.json``. ``--rounds`` makes a brief run.
"""

import asyncio
import contextlib
import io
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from xabar.devstack.clients import CHIEF_EMAIL, ensure_chief
from xabar.devstack.stack import ServiceProc, Stack, running_stack, say

CONCURRENCY = 20
ROUNDS = 3
NESTED = b'{"title":' + b"[" * 1000 + b"]" * 1000 + b"}"
JSON = {"Content-Type": "application/json"}
TARGET_MB = 200
BOUNDARY = "hostileboundary"


def _png(side: tuple[int, int] = (7300, 5440)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", side, (10, 200, 30)).save(out, "PNG")  # 39.7 MP in ~128 KB by default
    return out.getvalue()


def _big_jpeg(side: tuple[int, int] = (7300, 5440)) -> bytes:
    """A 40-megapixel JPEG: a gradient with some noise, a few MB."""
    img = Image.linear_gradient("L").resize(side).convert("RGB")
    noise = Image.effect_noise((side[0] // 8, side[1] // 8), 40).resize(side).convert("RGB")
    out = io.BytesIO()
    Image.blend(img, noise, 0.3).save(out, "JPEG", quality=85)
    return out.getvalue()


def _filled_jpeg(size: int) -> bytes:
    """A small valid JPEG padded (after its end marker) to ``size`` bytes."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(out, "JPEG")
    data = out.getvalue()
    return data + random.randbytes(max(0, size - len(data)))


def _multipart(fields: dict[str, bytes], photos: list[bytes], *, close: bool = True) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
        )
    for n, photo in enumerate(photos):
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; '
            f'filename="p{n}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + photo
            + b"\r\n"
        )
    body = b"".join(parts)
    return body + f"--{BOUNDARY}--\r\n".encode() if close else body


TIP = {
    "title": "Сообщение".encode(),
    "text": "Текст сообщения читателя.".encode(),
    "country": b"KZ",
    "consent": b"on",
    "anonymous": b"on",
}
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@dataclass(frozen=True)
class Kind:
    service: str
    name: str
    path: str
    body: Callable[[], bytes]
    headers: dict[str, str]
    raw: bool = False  # ``body`` is the whole request, sent over a socket of its own
    method: str = "POST"


def _big_header() -> bytes:
    return b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024 * 1024) + b"\r\n\r\n"


def _many_headers() -> bytes:
    lines = b"".join(b"X-%d: a\r\n" % i for i in range(100_000))
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"


def everywhere(service: str, json_path: str) -> list[Kind]:
    """What every service gets: headers past the limits, and deeply nested JSON."""
    return [
        Kind(service, "a 64 MB header", "/", _big_header, {}, raw=True),
        Kind(service, "100,000 headers", "/", _many_headers, {}, raw=True),
        Kind(service, "json nested 1000 levels", json_path, lambda: NESTED, JSON),
    ]


def ingest_kinds(photo_limit: int) -> list[Kind]:
    bomb, largest_png, jpeg = _png(), _png((3650, 2720)), _big_jpeg()
    largest = [_filled_jpeg(photo_limit - 1024) for _ in range(5)]
    tips = "/api/v1/submissions"
    return [
        Kind("ingest", "png bomb 39.7 MP", tips, lambda: _multipart(TIP, [bomb]), MULTIPART),
        Kind(
            "ingest",
            "png 9.9 MP (decoded whole)",
            tips,
            lambda: _multipart(TIP, [largest_png]),
            MULTIPART,
        ),
        Kind("ingest", "jpeg 40 MP", tips, lambda: _multipart(TIP, [jpeg]), MULTIPART),
        Kind(
            "ingest",
            "largest body (5 x photo limit)",
            tips,
            lambda: _multipart(TIP, largest),
            MULTIPART,
        ),
        Kind(
            "ingest",
            "truncated multipart",
            tips,
            lambda: _multipart(TIP, [jpeg], close=False)[: len(jpeg) // 2],
            MULTIPART,
        ),
        Kind(
            "ingest",
            "invalid utf-8 fields",
            tips,
            lambda: _multipart({**TIP, "title": b"\xff\xfe\xc3(" * 50}, []),
            MULTIPART,
        ),
        *everywhere("ingest", tips),
    ]


def publisher_kinds(auth: dict[str, str]) -> list[Kind]:
    login = json.dumps({"email": CHIEF_EMAIL, "password": "not the password"}).encode()
    upload = _multipart({}, [_filled_jpeg(4 * 1024 * 1024)], close=False)
    upload = upload.replace(b'name="photos"', b'name="file"')
    return [
        Kind("publisher", "failed logins (argon2)", "/api/v1/auth/login", lambda: login, JSON),
        Kind(
            "publisher",
            "truncated media upload",
            "/api/v1/media",
            lambda: upload[: len(upload) - 100],
            MULTIPART | auth,
        ),
        *everywhere("publisher", "/api/v1/auth/login"),
    ]


def polls_kinds(poll_id: str, site: str) -> list[Kind]:
    votes = f"/api/v1/polls/{poll_id}/votes"
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": site}  # the site's
    return [
        Kind("polls", "vote of 100,000 form fields", votes, lambda: b"options=o1&" * 100_000, form),
        *everywhere("polls", votes),
    ]


def feed_kinds(auth: dict[str, str]) -> list[Kind]:
    return [
        Kind("feed", "page past the end", "/news?page=999999999", bytes, {}, method="GET"),
        Kind(
            "feed",
            "huge sitemap number",
            "/sitemaps/articles-1844674407370955.xml",
            bytes,
            {},
            method="GET",
        ),
        *everywhere("feed", "/api/v1/preview"),
        Kind("feed", "preview nested 1000 levels", "/api/v1/preview", lambda: NESTED, JSON | auth),
    ]


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _raw(port: int, request: bytes) -> int:
    """The status of the answer to ``request``, sent over a connection of its own and read as
    it is sent (a server that refuses the headers answers before it has read them all)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        with contextlib.suppress(OSError):  # refused before all was read
            writer.write(request)
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        line = await asyncio.wait_for(reader.readline(), 60)
        return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0
    except (OSError, TimeoutError):
        return 0
    finally:
        sending.cancel()
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()


async def _round(service: ServiceProc, kind: Kind, statuses: Counter[int]) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=120) as client:

        async def one() -> None:
            try:
                if kind.raw:
                    statuses[await _raw(service.port, kind.body())] += 1
                    return
                response = await client.request(
                    kind.method, kind.path, content=kind.body(), headers=kind.headers
                )
                statuses[response.status_code] += 1
            except (httpx.HTTPError, OSError, TimeoutError):
                statuses[0] += 1  # the connection failed

        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))


async def measure(service: ServiceProc, kinds: list[Kind], rounds: int) -> list[dict[str, Any]]:
    assert service.proc is not None
    pid = service.proc.pid
    results = []
    for kind in kinds:
        await asyncio.sleep(1.0)
        reset = _reset_peak(pid)
        before = _peak_mb(pid)
        statuses: Counter[int] = Counter()
        started = time.monotonic()
        for _ in range(rounds):
            await _round(service, kind, statuses)
        peak = _peak_mb(pid)
        failures = sum(n for code, n in statuses.items() if code >= 500 or code == 0)
        results.append(
            {
                "service": kind.service,
                "kind": kind.name,
                "requests": sum(statuses.values()),
                "statuses": dict(sorted(statuses.items())),
                "seconds": round(time.monotonic() - started, 1),
                "rss_before_mb": round(before, 1),
                "peak_mb": round(peak, 1),
                "peak_reset": reset,
                "failures": failures,
                "met": peak <= TARGET_MB and failures == 0,
            }
        )
        say("hostile", f"{kind.service}, {kind.name}: peak {peak:.0f} MB, answers {dict(statuses)}")
    return results


def _setup(stack: Stack) -> tuple[dict[str, str], str]:
    """The chief's bearer token, and a poll open for votes."""
    ensure_chief(stack)
    login = httpx.post(
        f"{stack.services['publisher'].url}/api/v1/auth/login",
        json={"email": CHIEF_EMAIL, "password": stack.secrets["chief_password"]},
        timeout=60,
    )
    login.raise_for_status()
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = httpx.post(
        f"{stack.services['polls'].url}/api/v1/polls",
        json={"question": "Враждебный опрос?", "options": ["Да", "Нет"]},
        headers=auth,
        timeout=60,
    )
    made.raise_for_status()
    return auth, str(made.json()["poll_id"])


ROOMY = {  # every hostile request reaches its handler: no rate limit answers it first
    "ingest": {"XABAR_INGEST_SUBMIT_RATE_LIMIT": "100000000"},
    "polls": {"XABAR_POLLS_VOTE_RATE_LIMIT": "100000000", "XABAR_POLLS_ADDRESS_LIMIT": "100000000"},
    "publisher": {
        "XABAR_PUBLISHER_LOGIN_RATE_LIMIT": "100000000",
        "XABAR_PUBLISHER_LOGIN_ADDRESS_RATE_LIMIT": "100000000",
        "XABAR_PUBLISHER_LOGIN_ACCOUNT_RATE_LIMIT": "100000000",
    },
}


def main(rounds: int = ROUNDS) -> int:
    state = Path(".bench/hostile-state").resolve()
    shutil.rmtree(state, ignore_errors=True)
    with running_stack(state, echo=False, extra_env=ROOMY) as stack:
        auth, poll_id = _setup(stack)
        photo_limit = 10 * 1024 * 1024
        plan = {
            "ingest": ingest_kinds(photo_limit),
            "publisher": publisher_kinds(auth),
            "polls": polls_kinds(poll_id, stack.services["feed"].url),
            "feed": feed_kinds(auth),
        }
        results = []
        for name, kinds in plan.items():
            results += asyncio.run(measure(stack.services[name], kinds, rounds))
    report: dict[str, Any] = {"concurrency": CONCURRENCY, "rounds": rounds, "target_mb": TARGET_MB}
    report["kinds"] = results
    out = Path(".bench/hostile.json")
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print()
    print(f"{'20 concurrent, ' + str(rounds) + ' rounds':<46}{'peak MB':>9}{'before':>8}  answers")
    for r in results:
        verdict = "ok" if r["met"] else "MISSED"
        print(
            f"{r['service'] + ': ' + r['kind']:<46}{r['peak_mb']:>9.0f}{r['rss_before_mb']:>8.0f}"
            f"  {r['statuses']}  {verdict}"
        )
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
