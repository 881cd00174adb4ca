"""The site as several worker processes on one port (``XABAR_FEED_WORKERS``, default: as many
as the machine has cores).

The supervisor (``python -m xabar.feed serve``) starts the workers (``serve --worker N``) and
does nothing else: each worker binds the port itself with ``SO_REUSEPORT``, so the kernel
spreads connections over them, and each has its own page cache, kept fresh by the shared
revision (``feed:rev``: pushed on pub/sub, polled as the fallback; ``xabar.feed.cache``). Only
worker 0 runs the projector (when ``XABAR_FEED_PROJECTOR`` is on), under the consumer name the
settings give; the others only read. A worker that exits is started again (after a pause that
grows to 5 s while it keeps failing); SIGTERM or SIGINT stops them all, each draining its
requests first. A supervisor that dies (kill -9) takes its workers with it at once (Linux's
parent-death signal), as one crashed process would: none is left serving on its own.
"""

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from xabar.feed.config import FeedSettings

log = logging.getLogger("xabar.feed.workers")

STOP_GRACE_S = 15.0


def trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``): what a large
    batch of events allocated and freed would otherwise stay in the process's resident memory.
    A no-op where the C library has no ``malloc_trim``."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


MAX_PAUSE_S = 5.0
PR_SET_PDEATHSIG = 1
METRICS_STEP = 100


def _die_with_parent() -> None:
    """In the worker, before it runs: SIGKILL when the supervisor dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def worker_count(settings: FeedSettings) -> int:
    return settings.workers or os.cpu_count() or 1


def listening_socket(settings: FeedSettings) -> socket.socket:
    """The site's port, bound with SO_REUSEPORT so that every worker can bind it too."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def worker_settings(settings: FeedSettings, index: int) -> FeedSettings:
    """Worker 0 runs the projector (if the settings say so); the others only serve. Worker N
    serves its metrics on the metrics port + 100 N (each process counts its own requests; the
    step keeps clear of the other services' listeners, on the ports next to the feed's)."""
    if index == 0:
        return settings
    update: dict[str, object] = {"projector": False}
    address = settings.metrics_address()
    if address is not None:
        update["metrics_port"] = address[1] + METRICS_STEP * index
    return settings.model_copy(update=update)


class Supervisor:
    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.failures: dict[int, int] = {}
        self.stopping = False

    def _start(self, index: int) -> None:
        self.procs[index] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "xabar.feed", "serve", "--worker", str(index)],
            preexec_fn=_die_with_parent,  # safe: the supervisor runs no threads
        )

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        log.info("starting the site's workers", extra={"workers": self.count})
        for index in range(self.count):
            self._start(index)
        restart_at: dict[int, float] = {}
        while not self.stopping:
            time.sleep(0.2)
            now = time.monotonic()
            for index, proc in list(self.procs.items()):
                if proc.poll() is None or self.stopping:
                    continue
                if index not in restart_at:
                    self.failures[index] = self.failures.get(index, 0) + 1
                    pause = min(MAX_PAUSE_S, 0.5 * 2 ** (self.failures[index] - 1))
                    log.warning(
                        "a worker exited; starting it again",
                        extra={"worker": index, "code": proc.returncode, "pause_s": pause},
                    )
                    restart_at[index] = now + pause
                elif now >= restart_at[index]:
                    del restart_at[index]
                    self._start(index)
        return self._stop_all()

    def _stop_all(self) -> int:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return 0
