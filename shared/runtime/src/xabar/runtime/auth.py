"""Editors' bearer tokens: issued by the publisher, verified by every service from its settings.

HS256 JWTs signed with ``jwt_secret`` (shared through each service's settings, never a database).
Claims: ``sub`` (editor id), ``name``, ``role`` (contributor < editor < chief), ``iat``, ``exp``,
``iss`` = "xabar-publisher", ``aud`` = "xabar".
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from starlette.requests import HTTPConnection

from xabar.runtime.errors import RuntimeFault

ISSUER = "xabar-publisher"
AUDIENCE = "xabar"
ALGORITHM = "HS256"


class Role(StrEnum):
    CONTRIBUTOR = "contributor"
    EDITOR = "editor"
    CHIEF = "chief"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANK = {Role.CONTRIBUTOR: 1, Role.EDITOR: 2, Role.CHIEF: 3}


class AuthError(RuntimeFault):
    """No token, or one that is malformed, expired, forged or of another audience (HTTP 401)."""


class ForbiddenError(RuntimeFault):
    """A valid token whose role is below what the action needs (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    editor_id: str
    name: str
    role: Role


class TokenCodec:
    def __init__(self, secret: str, ttl: timedelta = timedelta(minutes=30)) -> None:
        self._secret = secret
        self.ttl = ttl

    def issue(self, principal: Principal, *, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": principal.editor_id,
            "name": principal.name,
            "role": principal.role.value,
            "iat": now,
            "exp": now + self.ttl,
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
            return Principal(str(claims["sub"]), str(claims.get("name", "")), Role(claims["role"]))
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
            raise AuthError("invalid token") from exc

    def authenticate(self, conn: HTTPConnection, minimum: Role) -> Principal:
        """The principal of a request's ``Authorization: Bearer`` header, at least ``minimum``."""
        header = conn.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("missing bearer token")
        principal = self.verify(token.strip())
        if not principal.role.at_least(minimum):
            raise ForbiddenError(f"this action needs the role {minimum.value} or higher")
        return principal
