"""Browser-facing protections every service shares: security headers on HTML responses, and an
Origin check for state-changing form posts.

Headers (``SecurityHeaders``, an ASGI middleware, outermost in ``service_app``): every response
gets ``X-Content-Type-Options: nosniff``; every HTML response also gets the service's
``Content-Security-Policy`` and ``Referrer-Policy`` (``PagePolicy``), unless the response set
its own. A service changes directives, not the whole policy::

    PagePolicy().with_(connect_src="'self'")                     # the feed
    PagePolicy().with_(style_src="'unsafe-inline'")              # pages with a <style> block
    PagePolicy().with_(frame_ancestors="https://news.example")   # a form embedded by the site

Origin (``OriginCheck``): a POST (or PUT, PATCH, DELETE) from a browser says where its page came
from. It is refused unless that is one of the service's origins: ``Origin`` when sent; without
it, ``Sec-Fetch-Site`` (``same-origin`` and ``none`` pass) and then ``Referer``. A request with
none of them is no browser's form post (an API client, a script) and passes. ``refusal`` is the
pure decision; ``require`` raises ``ForeignOrigin`` (403) for a route to map to its own words.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xabar.runtime.errors import BadRequest

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

STRICT_CSP: Mapping[str, str] = {
    "default-src": "'none'",
    "style-src": "'self'",
    "img-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}


@dataclass(frozen=True, slots=True)
class PagePolicy:
    """The security headers of one service's HTML responses."""

    csp: Mapping[str, str] = field(default_factory=lambda: dict(STRICT_CSP))
    referrer: str = "strict-origin-when-cross-origin"

    def with_(self, **directives: str) -> "PagePolicy":
        """This policy with ``directives`` (``connect_src="'self'"``) replaced or added; an
        empty string removes one."""
        csp = dict(self.csp)
        for name, sources in directives.items():
            key = name.replace("_", "-")
            if sources:
                csp[key] = sources
            else:
                csp.pop(key, None)
        return PagePolicy(csp, self.referrer)

    @property
    def content_security_policy(self) -> str:
        return "; ".join(f"{name} {sources}" for name, sources in self.csp.items())

    def headers(self) -> dict[str, str]:
        """The headers as a dict, for a response built by hand."""
        return {
            "Content-Security-Policy": self.content_security_policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": self.referrer,
        }


class SecurityHeaders:
    """Adds ``policy``'s headers to HTML responses (and nosniff to all) that lack them."""

    def __init__(self, app: ASGIApp, policy: PagePolicy | None = None) -> None:
        self.app = app
        policy = policy or PagePolicy()
        self._html = (
            (b"content-security-policy", policy.content_security_policy.encode()),
            (b"referrer-policy", policy.referrer.encode()),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.completed(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def completed(self, raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """``raw`` (lower-case names, as ASGI sends them) with the headers it lacks."""
        headers = list(raw)
        names = {name for name, _ in headers}
        if _NOSNIFF[0] not in names:
            headers.append(_NOSNIFF)
        if any(name == b"content-type" and _is_html(value) for name, value in headers):
            headers.extend(h for h in self._html if h[0] not in names)
        return headers


_NOSNIFF = (b"x-content-type-options", b"nosniff")


def _is_html(content_type: bytes) -> bool:
    media = content_type.split(b";")[0].strip().lower()
    return media in (b"text/html", b"application/xhtml+xml")


# --- Origin -------------------------------------------------------------------------------------


class ForeignOrigin(BadRequest):
    """A state-changing request sent from another site's page (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(403, "foreign_origin", "this form may be sent only from our own pages")
        self.reason = reason  # for the log, not for the answer


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, without a default port; None if ``url``
    has no http(s) origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


class OriginCheck:
    """Whether a request's page came from one of ``origins`` (URLs; only their origin counts)."""

    def __init__(self, origins: Iterable[str]) -> None:
        allowed = {origin_of(o) for o in origins if o}
        self.origins = frozenset(o for o in allowed if o is not None)
        if not self.origins:
            raise ValueError("an Origin check needs at least one http(s) origin")

    def refusal(self, method: str, headers: Mapping[str, str]) -> str | None:
        """None if the request may go on; else why not (for the log)."""
        if method.upper() not in UNSAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            if origin_of(origin) in self.origins:
                return None
            return f"Origin {origin[:100]!r} is not ours"
        site = headers.get("sec-fetch-site")
        if site in ("same-origin", "none"):
            return None
        referer = headers.get("referer")
        if referer:
            if origin_of(referer) in self.origins:
                return None
            return "the Referer is not one of our pages"
        if site is not None:
            return f"Sec-Fetch-Site is {site[:20]!r} and there is no Origin or Referer"
        return None  # no browser sent this

    def require(self, request: Request) -> None:
        reason = self.refusal(request.method, request.headers)
        if reason is not None:
            raise ForeignOrigin(reason)

    def scope_refusal(self, scope: Scope) -> str | None:
        return self.refusal(scope["method"], Headers(scope=scope))


__all__ = [
    "STRICT_CSP",
    "ForeignOrigin",
    "OriginCheck",
    "PagePolicy",
    "SecurityHeaders",
    "origin_of",
]
