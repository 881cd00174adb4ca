"""The static-file baseline of the readers' pages: Debian's nginx serving, from files, the very
bytes the feed answered for each page (brotli-compressed, as a browser gets them), with the same
content type and coding, as many worker processes as the feed runs; started for one bench run.

``make bench`` measures each reader page on the feed and on this nginx with the same wrk
settings, one after the other, and reports the feed's figure as a ratio to nginx's.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xabar.runtime.localinfra import free_port, wait_for_port

NGINX = ("/usr/sbin/nginx", "nginx")


@dataclass(frozen=True)
class StaticPage:
    name: str  # a file name: letters, digits, dashes
    body: bytes
    content_type: str
    content_encoding: str  # "" when sent as it is
    # every other header the feed sent (security headers, validators, Vary...), sent by nginx
    # too (its add_header replaces its own ETag and Last-Modified) so that both answers are
    # the same bytes but for Date, Server and the order of the headers
    headers: tuple[tuple[str, str], ...] = ()


OWN = frozenset(
    {"date", "server", "content-length", "content-type", "content-encoding", "connection"}
)


def _quoted(value: str) -> str:
    if "$" in value:  # nginx would read a variable there
        raise ValueError(f"a header value nginx cannot send as it is: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_binary() -> str:
    for candidate in NGINX:
        found = shutil.which(candidate) or (candidate if os.path.exists(candidate) else None)
        if found:
            return found
    raise RuntimeError("nginx is not installed (Debian: apt-get install nginx; make bench does)")


def _config(root: Path, port: int, workers: int, pages: list[StaticPage]) -> str:
    locations = []
    for page in pages:
        coding = (
            f"    add_header Content-Encoding {page.content_encoding};\n"
            if page.content_encoding
            else ""
        )
        extra = "".join(
            f"    add_header {name} {_quoted(value)} always;\n"
            for name, value in page.headers
            if name.lower() not in OWN
        )
        locations.append(
            f"  location = /{page.name} {{\n"
            f'    default_type "{page.content_type}";\n'
            f"{coding}{extra}"
            f"    alias {root / 'www' / page.name};\n"
            f"  }}\n"
        )
    temp = root / "tmp"
    return (
        "daemon off;\n"
        f"worker_processes {workers};\n"
        f"pid {root / 'nginx.pid'};\n"
        f"error_log {root / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "  access_log off;\n"
        "  server_tokens off;\n"
        "  sendfile on;\n"
        "  tcp_nopush on;\n"
        "  tcp_nodelay on;\n"
        "  keepalive_requests 1000000;\n"
        "  keepalive_timeout 65;\n"
        f"  client_body_temp_path {temp}/body;\n"
        f"  proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fastcgi;\n"
        f"  uwsgi_temp_path {temp}/uwsgi;\n"
        f"  scgi_temp_path {temp}/scgi;\n"
        f"  server {{\n  listen 127.0.0.1:{port};\n{''.join(locations)}  }}\n"
        "}\n"
    )


@contextmanager
def static_baseline(root: Path, pages: list[StaticPage], workers: int) -> Iterator[tuple[str, int]]:
    """nginx serving ``pages`` at ``/NAME``; yields its base URL and its master's pid."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "www").mkdir(parents=True)
    (root / "tmp").mkdir()
    for page in pages:
        (root / "www" / page.name).write_bytes(page.body)
    for path in (root, root / "www", root / "tmp"):
        path.chmod(0o755)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(_config(root.resolve(), port, workers, pages))
    proc = subprocess.Popen(  # noqa: S603 - Debian's nginx with our own config
        [nginx_binary(), "-p", str(root.resolve()), "-c", str(conf.resolve()), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "nginx.stderr").open("wb"),
    )
    try:
        wait_for_port(port, 20, proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        time.sleep(0.1)
