"""A real polls process for the newsroom's poll pages, on the test's Redis and FerretDB, that
accepts the editors' tokens the publisher of the same test issues."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import TokenKeys
from tests.polls.conftest import ADDRESS_SALT, COOKIE_SECRET, polls_env
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from xabar.polls.config import PollsSettings


@contextmanager
def polls_process(
    infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys, tmp_path: Path
) -> Iterator[ServiceProcess]:
    settings = PollsSettings(
        redis_url=redis_url,
        mongodb_url=infra.mongo_url,
        mongodb_db=f"{mongo_db_name}_polls",
        token_public_key=token_keys.public,
        cookie_secret=COOKIE_SECRET,
        address_salt=ADDRESS_SALT,
        consumer_name="polls-0",
        claim_idle_ms=200,
    )
    proc = service_process("xabar.polls", polls_env(settings), tmp_path, "XABAR_POLLS_PORT")
    proc.start(timeout=60)
    try:
        yield proc
    finally:
        proc.terminate()
