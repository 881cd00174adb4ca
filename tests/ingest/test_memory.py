"""Bounded memory, pure logic: the header probe decides how a photo is decoded (a large JPEG at a
fraction of its size, a large PNG refused) before anything is decoded, and the memory gate lets
work in only while what it takes together fits, first come first served. (The peak resident
memory of a real ingest process under hostile requests is measured by
``python -m xabar.devstack hostile``.)"""

import asyncio
import io
import threading

import pytest
from PIL import Image

from xabar.ingest.errors import LimitExceeded, Overloaded
from xabar.ingest.gates import MemoryGate
from xabar.ingest.photos import clean_photo, probe_photo

MB = 1024 * 1024


def _image(fmt: str, size: tuple[int, int], mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 30) if mode == "RGB" else 7).save(out, fmt, **save)
    return out.getvalue()


def test_a_large_jpeg_is_decoded_at_a_fraction_of_its_size_within_the_budget() -> None:
    raw = _image("JPEG", (7300, 5440))  # 39.7 megapixels: 159 MB once decoded at full size
    probe = probe_photo(raw, index=0, max_pixels=40_000_000, max_decode_bytes=64 * MB)
    assert probe.scale == 2 and probe.cost <= 64 * MB
    photo = clean_photo(raw, index=0, max_pixels=40_000_000, probe=probe)
    assert (photo.width, photo.height) == (3650, 2720)
    small = _image("JPEG", (1600, 1200))
    assert probe_photo(small, index=0, max_pixels=40_000_000, max_decode_bytes=64 * MB).scale == 1


def test_a_png_too_large_to_decode_is_refused_from_its_header() -> None:
    raw = _image("PNG", (7300, 5440))  # 128 KB on the wire
    assert len(raw) < 200_000
    with pytest.raises(LimitExceeded) as caught:
        probe_photo(raw, index=1, max_pixels=40_000_000, max_decode_bytes=64 * MB)
    assert caught.value.code == "photo_too_large_to_decode"
    assert "photo 2" in caught.value.message and "megapixels" in caught.value.message
    grey = _image("PNG", (7300, 5440), mode="L")  # one byte a pixel: it fits
    assert probe_photo(grey, index=0, max_pixels=40_000_000, max_decode_bytes=64 * MB).cost < (
        64 * MB
    )


def test_turning_a_photo_upright_is_counted_as_a_copy() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = _image("JPEG", (2000, 1500))
    turned = _image("JPEG", (2000, 1500), exif=exif.tobytes())
    limits = {"index": 0, "max_pixels": 40_000_000, "max_decode_bytes": 64 * MB}
    plain, rotated = probe_photo(upright, **limits), probe_photo(turned, **limits)
    assert not plain.turn and rotated.turn
    assert rotated.cost > plain.cost * 1.5
    assert clean_photo(turned, index=0, max_pixels=40_000_000, probe=rotated).width == 1500


async def test_the_gate_holds_what_fits_first_come_first_served() -> None:
    gate = MemoryGate(100, slots=10, wait_s=5)
    order: list[str] = []
    big_may_go = asyncio.Event()

    async def hold(name: str, cost: int, until: asyncio.Event | None = None) -> None:
        async with gate.hold(cost):
            order.append(name)
            assert gate.used <= gate.budget
            if until is not None:
                await until.wait()

    first = asyncio.create_task(hold("first 60", 60, big_may_go))
    await asyncio.sleep(0)
    big = asyncio.create_task(hold("big 80", 80))
    small = asyncio.create_task(hold("small 10", 10))  # would fit now, but waits its turn
    await asyncio.sleep(0.05)
    assert order == ["first 60"] and gate.used == 60
    big_may_go.set()
    await asyncio.gather(first, big, small)
    assert order == ["first 60", "big 80", "small 10"]
    assert (gate.used, gate.running) == (0, 0)
    async with gate.hold(1_000):  # over the whole budget: it waits until it runs alone
        assert gate.used == 100


async def test_a_wait_past_its_bound_is_overloaded_and_gives_its_place_back() -> None:
    gate = MemoryGate(10, slots=1, wait_s=0.1, what="photos")
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(10):
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    with pytest.raises(Overloaded, match="too many photos"):
        async with gate.hold(1):
            pass
    waiting = asyncio.create_task(gate.hold(1).__aenter__())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await task
    assert (gate.used, gate.running) == (0, 0)
    async with gate.hold(10):
        assert gate.running == 1


async def test_a_cancelled_caller_keeps_its_cost_until_its_thread_ends() -> None:
    gate = MemoryGate(10, slots=2, wait_s=5)
    started, finish = threading.Event(), threading.Event()

    def work() -> int:
        started.set()
        finish.wait(5)
        return 1

    task = asyncio.create_task(gate.run(8, work))
    while not started.is_set():
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.05)
    assert gate.used == 8  # the thread still holds its memory
    finish.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.used == 0
    assert await gate.run(5, lambda: 42) == 42
    gate.close()


async def test_the_form_reader_lets_go_of_a_body_as_soon_as_it_is_read() -> None:
    """The multipart parser's callbacks are its reader's methods (a reference cycle): the body
    must not wait for Python's cycle collector to leave memory (measured: 60 MB a request kept
    by a burst of photo uploads)."""
    import gc
    import weakref

    from starlette.requests import Request

    from xabar.runtime import bodies

    body = (
        b'--bnd\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + b"x" * 100_000 + b"\r\n--bnd--\r\n"
    )
    readers: list[weakref.ref[bodies.MultipartReader]] = []
    original = bodies.MultipartReader.for_content_type.__func__  # type: ignore[attr-defined]

    def spy(cls: type[bodies.MultipartReader], *args: object) -> bodies.MultipartReader:
        reader = original(cls, *args)
        readers.append(weakref.ref(reader))
        return reader  # type: ignore[no-any-return]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", b"multipart/form-data; boundary=bnd")],
    }
    gc.disable()
    try:
        bodies.MultipartReader.for_content_type = classmethod(spy)  # type: ignore[method-assign,assignment]
        try:
            form = await bodies.read_form(Request(scope, receive), bodies.Limits(max_files=1))
        finally:
            bodies.MultipartReader.for_content_type = classmethod(original)  # type: ignore[method-assign,assignment]
        assert form.files[0].size == 100_000
        assert [r() for r in readers] == [None]  # freed without the cycle collector
    finally:
        gc.enable()
