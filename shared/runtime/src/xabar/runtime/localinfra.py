"""Real local infrastructure for ``make run``, the tests and CI: redis-server and FerretDB.

Redis is Debian's ``redis-server`` (AOF on); MongoDB is FerretDB v1.24.2 on its embedded SQLite
backend, built once with ``go install`` into a cache folder so later runs reuse the binary.

For the deployments past one machine, the same binary runs on loopback as
- a Redis Cluster (``start_redis_cluster``: 3 masters and a replica each, made with
  ``redis-cli --cluster create ... --cluster-replicas 1``, waited on until ``cluster_state:ok``
  and every replica's link is up), and
- a Sentinel setup (``start_sentinel``: one primary, two replicas, three sentinels, run as
  ``redis-server sentinel.conf --sentinel``), waited on until every sentinel sees the primary,
  both replicas and the other sentinels.
Both keep their state (AOF, ``nodes.conf``, the configs Sentinel rewrites) in a folder, and stop
cleanly (replicas and sentinels first).
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
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis

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


def redis_cli_binary() -> Path:
    found = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    if not Path(found).exists():
        raise InfraError("redis-cli is not installed (Debian: apt-get install redis-tools)")
    return Path(found)


def _redis_args(port: int, data_dir: Path, *extra: str) -> list[str]:
    """A redis-server on loopback with AOF on (fsync every second) and no RDB snapshots."""
    return [
        str(redis_binary()),
        *extra,
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
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def start_redis(data_dir: Path, port: int | None = None, databases: int = 16) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = _redis_args(port, data_dir, "--databases", str(databases))
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


# --- Redis Cluster and Sentinel on loopback ----------------------------------------------------


def _ask(port: int, *command: str, timeout: float = 2.0) -> Any:
    """One command to the redis-server (or sentinel) on 127.0.0.1:``port``; its reply."""
    client = redis.Redis(port=port, socket_timeout=timeout, socket_connect_timeout=timeout)
    client.response_callbacks.clear()  # the replies as Redis sends them
    try:
        return client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        client.close()


def _info(port: int, section: str) -> dict[str, str]:
    text = _ask(port, "INFO", section)
    text = text.decode() if isinstance(text, bytes) else str(text)
    rows = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k: v.strip() for k, v in rows}


def _until(what: str, check: Callable[[], bool], timeout: float, procs: Sequence[Server]) -> None:
    """Poll ``check`` (errors count as not yet) until it holds; InfraError naming ``what`` when
    ``timeout`` passes or one of ``procs`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for server in procs:
            if server.proc.poll() is not None:
                raise InfraError(f"{server.name} exited ({server.proc.returncode}) while {what}")
        with contextlib.suppress(redis.RedisError, OSError):
            if check():
                return
        time.sleep(0.1)
    raise InfraError(f"timed out after {timeout}s while {what}")


def _ports(state_dir: Path, count: int) -> list[int]:
    """The ports of a deployment kept in ``state_dir`` (so a restart finds its nodes again),
    chosen free the first time."""
    path = state_dir / "ports.json"
    if path.exists():
        ports: list[int] = json.loads(path.read_text())
        if len(ports) == count:
            return ports
    ports = [free_port() for _ in range(count)]
    path.write_text(json.dumps(ports))
    return ports


def _stop_all(servers: Sequence[Server]) -> None:
    for server in servers:
        server.stop()


@dataclass
class LocalRedisCluster:
    """A Redis Cluster of ``nodes`` on loopback; ``url`` is the deployment setting for it."""

    state_dir: Path
    nodes: list[Server]
    replicas_per_master: int

    @property
    def seeds(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{h}:{p}" for h, p in self.seeds)

    def node(self, port: int) -> Server:
        return next(node for node in self.nodes if node.port == port)

    def roles(self) -> dict[int, str]:
        """``port: "master" | "replica"`` as the running nodes say (a dead node is left out)."""
        roles: dict[int, str] = {}
        for node in self.nodes:
            if node.proc.poll() is None:
                with contextlib.suppress(redis.RedisError, OSError):
                    role = _ask(node.port, "ROLE")[0]
                    roles[node.port] = "master" if role in (b"master", "master") else "replica"
        return roles

    def masters(self) -> list[Server]:
        return [self.node(p) for p, role in self.roles().items() if role == "master"]

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every running node says ``cluster_state:ok`` with all slots served, every
        replica's link to its master is up, and (with every node running) each node sees each
        master with its replicas and no node failing."""
        running = [n for n in self.nodes if n.proc.poll() is None]
        complete = len(running) == len(self.nodes)
        masters = len(self.nodes) // (1 + self.replicas_per_master)

        def ok() -> bool:
            for node in running:
                info = _info_cluster(node.port)
                if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != "16384":
                    return False
                repl = _info(node.port, "replication")
                if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                    return False
                if complete and not _sees_all(node.port, masters, self.replicas_per_master):
                    return False
            return True

        _until("the cluster settles (cluster_state:ok)", ok, timeout, running)

    def stop(self) -> None:
        _stop_all(self.nodes)


def _sees_all(port: int, masters: int, replicas_per_master: int) -> bool:
    """Whether the node on ``port`` sees ``masters`` masters serving slots, each with
    ``replicas_per_master`` replicas, and no node failing (CLUSTER NODES)."""
    text = _ask(port, "CLUSTER", "NODES")
    rows = [
        line.split() for line in (text.decode() if isinstance(text, bytes) else text).splitlines()
    ]
    if any("fail" in row[2] or "fail?" in row[2] or "handshake" in row[2] for row in rows):
        return False
    serving = {row[0] for row in rows if "master" in row[2] and len(row) > 8}
    following = Counter(row[3] for row in rows if "slave" in row[2] and row[7] == "connected")
    return len(serving) == masters and all(following[m] >= replicas_per_master for m in serving)


def _info_cluster(port: int) -> dict[str, str]:
    text = _ask(port, "CLUSTER", "INFO")
    text = text.decode() if isinstance(text, bytes) else str(text)
    rows = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k: v.strip() for k, v in rows}


def start_redis_cluster(
    state_dir: Path,
    *,
    masters: int = 3,
    replicas_per_master: int = 1,
    node_timeout_ms: int = 3000,
    timeout: float = 90.0,
) -> LocalRedisCluster:
    """A Redis Cluster of ``masters`` masters with ``replicas_per_master`` replicas each, on free
    loopback ports (client and cluster-bus ports alike), AOF on, each node's ``nodes.conf`` in
    its folder under ``state_dir``. Created with ``redis-cli --cluster create`` the first time;
    started again from its state when the folder holds one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    count = masters * (1 + replicas_per_master)
    ports = _ports(state_dir, 2 * count)  # a client port and a cluster-bus port per node
    nodes: list[Server] = []
    fresh = not (state_dir / "created").exists()
    try:
        for i in range(count):
            port, bus_port = ports[i], ports[count + i]
            data = state_dir / f"node-{port}"
            data.mkdir(exist_ok=True)
            args = _redis_args(
                port,
                data,
                *("--cluster-enabled", "yes", "--cluster-config-file", str(data / "nodes.conf")),
                *("--cluster-port", str(bus_port), "--cluster-node-timeout", str(node_timeout_ms)),
                # the replica of a dead master takes over even when its link broke a while ago
                *("--cluster-replica-validity-factor", "0"),
                *("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"),
            )
            log = data / "redis.log"
            nodes.append(Server(f"redis-cluster-{port}", port, "", _spawn(args, log), args, log))
        for node in nodes:
            wait_for_port(node.port, 20, node.proc)
        cluster = LocalRedisCluster(state_dir, nodes, replicas_per_master)
        if fresh:
            _create_cluster(cluster, replicas_per_master)
            (state_dir / "created").write_text("yes\n")
        cluster.wait_ok(timeout)
        return cluster
    except BaseException:
        _stop_all(nodes)
        raise


def _create_cluster(cluster: LocalRedisCluster, replicas_per_master: int) -> None:
    args = [str(redis_cli_binary()), "--cluster", "create"]
    args += [f"{h}:{p}" for h, p in cluster.seeds]
    args += ["--cluster-replicas", str(replicas_per_master), "--cluster-yes"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    if result.returncode != 0 or "[OK] All 16384 slots covered" not in result.stdout:
        raise InfraError(f"redis-cli --cluster create failed:\n{result.stdout[-3000:]}")


@dataclass
class LocalSentinel:
    """A primary, its replicas and the sentinels watching them, on loopback; ``url`` is the
    deployment setting for it."""

    state_dir: Path
    master_name: str
    servers: list[Server]  # the primary first (at start; Sentinel may promote another)
    sentinels: list[Server]

    @property
    def url(self) -> str:
        addresses = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{addresses}/{self.master_name}"

    def server(self, port: int) -> Server:
        return next(s for s in self.servers if s.port == port)

    def primary_port(self) -> int:
        """The primary's port as a running sentinel says."""
        for sentinel in self.sentinels:
            if sentinel.proc.poll() is None:
                with contextlib.suppress(redis.RedisError, OSError):
                    reply = _ask(
                        sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name
                    )
                    return int(reply[1])
        raise InfraError("no sentinel answers")

    def primary(self) -> Server:
        return self.server(self.primary_port())

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Until every running sentinel agrees on the primary (which says it is one), sees every
        running replica and the other sentinels, and every running replica's link is up."""
        running = [s for s in self.servers if s.proc.poll() is None]
        watching = [s for s in self.sentinels if s.proc.poll() is None]

        def healthy() -> bool:
            primaries = set()
            for sentinel in watching:
                master = _pairs(_ask(sentinel.port, "SENTINEL", "MASTER", self.master_name))
                if "s_down" in master["flags"] or "o_down" in master["flags"]:
                    return False
                if int(master["num-other-sentinels"]) < len(watching) - 1:
                    return False
                replicas = _ask(sentinel.port, "SENTINEL", "REPLICAS", self.master_name)
                up = [_pairs(r) for r in replicas]
                if sum("s_down" not in r["flags"] for r in up) < len(running) - 1:
                    return False
                primaries.add(int(master["port"]))
            if len(primaries) != 1:
                return False
            (port,) = primaries
            if _info(port, "replication").get("role") != "master":
                return False
            return all(
                _info(s.port, "replication").get("master_link_status") == "up"
                for s in running
                if s.port != port
            )

        _until("the sentinels agree on a healthy primary", healthy, timeout, running + watching)

    def stop(self) -> None:
        _stop_all(self.sentinels)
        primary = next((s for s in self.servers if s.port == _safe_primary(self)), None)
        _stop_all([s for s in self.servers if s is not primary])
        if primary is not None:
            primary.stop()


def _safe_primary(setup: LocalSentinel) -> int | None:
    with contextlib.suppress(InfraError):
        return setup.primary_port()
    return None


def _pairs(reply: Any) -> dict[str, str]:
    """A map reply (RESP3), or a flat ``[name, value, ...]`` one (RESP2), as a dict of text."""
    flat = [x for kv in reply.items() for x in kv] if isinstance(reply, dict) else list(reply)
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    return dict(zip(text[::2], text[1::2], strict=True))


def start_sentinel(
    state_dir: Path,
    *,
    master_name: str = "xabar",
    replicas: int = 2,
    sentinels: int = 3,
    down_after_ms: int = 2000,
    failover_timeout_ms: int = 10_000,
    timeout: float = 90.0,
) -> LocalSentinel:
    """A primary with ``replicas`` replicas and ``sentinels`` sentinels (quorum: a majority of
    them) on free loopback ports, AOF on. Each server has a config file of its own in its folder
    (Sentinel rewrites them when it reconfigures a server), so a restarted server comes back in
    the role Sentinel last gave it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ports = _ports(state_dir, 1 + replicas + sentinels)
    data_ports, sentinel_ports = ports[: 1 + replicas], ports[1 + replicas :]
    started: list[Server] = []
    try:
        servers = [
            _sentinel_managed(state_dir, port, data_ports[0] if i else None)
            for i, port in enumerate(data_ports)
        ]
        started += servers
        for server in servers:
            wait_for_port(server.port, 20, server.proc)
        quorum = sentinels // 2 + 1
        watchers = []
        for port in sentinel_ports:
            timing = (down_after_ms, failover_timeout_ms)
            watcher = _sentinel_process(state_dir, port, master_name, data_ports[0], quorum, timing)
            started.append(watcher)
            watchers.append(watcher)
        for watcher in watchers:
            wait_for_port(watcher.port, 20, watcher.proc)
        setup = LocalSentinel(state_dir, master_name, servers, watchers)
        setup.wait_healthy(timeout)
        return setup
    except BaseException:
        _stop_all(list(reversed(started)))
        raise


def _sentinel_managed(state_dir: Path, port: int, primary: int | None) -> Server:
    data = state_dir / f"redis-{port}"
    data.mkdir(exist_ok=True)
    conf = data / "redis.conf"
    if not conf.exists():  # Sentinel rewrites it (replicaof) when it changes the server's role
        lines = ["repl-diskless-sync yes", "repl-diskless-sync-delay 0"]
        if primary is not None:
            lines.append(f"replicaof 127.0.0.1 {primary}")
        conf.write_text("\n".join(lines) + "\n")
    args = _redis_args(port, data, str(conf))
    log = data / "redis.log"
    return Server(
        f"redis-{port}", port, f"redis://127.0.0.1:{port}/0", _spawn(args, log), args, log
    )


def _sentinel_process(
    state_dir: Path,
    port: int,
    master_name: str,
    primary: int,
    quorum: int,
    timing: tuple[int, int],
) -> Server:
    down_after_ms, failover_timeout_ms = timing
    data = state_dir / f"sentinel-{port}"
    data.mkdir(exist_ok=True)
    conf = data / "sentinel.conf"
    if not conf.exists():  # Sentinel keeps what it learns (the primary, epochs) in it
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {data}\n"
            f"sentinel monitor {master_name} 127.0.0.1 {primary} {quorum}\n"
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}\n"
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {master_name} 1\n"
        )
    args = [str(redis_binary()), str(conf), "--sentinel", "--daemonize", "no"]
    args += ["--loglevel", "notice"]
    log = data / "sentinel.log"
    return Server(f"sentinel-{port}", port, "", _spawn(args, log), args, log)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_Stoppable)


@contextlib.contextmanager
def _running(start: Callable[..., _S], *args: Any, **options: Any) -> Iterator[_S]:
    """What ``start(*args, **options)`` starts, for the ``with`` block; stopped after it."""
    started = start(*args, **options)
    try:
        yield started
    finally:
        started.stop()


def redis_cluster(state_dir: Path, **options: Any) -> AbstractContextManager[LocalRedisCluster]:
    return _running(start_redis_cluster, state_dir, **options)


def redis_sentinel(state_dir: Path, **options: Any) -> AbstractContextManager[LocalSentinel]:
    return _running(start_sentinel, state_dir, **options)


@contextlib.contextmanager
def local_infra(
    state_dir: Path,
    redis_port: int | None = None,
    mongo_port: int | None = None,
    redis_databases: int = 16,
) -> Iterator[tuple[Server, Server]]:
    with (
        _running(start_redis, state_dir / "redis", redis_port, redis_databases) as redis,
        _running(start_ferretdb, state_dir / "ferretdb", mongo_port) as mongo,
    ):
        yield redis, mongo


def main() -> None:
    """``python -m xabar.runtime.localinfra``: build and cache FerretDB, check redis-server."""
    print(f"redis-server: {redis_binary()}")
    print(f"redis-cli: {redis_cli_binary()}")
    print(f"ferretdb {FERRETDB_VERSION}: {ferretdb_binary()}")


if __name__ == "__main__":
    main()
