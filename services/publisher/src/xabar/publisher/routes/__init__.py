"""HTTP routes of the publisher service: one module per resource, each with a ``router`` of
named, module-level endpoints declared with their OpenAPI operation.

- ``auth``: login, who am I;          - ``editors``: editors' accounts (chief);
- ``articles``: list, create, read, edit;  - ``workflow``: submit ... unpublish, corrections;
- ``featured``: the news of the day;  - ``revisions``: history, versions, diff, restore;
- ``inbox``: citizen reporters' tips; - ``media``: uploads and public images;
- ``audit``: the audit log;            - ``comments``: moderation of readers' comments.

Every endpoint but the public ones (login, ``/media/{id}``, and the standard ``/healthz``,
``/readyz``, ``/metrics``, ``/openapi.json``) is wrapped by ``common.guard``, which checks the
bearer token FIRST, before the body or the item is read, against the operation's minimum role
(its ``security``, or its router's): a missing, malformed, expired or forged token is 401, a
role below the minimum is 403. Finer rules (a contributor edits only their own drafts) are the
domain's and are 403 as well. Endpoints get their collaborators from ``deps.Deps.of(request)``;
errors are mapped to statuses once, in ``errors.exception_handlers``.
"""

from starlette.routing import BaseRoute

from xabar.publisher.routes import (
    articles,
    audit,
    auth,
    comments,
    editors,
    featured,
    inbox,
    media,
    revisions,
    workflow,
)
from xabar.publisher.routes.common import PublisherRouter, guard

ROUTERS: tuple[PublisherRouter, ...] = (
    auth.router,
    editors.router,
    articles.router,
    workflow.router,
    featured.router,
    revisions.router,
    inbox.router,
    media.router,
    audit.router,
    comments.router,
)


def api_routes() -> list[BaseRoute]:
    return [route for router in ROUTERS for route in router.routes(guard)]
