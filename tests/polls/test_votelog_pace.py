"""How the vote-log writer paces itself (pure logic: ``Pacer`` on made-up looks at the stream)."""

from xabar.polls.counter import Backlog
from xabar.polls.votelog import Pace, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pacer(clock: Clock) -> Pacer:
    return Pacer(yield_above=2000, max_backlog=10_000, max_lag_ms=5_000, clock=clock)


def test_a_burst_makes_the_writer_step_aside_and_its_end_lets_it_write_at_once() -> None:
    clock = Clock()
    p = pacer(clock)
    assert p.decide(Backlog(added=0, length=0, span_ms=0)) is Pace.PACED  # first look
    clock.now += 0.5
    assert p.decide(Backlog(added=2000, length=2000, span_ms=500)) is Pace.YIELD  # 4000/s
    clock.now += 0.5
    assert p.decide(Backlog(added=4000, length=4000, span_ms=1000)) is Pace.YIELD
    clock.now += 0.5
    assert p.decide(Backlog(added=4000, length=4000, span_ms=1000)) is Pace.FREE  # it ended


def test_votes_slower_than_the_threshold_are_written_at_the_pace() -> None:
    clock = Clock()
    p = pacer(clock)
    p.decide(Backlog(added=10, length=0, span_ms=0))
    clock.now += 0.5
    assert p.decide(Backlog(added=500, length=490, span_ms=400)) is Pace.PACED  # 980/s


def test_the_wait_is_bounded_by_the_backlog_and_by_its_age() -> None:
    clock = Clock()
    p = pacer(clock)
    p.decide(Backlog(added=0, length=0, span_ms=0))
    clock.now += 0.5
    assert p.decide(Backlog(added=10_000, length=10_000, span_ms=2_000)) is Pace.PACED  # full
    clock.now += 0.5
    assert p.decide(Backlog(added=12_000, length=9_000, span_ms=5_000)) is Pace.PACED  # old


def test_a_stream_made_anew_or_a_server_without_the_count_is_paced() -> None:
    clock = Clock()
    p = pacer(clock)
    p.decide(Backlog(added=5000, length=10, span_ms=0))
    clock.now += 0.5
    assert p.decide(Backlog(added=3, length=3, span_ms=0)) is Pace.PACED  # Redis lost it
    clock.now += 0.5
    assert p.decide(Backlog(added=-1, length=3, span_ms=0)) is Pace.PACED


def test_a_threshold_of_zero_never_yields() -> None:
    clock = Clock()
    p = Pacer(yield_above=0, max_backlog=10_000, max_lag_ms=5_000, clock=clock)
    p.decide(Backlog(added=0, length=0, span_ms=0))
    clock.now += 0.1
    assert p.decide(Backlog(added=5000, length=5000, span_ms=100)) is Pace.PACED
