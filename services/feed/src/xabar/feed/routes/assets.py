"""The site's static files (its stylesheet), served with a year's cache: their URLs carry the
file's hash (``/static/site.css?v=...``)."""

from datetime import UTC, datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from xabar.feed.errors import NotFound
from xabar.feed.feeds import TEXT, Feeds
from xabar.feed.routes.deps import Deps
from xabar.runtime.rendered import Rendered, respond
from xabar.runtime.routing import Router

STATIC = Path(__file__).resolve().parents[1] / "static"
MEDIA = {".css": "text/css; charset=utf-8", ".png": "image/png"}

router = Router(tags=["assets"])


def load_assets() -> dict[str, Rendered]:
    """Every file of ``static/``, read once at start."""
    started = datetime.now(UTC).replace(microsecond=0)
    return {
        path.name: Rendered(
            body=path.read_bytes(),
            media_type=MEDIA[path.suffix],
            revision=0,
            last_modified=started,
            cache_control="public, max-age=31536000, immutable",
        )
        for path in sorted(STATIC.iterdir())
        if path.suffix in MEDIA
    }


def robots(feeds: Feeds) -> Rendered:
    return Rendered(
        body=feeds.robots(),
        media_type=TEXT,
        revision=0,
        last_modified=datetime.now(UTC).replace(microsecond=0),
        cache_control="public, max-age=3600",
    )


@router.get(
    "/static/{name}",
    "A static file",
    responses={200: "text/css", 304: None, 404: None},
    include_in_schema=False,
)
async def static_file(request: Request) -> Response:
    asset = Deps.of(request).assets.get(request.path_params["name"])
    if asset is None:
        raise NotFound("no such file")
    return respond(asset, request.headers)
