"""The runtime's Worker: one step at a time, pauses, wakes, backs off, stops by being asked."""

import asyncio
import itertools
import logging
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.waiting import eventually
from xabar.runtime.workers import Worker


async def test_steps_run_one_at_a_time_and_more_work_runs_at_once() -> None:
    running, overlapped, calls = 0, False, []

    async def step() -> bool:
        nonlocal running, overlapped
        running += 1
        overlapped |= running > 1
        calls.append(time.monotonic())
        await asyncio.sleep(0.01)
        running -= 1
        return len(calls) < 5  # four times "more to do", then idle

    worker = Worker("t", step, interval=60)
    worker.start()
    worker.start()  # a second start does not start a second loop
    await eventually(lambda: len(calls) == 5)
    await asyncio.sleep(0.1)
    assert len(calls) == 5, "idle after the last step, for the interval"
    assert not overlapped
    await worker.stop()
    assert not worker.running


async def test_wake_runs_the_next_step_before_the_interval() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    worker = Worker("t", step, interval=60)
    worker.start()
    await eventually(lambda: calls == 1)
    worker.wake()
    await eventually(lambda: calls == 2, timeout=1)
    worker.wake()  # woken while idle, twice: one more step each time
    await eventually(lambda: calls == 3, timeout=1)
    await worker.stop()


async def test_a_wake_during_a_step_is_not_lost() -> None:
    calls, gate = 0, asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()

    worker = Worker("t", step, interval=60)
    worker.start()
    await eventually(lambda: calls == 1)
    worker.wake()  # work queued while the step runs
    gate.set()
    await eventually(lambda: calls == 2, timeout=1)
    await worker.stop()


async def test_failures_back_off_and_a_store_that_does_not_answer_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    times: list[float] = []

    async def step() -> None:
        times.append(time.monotonic())
        if len(times) <= 4:
            raise RedisConnectionError("connection refused")

    worker = Worker("t", step, interval=60, min_backoff=0.02, max_backoff=0.08)
    with caplog.at_level(logging.INFO, logger="xabar.workers"):
        worker.start()
        await eventually(lambda: len(times) == 5)
        await worker.stop()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08 and gaps[3] >= 0.08
    assert gaps[3] < 0.5, "the pause stops growing at max_backoff"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert worker.failures == 0


async def test_a_bug_is_logged_with_its_traceback_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    worker = Worker("t", step, interval=60, min_backoff=0.01, max_backoff=0.01)
    with caplog.at_level(logging.ERROR, logger="xabar.workers"):
        worker.start()
        await eventually(lambda: calls >= 3)
        await worker.stop()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) >= 2 and all(r.exc_info for r in errors)


async def test_stop_lets_the_step_in_progress_finish() -> None:
    finished = False
    started = asyncio.Event()

    async def step() -> None:
        nonlocal finished
        started.set()
        await asyncio.sleep(0.1)  # a database call that must not be cut off
        finished = True

    worker = Worker("t", step, interval=60)
    worker.start()
    await started.wait()
    await worker.stop()
    assert finished


async def test_a_step_that_will_not_end_is_cancelled_past_the_grace() -> None:
    async def step() -> None:
        await asyncio.sleep(3600)

    worker = Worker("t", step, interval=60, grace_s=0.05)
    worker.start()
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await worker.stop()
    assert time.monotonic() - started < 2


async def test_a_long_step_sees_the_stop_through_pause() -> None:
    ticks = 0
    worker: Worker

    async def listen() -> None:
        nonlocal ticks
        while not await worker.pause(0.01):
            ticks += 1

    worker = Worker("listener", listen, interval=60)
    worker.start()
    await eventually(lambda: ticks >= 3)
    started = time.monotonic()
    await worker.stop()
    assert time.monotonic() - started < 1
