"""The validators the readers' site is held to, run offline: the Nu Html Checker (Maven Central,
cached by ``scripts/validators.sh``), the JDK's XML Schema validator for sitemaps, and axe-core
(vendored) in Debian's chromium through Playwright."""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.browser import FLAGS

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "validators"
AXE = TOOLS / "axe" / "axe.min.js"
XSD = TOOLS / "xsd"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = FLAGS  # the flags every browser test here runs chromium with


def vnu_classpath() -> str:
    """The Nu Html Checker's jars, fetched once by ``scripts/validators.sh`` (``make test``
    runs it through the bootstrap; it is a no-op once they are cached)."""
    out = subprocess.run(
        [str(ROOT / "scripts" / "validators.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout.strip()
    return f"{out}/*"


@dataclass(frozen=True)
class Message:
    file: str
    kind: str  # "error", "info" (warnings are info with subType "warning")
    text: str
    extract: str

    def __str__(self) -> str:
        return f"{Path(self.file).name}: {self.kind}: {self.text} [{self.extract.strip()}]"


def nu_check(files: list[Path]) -> list[Message]:
    """Every message of the Nu Html Checker on ``files`` (one JVM for all)."""
    java = shutil.which("java")
    assert java is not None, "java is missing: run scripts/validators.sh (make test does)"
    proc = subprocess.run(
        [
            java,
            "-cp",
            vnu_classpath(),
            "nu.validator.client.SimpleCommandLineValidator",
            "--format",
            "json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stderr or proc.stdout)
    return [
        Message(
            m.get("url", "").removeprefix("file:"),
            m.get("subType", m["type"]),
            m.get("message", ""),
            m.get("extract", ""),
        )
        for m in report["messages"]
    ]


def xsd_check(schemas: list[str], files: list[Path]) -> list[str]:
    """Problems the JDK's XML Schema validator finds in ``files`` against ``schemas``."""
    java = shutil.which("java")
    assert java is not None, "java is missing: run scripts/validators.sh (make test does)"
    proc = subprocess.run(
        [
            java,
            str(TOOLS / "XsdCheck.java"),
            ",".join(str(XSD / s) for s in schemas),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return [line for line in proc.stdout.splitlines() if line.strip()]


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page loaded in ``page`` (a Playwright page whose context
    bypasses the CSP, so that the vendored script can be added)."""
    await page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return list(result["violations"])
