"""Vendor the newsroom's third-party JavaScript and CSS from npm, exactly as package-lock.json pins.

    python scripts/vendor_assets.py          # install into a temporary directory, copy the files
    python scripts/vendor_assets.py --check  # the same, and fail if a committed copy differs

`npm ci` installs what package-lock.json pins and checks every tarball against the lock's
`integrity` (sha512); no install scripts run. The files listed under "vendor" in package.json
(a path inside node_modules -> a path in this repository) are copied byte for byte, and
`vendor-manifest.json` records each one's package, version, lock integrity and sha256. Nothing
comes from a CDN: the npm registry (or npm's cache) is the only source.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "vendor-manifest.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install(into: Path) -> Path:
    """``npm ci`` of our package.json and lock in ``into``; returns its node_modules."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(ROOT / name, into / name)
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("vendor_assets: npm is not installed (apt-get install -y npm)")
    subprocess.run(  # noqa: S603 - our own fixed command line
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=into,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return into / "node_modules"


def manifest_of(modules: Path, files: dict[str, str], lock: dict[str, object]) -> dict[str, object]:
    packages = lock["packages"]
    assert isinstance(packages, dict)
    out: dict[str, object] = {}
    for source, target in sorted(files.items(), key=lambda kv: kv[1]):
        package = source.split("/", 1)[0]
        pinned = packages[f"node_modules/{package}"]
        out[target] = {
            "package": package,
            "version": pinned["version"],
            "integrity": pinned["integrity"],
            "source": source,
            "sha256": sha256(modules / source),
        }
    return {"note": "written by scripts/vendor_assets.py; do not edit", "files": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, change nothing")
    args = parser.parse_args(argv)
    files: dict[str, str] = json.loads((ROOT / "package.json").read_text())["vendor"]
    lock = json.loads((ROOT / "package-lock.json").read_text())
    with tempfile.TemporaryDirectory(prefix="xabar-vendor-") as tmp:
        modules = install(Path(tmp))
        manifest = manifest_of(modules, files, lock)
        wrong = []
        for source, target in files.items():
            src, dst = modules / source, ROOT / target
            if args.check:
                if not dst.exists() or dst.read_bytes() != src.read_bytes():
                    wrong.append(target)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if args.check:
        if not MANIFEST.exists() or MANIFEST.read_text() != text:
            wrong.append(MANIFEST.name)
        for target in wrong:
            print(f"vendor_assets: {target} is not what package-lock.json pins", file=sys.stderr)
        if wrong:
            print("vendor_assets: run `make vendor` and commit the result", file=sys.stderr)
            return 1
        print(f"vendor_assets: {len(files)} vendored files match package-lock.json")
        return 0
    MANIFEST.write_text(text)
    print(f"vendor_assets: {len(files)} files vendored; manifest in {MANIFEST.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
