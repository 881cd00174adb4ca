"""The services as real processes for the newsroom's browser tests: a publisher with editors made
by its CLI, a feed (the readers' site), an ingest (tips and comments) and a polls that accepts
the editors' tokens the publisher of the same test issues, all on the test's Redis
and FerretDB (the ``processes`` fixture of ``conftest.py``), and ``running`` to start them in
order and stop them in reverse."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import TokenKeys
from tests.polls.conftest import ADDRESS_SALT, COOKIE_SECRET, polls_env
from tests.publisher.conftest import NEWSROOM_PUBLIC_KEY, SettingsFactory, env_of
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from xabar.polls.config import PollsSettings

PASSWORD = "пароль-редакции-1"
CHIEF = "chief@xabar.test"
Account = tuple[str, str, str]  # e-mail, role, name
THE_CHIEF: Account = (CHIEF, "chief", "Гульнара Главная")


def create_editor(env: dict[str, str], email: str, role: str, name: str) -> None:
    """An account made by ``python -m xabar.publisher create-editor`` with ``env``'s settings."""
    command = [sys.executable, "-m", "xabar.publisher", "create-editor", "--email", email]
    subprocess.run(
        [*command, "--name", name, "--role", role],
        env={**os.environ, **env, "XABAR_PUBLISHER_NEW_EDITOR_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
        timeout=60,
    )


@dataclass
class Processes:
    """Not-yet-started processes on the test's Redis and FerretDB, each on a free port."""

    make_settings: SettingsFactory
    infra: Infra
    redis_url: str
    mongo_db_name: str
    token_keys: TokenKeys
    tmp_path: Path

    def publisher(
        self, *accounts: Account, settings: dict[str, Any] | None = None, **env: str
    ) -> ServiceProcess:
        """A publisher serving the newsroom at its own URL, with ``accounts`` (the chief's when
        none is named); ``settings``: of the test's publisher settings, ``env``: more of its
        environment (``XABAR_PUBLISHER_`` left out)."""
        proc = service_process(
            "xabar.publisher",
            env_of(self.make_settings(**(settings or {}))),
            self.tmp_path,
            "XABAR_PUBLISHER_PORT",
        )
        proc.env |= {"XABAR_PUBLISHER_PUBLIC_URL": proc.url}
        proc.env |= {f"XABAR_PUBLISHER_{k}": v for k, v in env.items()}
        for account in accounts or (THE_CHIEF,):
            create_editor(proc.env, *account)
        return proc

    def feed(self, consumer: str) -> ServiceProcess:
        """A feed of one worker process (what these tests look at is its pages), its site URL
        its own."""
        feed = service_process(
            "xabar.feed",
            {
                "XABAR_FEED_REDIS_URL": self.redis_url,
                "XABAR_FEED_TOKEN_PUBLIC_KEY": self.token_keys.public,
                "XABAR_FEED_CONSUMER_NAME": consumer,
                "XABAR_FEED_WORKERS": "1",
                "XABAR_FEED_LOG_JSON": "false",
            },
            self.tmp_path,
            "XABAR_FEED_PORT",
        )
        feed.env["XABAR_FEED_SITE_URL"] = feed.url
        return feed

    def ingest(self, consumer: str, **env: str) -> ServiceProcess:
        """An ingest sealing contacts to the tests' newsroom key; ``env``: more of its settings
        (``XABAR_INGEST_`` left out)."""
        return service_process(
            "xabar.ingest",
            {
                "XABAR_INGEST_REDIS_URL": self.redis_url,
                "XABAR_INGEST_MONGODB_URL": self.infra.mongo_url,
                "XABAR_INGEST_MONGODB_DB": self.mongo_db_name + "_ingest",
                "XABAR_INGEST_TOKEN_PUBLIC_KEY": self.token_keys.public,
                "XABAR_INGEST_NEWSROOM_PUBLIC_KEY": NEWSROOM_PUBLIC_KEY,
                "XABAR_INGEST_ADDRESS_SALT": "a" * 40,
                "XABAR_INGEST_CONSUMER_NAME": consumer,
                "XABAR_INGEST_LOG_JSON": "false",
                **{f"XABAR_INGEST_{k}": v for k, v in env.items()},
            },
            self.tmp_path,
            "XABAR_INGEST_PORT",
        )

    def polls(self) -> ServiceProcess:
        settings = PollsSettings(
            redis_url=self.redis_url,
            mongodb_url=self.infra.mongo_url,
            mongodb_db=f"{self.mongo_db_name}_polls",
            token_public_key=self.token_keys.public,
            cookie_secret=COOKIE_SECRET,
            address_salt=ADDRESS_SALT,
            consumer_name="polls-0",
            claim_idle_ms=200,
        )
        return service_process(
            "xabar.polls", polls_env(settings), self.tmp_path, "XABAR_POLLS_PORT"
        )


@contextmanager
def running(*procs: ServiceProcess, timeout: float = 90) -> Iterator[None]:
    """``procs`` started in order (``timeout`` each: a loaded box starts processes slowly),
    and every one that was launched (ready or not) stopped in reverse, whatever happens."""
    try:
        for proc in procs:
            proc.start(timeout=timeout)
        yield
    finally:
        for proc in reversed(procs):
            if proc.proc is not None:
                proc.terminate()
