"""The newsroom's static files (``newsroom/static``: its own CSS and JavaScript, and the vendored
npm files under ``static/vendor``), read once at start and served without a session. A URL
with the file's content hash (``?v=``, as ``Pages.static`` writes it) is cached for a year."""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xabar.publisher.newsroom.render import STATIC, asset_version
from xabar.runtime.params import NoSuchItem

MEDIA = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
IMMUTABLE = "public, max-age=31536000, immutable"


def load(root: Path = STATIC) -> dict[str, bytes]:
    """Every servable file under ``root``, by its path relative to it."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in MEDIA
    }


def route(base: str) -> Route:
    files = load()

    async def newsroom_static(request: Request) -> Response:
        name = str(request.path_params["name"])
        body = files.get(name)
        if body is None:
            raise NoSuchItem("нет такого файла")
        fresh = request.query_params.get("v") == asset_version(name)
        headers = {"Cache-Control": IMMUTABLE if fresh else "no-cache"}
        return Response(body, media_type=MEDIA[Path(name).suffix], headers=headers)

    return Route(
        f"{base}/static/{{name:path}}",
        newsroom_static,
        methods=["GET", "HEAD"],
        name="newsroom.static",
    )
