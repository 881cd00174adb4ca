"""Start Redis, FerretDB and the four services as local processes; stop them all cleanly."""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from xabar.runtime.auth import generate_keys
from xabar.runtime.localinfra import (
    LocalRedisCluster,
    LocalSentinel,
    Server,
    free_port,
    kill_process,
    local_infra,
    redis_cluster,
    redis_sentinel,
    stop_process,
)

SERVICES = ("feed", "ingest", "publisher", "polls")
DEFAULT_PORTS = {"feed": 8080, "ingest": 8081, "publisher": 8082, "polls": 8083}
COLORS = {"feed": "32", "ingest": "33", "publisher": "36", "polls": "35", "stack": "1"}


def say(who: str, text: str) -> None:
    color = COLORS.get(who, "0") if sys.stdout.isatty() else ""
    prefix = f"\033[{color}m{who:>9} |\033[0m" if color else f"{who:>9} |"
    print(f"{prefix} {text}", flush=True)


def load_secrets(state: Path) -> dict[str, str]:
    """Secrets of this local deployment: made once, kept in .state/secrets.json (git-ignored)."""
    path = state / "secrets.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
    else:
        data = {}
    for name in ("address_salt", "ingest_address_salt", "cookie_secret", "chief_password"):
        data.setdefault(name, secrets.token_urlsafe(32))
    data.pop("jwt_secret", None)  # tokens are signed asymmetrically now
    if "token_private_key" not in data:  # editors' tokens: only the publisher holds the private
        data["token_private_key"], data["token_public_key"] = generate_keys()
    if "newsroom_private_key" not in data:
        data |= newsroom_key_pair()
    state.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return data


def newsroom_key_pair() -> dict[str, str]:
    """The newsroom's X25519 key pair, base64: ingest seals reporters' contacts to the public
    key, the publisher opens them with the private one (libsodium sealed boxes)."""
    key = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    return {
        "newsroom_private_key": base64.b64encode(
            key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        ).decode(),
        "newsroom_public_key": base64.b64encode(
            key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
        ).decode(),
    }


@dataclass
class ServiceProc:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    echo: bool
    proc: subprocess.Popen[bytes] | None = None
    _pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", f"xabar.{self.name}"],
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._forward, args=(self.proc.stdout,), daemon=True)
        self._pump.start()

    def _forward(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream, open(self.log_path, "ab") as log:  # the pipe closed at the process's end
            for line in stream:
                log.write(line)
                log.flush()
                if self.echo:
                    say(self.name, line.decode("utf-8", "replace").rstrip())

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} was not ready within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout)

    def kill9(self) -> None:
        if self.proc is not None:
            kill_process(self.proc)


