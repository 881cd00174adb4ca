"""The code stays ruff-clean and mypy-strict clean: the same checks as `make lint`."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "shared/contracts/src",
    "shared/runtime/src",
    "services/ingest/src",
    "services/publisher/src",
    "services/polls/src",
    "services/feed/src",
    "tools/devstack/src",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = _run("mypy", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr
