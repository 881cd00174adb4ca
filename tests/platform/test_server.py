"""The runtime's server, for real: a service process built from the runtime alone
(``tests.support.tiny_service``) behind ``serve()``'s uvicorn, spoken to over raw sockets.

Header limits answer 431 before the app runs, with memory bounded; bodies are refused as they
stream; metrics are served only on the operators' listener.
"""

import asyncio
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import ServiceProcess, service_process
from xabar.runtime.protocol import HeaderLimits

LIMITS = HeaderLimits()
BOUNDARY = "xyz"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {"XABAR_TINY_LOG_JSON": "false"}
    tmp: Path = tmp_path_factory.mktemp("tiny")
    proc = service_process("tests.support.tiny_service", env, tmp, "XABAR_TINY_PORT").start()
    yield proc
    proc.terminate()
    log = proc.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]


async def exchange(
    proc: ServiceProcess, head: bytes, body_chunks: Iterable[bytes] = (), pause: float = 0
) -> tuple[int, dict[str, str], bytes, int]:
    """Send ``head`` then the chunks until the server answers or closes; the status, headers
    and body of its answer, and how many body bytes were sent before it came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proc.port)
    sent = 0
    try:
        writer.write(head)
        await writer.drain()
        answer = asyncio.ensure_future(reader.read(1 << 20))
        for chunk in body_chunks:
            if answer.done():
                break
            try:
                writer.write(chunk)
                await writer.drain()
            except (ConnectionError, BrokenPipeError):
                break
            sent += len(chunk)
            await asyncio.sleep(pause)
        raw = await asyncio.wait_for(answer, 10)
        while b"\r\n\r\n" not in raw or _short(raw):
            more = await asyncio.wait_for(reader.read(1 << 20), 10)
            if not more:
                break
            raw += more
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    head_part, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in head_part.split(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body, sent


def _short(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) < int(line.split(b":")[1])
    return False


def request_head(path: str, headers: list[tuple[str, str]], method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def rss_kib(proc: ServiceProcess) -> int:
    assert proc.proc is not None
    for line in Path(f"/proc/{proc.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- header limits --------------------------------------------------------------------------------


async def test_requests_within_the_header_limits_are_served(tiny: ServiceProcess) -> None:
    headers = [(f"X-Fill-{i}", "v" * 500) for i in range(90)]  # 90 headers, about 46 KB
    status, _, body, _ = await exchange(tiny, request_head("/healthz", headers))
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


@pytest.mark.parametrize(
    ("path", "headers", "message"),
    [
        ("/json", [("X-Long", "v" * LIMITS.line_bytes)], "a request header line is over 8192"),
        ("/json", [(f"X-H{i}", "v") for i in range(LIMITS.count + 1)], "at most 100 headers"),
        ("/json", [(f"X-H{i}", "v" * 7000) for i in range(10)], "the request headers are over"),
        ("/" + "a" * 70_000, [], "the request headers are over 65536 bytes"),
    ],
)
async def test_headers_past_the_limits_are_431_before_the_app_runs(
    tiny: ServiceProcess, path: str, headers: list[tuple[str, str]], message: str
) -> None:
    status, got, body, _ = await exchange(tiny, request_head(path, headers, "POST"))
    assert status == 431
    assert got["connection"] == "close"
    error = json.loads(body)["error"]
    assert error["code"] == "headers_too_large"
    assert message in error["message"]


async def test_a_64_mb_header_is_refused_with_bounded_memory(tiny: ServiceProcess) -> None:
    before = rss_kib(tiny)
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: "
    chunks = (b"v" * 65536 for _ in range(1024))  # 64 MB, never ending the line
    # a millisecond between 64 KB pieces lets a loaded 2-core box schedule the server: without it
    # the client fills loopback's socket buffers (megabytes) before the answer is read
    status, _, body, sent = await exchange(tiny, head, chunks, pause=0.001)
    assert status == 431
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert sent < 4 * 1024 * 1024, "answered long before the 64 MB were sent"
    assert rss_kib(tiny) - before < 16 * 1024
    async with httpx.AsyncClient(base_url=tiny.url) as client:  # and the server goes on
        assert (await client.get("/healthz")).status_code == 200


async def test_100_000_headers_are_refused(tiny: ServiceProcess) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    chunks = (b"".join(b"X-%d: v\r\n" % (i * 1000 + j) for j in range(1000)) for i in range(100))
    status, _, _, sent = await exchange(tiny, head, chunks)
    assert status == 431
    assert sent < 1_000_000


# --- bodies as they stream ------------------------------------------------------------------------


async def test_a_body_over_its_limit_is_refused_as_it_streams(tiny: ServiceProcess) -> None:
    head = request_head(
        "/json", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], "POST"
    )
    piece = b"[" + b"1," * 2000  # 4 KB of an array that never ends
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    status, _, body, sent = await exchange(tiny, head, iter([chunk] * 400), pause=0.002)
    assert status == 413
    assert json.loads(body)["error"] == {
        "code": "payload_too_large",
        "message": "the body is over 65536 bytes",
    }
    assert sent < 400 * len(chunk), "answered before the whole body was sent"


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    tiny: ServiceProcess,
) -> None:
    head = request_head(
        "/json", [("Content-Type", "application/json"), ("Content-Length", "100000000")], "POST"
    )
    status, _, _, sent = await exchange(tiny, head)
    assert (status, sent) == (413, 0)


async def test_a_truncated_multipart_body_is_400_not_a_form_without_its_last_part(
    tiny: ServiceProcess,
) -> None:
    parts = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nПожар\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + b"\x89PNG" * 1000
    async with httpx.AsyncClient(base_url=tiny.url) as client:
        ctype = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
        whole = parts + f"\r\n--{BOUNDARY}--\r\n".encode()
        resp = await client.post("/form", content=whole, headers=ctype)
        assert resp.json() == {"fields": [["title", "Пожар"]], "files": [["photos", "a.png", 4000]]}
        resp = await client.post("/form", content=parts, headers=ctype)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "malformed_form"


async def test_deep_json_and_bad_parameters_are_4xx_over_the_wire(tiny: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=tiny.url) as client:
        resp = await client.post(
            "/json", content=b"[" * 1000 + b"]" * 1000, headers={"content-type": "application/json"}
        )
        assert (resp.status_code, resp.json()["error"]["code"]) == (400, "too_deep")
        resp = await client.get("/items", params={"page": "²"})
        assert resp.status_code == 422
        resp = await client.get("/items", params={"from": "9999-12-31T23:59:59-14:00"})
        assert resp.status_code == 422
        page = await client.get("/page")
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["x-content-type-options"] == "nosniff"


# --- operators' metrics ---------------------------------------------------------------------------


async def test_metrics_are_served_only_on_the_operators_listener(tiny: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=tiny.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        public = await client.get("/metrics")
        assert public.status_code == 404
        assert "python_info" not in public.text
        ready = await client.get("/readyz")
        assert ready.json() == {"status": "ok"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tiny.metrics_port}") as ops:
        metrics = await ops.get("/metrics")
        assert metrics.status_code == 200
        assert (
            'xabar_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics.text
        )
        assert "python_info" in metrics.text