@dataclass
class Stack:
    state: Path
    redis: Server
    mongo: Server
    secrets: dict[str, str]
    services: dict[str, ServiceProc]
    # the Redis deployment the services talk to when it is not ``redis`` (see ``running_stack``)
    deployment: LocalRedisCluster | LocalSentinel | None = None

    @property
    def redis_url(self) -> str:
        """The services' Redis deployment setting: ``deployment``'s URL, else ``redis``'s."""
        return self.deployment.url if self.deployment is not None else self.redis.url

    def env_for(self, name: str) -> dict[str, str]:
        return service_env(
            name,
            self.redis_url,
            self.mongo.url,
            self.secrets,
            {n: s.port for n, s in self.services.items()},
        )

    def cli(
        self, name: str, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> int:
        """Run ``python -m xabar.<name> ARGS`` with the service's own settings."""
        full = {**os.environ, **self.env_for(name), **(env or {})}
        return subprocess.run(  # noqa: S603
            [sys.executable, "-m", f"xabar.{name}", *args], env=full, check=check
        ).returncode


def service_env(
    name: str,
    redis_url: str,
    mongo_url: str,
    secrets_: Mapping[str, str],
    ports: Mapping[str, int],
) -> dict[str, str]:
    """The environment of service ``name`` (on ``ports[name]``) beside the others on ``ports``."""
    p = f"XABAR_{name.upper()}_"
    url = {n: f"http://127.0.0.1:{pt}" for n, pt in ports.items()}
    env = {
        "PORT": str(ports[name]),
        "REDIS_URL": redis_url,
        "MONGODB_URL": mongo_url,
        "CONSUMER_NAME": f"{name}-1",
        "LOG_JSON": "false",
    }
    if name in ("ingest", "polls", "feed"):  # the feed: for the newsroom's preview
        env |= {"TOKEN_PUBLIC_KEY": secrets_["token_public_key"]}
    if name == "ingest":
        env |= {
            "ADDRESS_SALT": secrets_["ingest_address_salt"],  # its own, never the polls'
            "NEWSROOM_PUBLIC_KEY": secrets_["newsroom_public_key"],
            "PUBLIC_URL": url["ingest"],
            "SITE_URL": url["feed"],
        }
    if name == "polls":
        env |= {
            "ADDRESS_SALT": secrets_["address_salt"],
            "COOKIE_SECRET": secrets_["cookie_secret"],
            "SITE_URL": url["feed"],
        }
    if name == "publisher":
        env |= {
            "NEWSROOM_PRIVATE_KEY": secrets_["newsroom_private_key"],
            "TOKEN_PRIVATE_KEY": secrets_["token_private_key"],
            "POLLS_URL": url["polls"],
            "INGEST_URL": url["ingest"],
            "SITE_URL": url["feed"],
            "PUBLIC_URL": url["publisher"],
        }
    if name == "feed":
        env |= {
            "SITE_URL": url["feed"],
            "POLLS_PUBLIC_URL": url["polls"],
            "INGEST_PUBLIC_URL": url["ingest"],
        }
    return {p + k: v for k, v in env.items()}


RedisKind = Literal["single", "sentinel", "cluster"]


def _deployment(
    kind: RedisKind | LocalRedisCluster | LocalSentinel, state: Path
) -> AbstractContextManager[LocalRedisCluster | LocalSentinel | None]:
    if isinstance(kind, LocalRedisCluster | LocalSentinel):
        return nullcontext(kind)
    if kind == "sentinel":
        return redis_sentinel(state / "redis-sentinel")
    if kind == "cluster":
        return redis_cluster(state / "redis-cluster")
    return nullcontext()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def running_stack(
    state: Path,
    *,
    ports: Mapping[str, int] | None = None,
    echo: bool = True,
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
    redis: RedisKind | LocalRedisCluster | LocalSentinel = "single",
) -> Iterator[Stack]:
    """Everything up and ready; on exit the services stop first, then FerretDB and Redis.
    ``redis``: the services talk to one redis-server, to a Sentinel-managed one (a primary, two
    replicas, three sentinels) or to a 3-master, 3-replica Redis Cluster, each started here on
    loopback by the runtime's ``localinfra`` (``Stack.deployment``), or to a deployment of
    those two kinds that the caller started (and stops)."""
    state.mkdir(parents=True, exist_ok=True)
    logs = state / "logs"
    logs.mkdir(exist_ok=True)
    sec = load_secrets(state)
    chosen = dict(ports) if ports is not None else {n: free_port() for n in SERVICES}
    for name, port in chosen.items():
        if not port_is_free(port):
            raise RuntimeError(
                f"port {port} for {name} is in use (another `make run`?); stop it, or choose "
                f"another with XABAR_{name.upper()}_PORT"
            )
    say("stack", f"starting redis-server and FerretDB (state in {state})")
    with ExitStack() as infra:
        single, mongo = infra.enter_context(local_infra(state))
        deployment = infra.enter_context(_deployment(redis, state))
        say("stack", f"redis {deployment.url if deployment else single.url}  ferretdb {mongo.url}")
        services = {n: ServiceProc(n, chosen[n], {}, logs / f"{n}.log", echo) for n in SERVICES}
        stack = Stack(state, single, mongo, sec, services, deployment)
        try:
            for name, svc in services.items():
                svc.env = {**stack.env_for(name), **((extra_env or {}).get(name, {}))}
                if ports is None:  # free ports: the operators' metrics listener gets one too
                    svc.env.setdefault(f"XABAR_{name.upper()}_METRICS_PORT", str(free_port()))
                svc.start()
            for svc in services.values():
                svc.wait_ready()
            yield stack
        finally:
            for svc in services.values():
                svc.stop()
