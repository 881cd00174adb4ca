"""The hostile-input suite's stack: the four services as real processes (``xabar.devstack``'s
``running_stack``, with its own redis-server and FerretDB), each one's log written to a file.

Tests speak to them over loopback as an attacker would. At the end of the session every
service's log is read: a traceback or an unhandled error in any of them fails the suite (the
answers may all have been 4xx while a handler still crashed behind them).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from xabar.devstack.clients import CHIEF_EMAIL, ensure_chief
from xabar.devstack.stack import Stack, running_stack

# room for every hostile request: the limits themselves are tested with each service
ROOMY = {
    "ingest": {
        "XABAR_INGEST_SUBMIT_RATE_LIMIT": "1000000",
        "XABAR_INGEST_LOOKUP_RATE_LIMIT": "1000000",
        "XABAR_INGEST_COMMENT_RATE_LIMIT": "1000000",
        "XABAR_INGEST_LETTER_RATE_LIMIT": "1000000",
    },
    "polls": {"XABAR_POLLS_VOTE_RATE_LIMIT": "1000000", "XABAR_POLLS_ADDRESS_LIMIT": "1000000"},
    "publisher": {
        "XABAR_PUBLISHER_LOGIN_RATE_LIMIT": "1000000",
        "XABAR_PUBLISHER_LOGIN_ADDRESS_RATE_LIMIT": "1000000",
        "XABAR_PUBLISHER_LOGIN_ACCOUNT_RATE_LIMIT": "1000000",
    },
}
CRASHED = re.compile(r"Traceback \(most recent call last\)|unhandled error|Exception in ASGI")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Hostile:
    stack: Stack
    token: str  # the chief's bearer token

    def url(self, service: str) -> str:
        return self.stack.services[service].url

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def logs(self) -> dict[str, str]:
        return {
            name: Path(svc.log_path).read_text(encoding="utf-8", errors="replace")
            for name, svc in self.stack.services.items()
        }

    @contextmanager
    def newsroom(self) -> Iterator[tuple[httpx.Client, str]]:
        """A client logged in to the newsroom through its form, and the session's CSRF token."""
        base = self.url("publisher")
        with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as client:
            csrf = CSRF.search(client.get("/login").text)
            assert csrf
            password = self.stack.secrets["chief_password"]
            form = {"csrf": csrf.group(1), "email": CHIEF_EMAIL, "password": password}
            assert client.post("/login", data=form | {"next": "/"}).status_code == 303
            session_csrf = CSRF.search(client.get("/articles/new").text)
            assert session_csrf
            yield client, session_csrf.group(1)


def crashes(logs: dict[str, str]) -> dict[str, list[str]]:
    """The lines of each log that tell of a crash, with a little of what follows."""
    found: dict[str, list[str]] = {}
    for name, text in logs.items():
        lines = text.splitlines()
        for n, line in enumerate(lines):
            if CRASHED.search(line):
                found.setdefault(name, []).append("\n".join(lines[n : n + 40]))
    return found


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    state = tmp_path_factory.mktemp("hostile")
    with running_stack(state, echo=False, extra_env=ROOMY) as stack:
        ensure_chief(stack)
        login = httpx.post(
            f"{stack.services['publisher'].url}/api/v1/auth/login",
            json={"email": CHIEF_EMAIL, "password": stack.secrets["chief_password"]},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        h = Hostile(stack, login.json()["access_token"])
        yield h
        crashed = crashes(h.logs())
        assert not crashed, "a service crashed behind its answers:\n\n" + "\n\n".join(
            f"--- {name}\n" + "\n...\n".join(found[:3]) for name, found in crashed.items()
        )
