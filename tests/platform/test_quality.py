"""The code stays ruff-clean, ruff-formatted and mypy-strict clean: the same checks as `make
lint`, so `make test` (and CI, which runs it) fails on any of them."""

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


def test_ruff_format_changes_nothing() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_formatting_is_switched_off() -> None:
    """A formatter pragma ("fmt: skip", "fmt: off" in a comment) hides code from the
    formatter: none in the tree."""
    marks = ("# fmt: " + "skip", "# fmt: " + "off")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(ROOT.glob("**/*.py"))
        if not {".venv", ".state", "node_modules"} & set(path.relative_to(ROOT).parts)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if any(mark in line for mark in marks)
    ]
    assert found == [], found


def test_mypy_strict_finds_nothing() -> None:
    result = _run("mypy", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr
