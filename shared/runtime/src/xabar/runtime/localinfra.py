"""Real local infrastructure for ``make run``, the tests and CI: redis-server and FerretDB.

Redis is Debian's ``redis-server`` (AOF on); MongoDB is FerretDB v1.24.2 on its embedded SQLite
backend, built once with ``go install`` into a cache folder so later runs reuse the binary.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from xabar.runtime.errors import InfraError

FERRETDB_VERSION = "v1.24.2"
FERRETDB_REPO = "github.com/FerretDB/FerretDB"


def cache_dir() -> Path:
    base = os.environ.get("XABAR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "xabar"
    )
    return Path(base)


def ferretdb_binary(*, build: bool = True) -> Path:
    """The cached FerretDB binary; built from the Go module proxy when missing.

    ``go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`` compiles, but the binary
    panics at start: the module zip ships ``build/version/version.txt`` empty, and FerretDB refuses
    to run without a version there. So we download the very same module version, write
    ``v1.24.2`` into that file, and ``go build`` it. Done once; later runs reuse the binary.
    """
    target = cache_dir() / f"ferretdb-{FERRETDB_VERSION}"
    binary = target / "ferretdb"
    if binary.exists() or not build:
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        raise InfraError("FerretDB is not built and no Go toolchain was found to build it")
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GO111MODULE": "on", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        info = _run(
            [go, "mod", "download", "-json", f"{FERRETDB_REPO}@{FERRETDB_VERSION}"], tmp, env
        )
        module_dir = Path(json.loads(info)["Dir"])
        src = Path(tmp) / "src"
        shutil.copytree(module_dir, src)
        for path in src.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        version_dir = src / "build" / "version"
        (version_dir / "version.txt").write_text(FERRETDB_VERSION + "\n")
        (version_dir / "package.txt").write_text("xabar-local\n")
        out = target / "ferretdb.partial"
        _run([go, "build", "-trimpath", "-o", str(out), "./cmd/ferretdb"], str(src), env)
        out.rename(binary)
    return binary


def _run(args: list[str], cwd: str, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise InfraError(f"{' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def redis_binary() -> Path:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise InfraError("redis-server is not installed (Debian: apt-get install redis-server)")
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise InfraError(f"process exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise InfraError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def wait_for_redis(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until redis-server answers PING: it listens while it still loads its AOF, and answers
    everything else with ``-LOADING`` meanwhile."""
    wait_for_port(port, timeout, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(64).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise InfraError(f"redis-server on 127.0.0.1:{port} did not finish loading within {timeout}s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process(proc)


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as a crash would, and reap it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@dataclass
class Server:
    name: str
    port: int
    url: str
    proc: subprocess.Popen[bytes]
    args: list[str] = field(default_factory=list)
    log_path: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        kill_process(self.proc)

    def restart(self, timeout: float = 30.0) -> None:
        self.stop()
        self.proc = _spawn(self.args, self.log_path)
        if self.name == "redis":
            wait_for_redis(self.port, timeout, self.proc)
        else:
            wait_for_port(self.port, timeout, self.proc)


def _spawn(args: list[str], log_path: Path | None) -> subprocess.Popen[bytes]:
    if log_path is None:
        return subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(  # noqa: S603
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_redis(data_dir: Path, port: int | None = None, databases: int = 16) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        str(redis_binary()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--databases",
        str(databases),
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    proc = _spawn(args, data_dir / "redis.log")
    wait_for_redis(port, 20, proc)
    return Server("redis", port, f"redis://127.0.0.1:{port}/0", proc, args, data_dir / "redis.log")


def start_ferretdb(data_dir: Path, port: int | None = None) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        str(ferretdb_binary()),
        "--handler=sqlite",
        f"--sqlite-url=file:{data_dir}/",
        f"--listen-addr=127.0.0.1:{port}",
        f"--state-dir={data_dir}",
        "--telemetry=disable",
        "--debug-addr=-",
        "--log-level=warn",
    ]
    proc = _spawn(args, data_dir / "ferretdb.log")
    wait_for_port(port, 60, proc)
    return Server(
        "ferretdb", port, f"mongodb://127.0.0.1:{port}/", proc, args, data_dir / "ferretdb.log"
    )


@contextlib.contextmanager
def local_infra(
    state_dir: Path,
    redis_port: int | None = None,
    mongo_port: int | None = None,
    redis_databases: int = 16,
) -> Iterator[tuple[Server, Server]]:
    redis = start_redis(state_dir / "redis", redis_port, redis_databases)
    try:
        mongo = start_ferretdb(state_dir / "ferretdb", mongo_port)
    except BaseException:
        redis.stop()
        raise
    try:
        yield redis, mongo
    finally:
        mongo.stop()
        redis.stop()


def main() -> None:
    """``python -m xabar.runtime.localinfra``: build and cache FerretDB, check redis-server."""
    print(f"redis-server: {redis_binary()}")
    print(f"ferretdb {FERRETDB_VERSION}: {ferretdb_binary()}")


if __name__ == "__main__":
    main()
