"""``python -m xabar.ingest``: run the ingest service with settings from the environment."""

import ctypes
import ctypes.util
import logging

from xabar.ingest.app import create_app
from xabar.ingest.config import IngestSettings
from xabar.runtime.app import serve
from xabar.runtime.logs import configure_logging

log = logging.getLogger("xabar.ingest")

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3


def give_memory_back(mmap_threshold: int = 256 * 1024, arenas: int = 2) -> bool:
    """Ask glibc's malloc to hand large blocks straight back to the system when they are freed.

    Ingest holds photos and bodies of several MB for a moment. By default glibc raises its mmap
    threshold after the first such block is freed (up to 32 MB), so later ones come from heaps
    that seldom shrink, and each worker thread gets a heap (arena) of its own: measured, the
    process stayed 140 MB above its start after a burst of photos. A fixed threshold and two
    arenas keep the resident memory near what is in use. Not glibc (musl, macOS): nothing to do.
    Call it before any thread starts."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_ARENA_MAX, arenas))


def main() -> None:
    given_back = give_memory_back()
    settings = IngestSettings()  # required values come from the env
    configure_logging("ingest", settings.log_level, json=settings.log_json)
    if not given_back:
        log.info("malloc tuning not available on this system")
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
