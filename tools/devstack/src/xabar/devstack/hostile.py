"""``python -m xabar.devstack hostile``: ingest's peak memory under hostile requests.

A real ingest process (with its own redis-server and FerretDB) gets, kind after kind, rounds of
20 concurrent hostile requests: decompression-bomb PNGs (128 KB, 39.7 megapixels), the largest
PNG that is decoded whole (9.9 megapixels), 40-megapixel JPEGs, the largest body allowed (five
photos at the photo size limit), JSON nested 1,000 levels, truncated multipart bodies, invalid
UTF-8 in form fields. Before each kind the process's peak resident memory is reset
(``/proc/PID/clear_refs``), and after it ``VmHWM`` is read: the figure is the peak of that kind.
Every answer must be a 4xx or a 2xx (a 5xx is counted as a failure), and the target is a peak of
at most 200 MB. Results: a table and ``.bench/hostile.json``.
"""

import asyncio
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
from xabar.devstack.stack import DEFAULT_PORTS, ServiceProc, load_secrets, say, service_env

from xabar.runtime.localinfra import free_port, local_infra

CONCURRENCY = 20
ROUNDS = 3
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
    name: str
    body: Callable[[], bytes]
    headers: dict[str, str]


def kinds(photo_limit: int) -> list[Kind]:
    bomb, largest_png, jpeg = _png(), _png((3650, 2720)), _big_jpeg()
    largest = [_filled_jpeg(photo_limit - 1024) for _ in range(5)]
    return [
        Kind("png bomb 39.7 MP", lambda: _multipart(TIP, [bomb]), MULTIPART),
        Kind("png 9.9 MP (decoded whole)", lambda: _multipart(TIP, [largest_png]), MULTIPART),
        Kind("jpeg 40 MP", lambda: _multipart(TIP, [jpeg]), MULTIPART),
        Kind("largest body (5 x photo limit)", lambda: _multipart(TIP, largest), MULTIPART),
        Kind(
            "json nested 1000 levels",
            lambda: b'{"title":' + b"[" * 1000 + b"]" * 1000 + b"}",
            {"Content-Type": "application/json"},
        ),
        Kind(
            "truncated multipart",
            lambda: _multipart(TIP, [jpeg], close=False)[: len(jpeg) // 2],
            MULTIPART,
        ),
        Kind(
            "invalid utf-8 fields",
            lambda: _multipart({**TIP, "title": b"\xff\xfe\xc3(" * 50}, []),
            MULTIPART,
        ),
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


async def _round(url: str, kind: Kind, statuses: Counter[int]) -> None:
    async with httpx.AsyncClient(timeout=120) as client:

        async def one() -> None:
            try:
                response = await client.post(url, content=kind.body(), headers=kind.headers)
                statuses[response.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1  # the connection failed

        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))


async def measure(service: ServiceProc, photo_limit: int) -> list[dict[str, Any]]:
    assert service.proc is not None
    pid = service.proc.pid
    url = f"{service.url}/api/v1/submissions"
    results = []
    for kind in kinds(photo_limit):
        await asyncio.sleep(1.0)
        reset = _reset_peak(pid)
        before = _peak_mb(pid)
        statuses: Counter[int] = Counter()
        started = time.monotonic()
        for _ in range(ROUNDS):
            await _round(url, kind, statuses)
        peak = _peak_mb(pid)
        failures = sum(n for code, n in statuses.items() if code >= 500 or code == 0)
        results.append(
            {
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
        say("hostile", f"{kind.name}: peak {peak:.0f} MB, answers {dict(statuses)}")
    return results


def main() -> int:
    state = Path(".bench/hostile-state").resolve()
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    secrets_ = load_secrets(state)
    port = free_port()
    with local_infra(state) as (redis, mongo):
        ports = {**DEFAULT_PORTS, "ingest": port}
        env = service_env("ingest", port, redis.url, mongo.url, secrets_, ports)
        env["XABAR_INGEST_SUBMIT_RATE_LIMIT"] = "100000000"
        service = ServiceProc("ingest", port, env, state / "ingest.log", echo=False)
        service.start()
        try:
            service.wait_ready()
            photo_limit = 10 * 1024 * 1024
            results = asyncio.run(measure(service, photo_limit))
        finally:
            service.stop()
    report = {"concurrency": CONCURRENCY, "rounds": ROUNDS, "target_mb": TARGET_MB}
    report["kinds"] = results  # type: ignore[assignment]
    out = Path(".bench/hostile.json")
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print()
    print(f"{'ingest, 20 concurrent':<34}{'peak MB':>9}{'before':>8}  answers")
    for r in results:
        verdict = "ok" if r["met"] else "MISSED"
        print(
            f"{r['kind']:<34}{r['peak_mb']:>9.0f}{r['rss_before_mb']:>8.0f}  "
            f"{r['statuses']}  {verdict}"
        )
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
