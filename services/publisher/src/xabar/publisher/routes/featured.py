"""The news of the day: site-wide, or of one country section."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.publisher.routes import params
from xabar.publisher.routes.articles import answers, article_response
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import FeaturedOut, FeatureIn
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response

router = PublisherRouter(tags=["workflow"], security=Role.EDITOR)


@router.post(
    "/api/v1/articles/{article_id}/feature",
    "Make it the news of the day (site-wide, or of a country section)",
    body=FeatureIn,
    responses=answers(404, 409, 422),
)
async def feature(request: Request) -> Response:
    deps = Deps.of(request)
    body = await params.read_body(request, FeatureIn, 4096)
    article = await deps.articles.feature(
        principal(request), params.path_id(request, "article_id"), body.country
    )
    return article_response(article, deps.settings)


@router.delete(
    "/api/v1/articles/{article_id}/feature",
    "Stop it being the news of the day",
    parameters=[params.query("country", "the country section; none for site-wide")],
    responses=answers(404, 409),
)
async def unfeature(request: Request) -> Response:
    deps = Deps.of(request)
    country = params.q_choice(request, "country", set(COUNTRIES))
    article = await deps.articles.unfeature(
        principal(request), params.path_id(request, "article_id"), country
    )
    return article_response(article, deps.settings)


@router.get(
    "/api/v1/featured",
    "The news of the day (site-wide and per country)",
    security=Role.CONTRIBUTOR,
    responses={200: FeaturedOut},
)
async def featured(request: Request) -> Response:
    rows = await Deps.of(request).articles.featured()
    countries = {k.split(":", 1)[1]: v for k, v in rows.items() if k.startswith("country:") and v}
    return json_response(FeaturedOut(site=rows.get("site"), countries=countries))
