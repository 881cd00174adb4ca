"""Editors' bearer tokens: signed by the publisher with its private key, verified by every
service that needs them with the public key, and revocable at once per account.

Tokens are JWTs signed with EdDSA (Ed25519, PyJWT with ``cryptography``). Only the publisher holds
the private key (``TokenIssuer``); ingest and polls hold the public key (``TokenVerifier``), so
no service but the publisher can make a token. Claims: ``sub`` (editor id), ``name``, ``role``
(contributor < editor < chief), ``iat``, ``ms`` (the issue time in milliseconds), ``exp``,
``iss`` = "xabar-publisher", ``aud`` = "xabar".

Revocation (``Revocations``): when an account logs out, is disabled, or changes its password or
role, the publisher writes a per-account "not before" time to Redis
(``xabar:auth:not-before:{editor_id}``, kept as long as a token can live). A request with a
token is checked against it (one ``GET``, a fraction of a millisecond): the publisher's guard
calls ``authenticate_live``; ingest and polls put ``RevokedTokens`` in front of their app. A
token issued before the account's "not before" is refused, so a captured token stops working at
once in every service, not when it expires. No answer is cached: the read is cheap, and a cache
would be a window in which a revoked token still works. Redis unreachable: the request fails
(the services answer 503), it is never let through unchecked.

Keys are written as PEM or as the base64 of the raw 32-byte Ed25519 key (what ``keygen`` prints,
and what fits an environment variable)::

    python -m xabar.runtime.auth keygen
"""

import base64
import binascii
import hashlib
import hmac
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from xabar.runtime.errors import RuntimeFault
from xabar.runtime.http import error_response

log = logging.getLogger("xabar.auth")

ISSUER = "xabar-publisher"
AUDIENCE = "xabar"
ALGORITHM = "EdDSA"
NOT_BEFORE = "xabar:auth:not-before:"
MAX_TOKEN_TTL_S = 86_400  # the longest a token may live; revocations are kept this long


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
    """No token, or one that is malformed, expired, forged, revoked or of another audience
    (HTTP 401)."""


class ForbiddenError(RuntimeFault):
    """A valid token whose role is below what the action needs (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    editor_id: str
    name: str
    role: Role


# --- keys ---------------------------------------------------------------------------------------


def _raw(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_")
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is neither PEM nor base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{what} must be an Ed25519 key: 32 bytes in base64, or PEM")
    return raw


def private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM or from the base64 of its 32 raw bytes."""
    if "-----BEGIN" in text:
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the token private key must be an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw(text, "the token private key"))


def public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or from the base64 of its 32 raw bytes."""
    if "-----BEGIN" in text:
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the token public key must be an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw(text, "the token public key"))


def encode_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def generate_keys() -> tuple[str, str]:
    """A new key pair as (private, public), each the base64 of its raw 32 bytes."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode(), encode_public(key.public_key())


# --- revocation ---------------------------------------------------------------------------------


class Revocations:
    """Per-account "not before" times in Redis: written by the publisher, read by every
    verifier."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def revoke(self, editor_id: str, at: float | None = None) -> float:
        """Every token (and session) of the account issued before ``at`` (now) is dead."""
        moment = time.time() if at is None else at
        await self.redis.set(NOT_BEFORE + editor_id, repr(moment), ex=MAX_TOKEN_TTL_S + 60)
        return moment

    async def not_before(self, editor_id: str) -> float | None:
        raw = await self.redis.get(NOT_BEFORE + editor_id)
        return float(raw) if raw is not None else None

    async def is_revoked(self, editor_id: str, issued_at: float) -> bool:
        since = await self.not_before(editor_id)
        return since is not None and issued_at < since


# --- tokens -------------------------------------------------------------------------------------


class TokenVerifier:
    """Checks editors' tokens with the publisher's public key and the revocations."""

    def __init__(self, key: Ed25519PublicKey | str, revocations: Revocations | None) -> None:
        self.key = public_key(key) if isinstance(key, str) else key
        self.revocations = revocations

    def decode(self, token: str) -> tuple[Principal, float]:
        """The principal and the issue time (epoch seconds) of a well-signed, unexpired token;
        no revocation check."""
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
            who = Principal(str(claims["sub"]), str(claims.get("name", "")), Role(claims["role"]))
            issued = claims.get("ms")
            issued_at = int(issued) / 1000 if isinstance(issued, int) else float(claims["iat"])
            return who, issued_at
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except (jwt.InvalidTokenError, ValueError, KeyError, TypeError) as exc:
            raise AuthError("invalid token") from exc

    def verify(self, token: str) -> Principal:
        """The principal of a well-signed, unexpired token (revocation is ``revoked``'s)."""
        return self.decode(token)[0]

    async def revoked(self, token: str) -> bool:
        """Whether a well-signed token was revoked (an ill-signed one is not ours to judge)."""
        if self.revocations is None:
            return False
        try:
            who, issued_at = self.decode(token)
        except AuthError:
            return False
        return await self.revocations.is_revoked(who.editor_id, issued_at)

    def authenticate(self, conn: HTTPConnection, minimum: Role) -> Principal:
        """The principal of a request's ``Authorization: Bearer`` header, at least ``minimum``
        (signature, expiry and role; ``RevokedTokens`` refused revoked ones before)."""
        principal = self.verify(bearer(conn))
        if not principal.role.at_least(minimum):
            raise ForbiddenError(f"this action needs the role {minimum.value} or higher")
        return principal

    async def authenticate_live(self, conn: HTTPConnection, minimum: Role) -> Principal:
        """``authenticate``, and a revoked token is refused (``AuthError``)."""
        principal = self.authenticate(conn, minimum)
        if await self.revoked(bearer(conn)):
            raise AuthError("token revoked")
        return principal


def bearer(conn: HTTPConnection) -> str:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token")
    return token.strip()


class RevokedTokens:
    """ASGI middleware: a request whose bearer token was revoked is answered 401 before the app
    runs (so every route that takes a token refuses it at once, whatever its own check)."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = await self.refusal(scope) if scope["type"] == "http" else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def refusal(self, scope: Scope) -> Response | None:
        """The answer for a revoked token (401), or unreadable revocations (503); else None."""
        try:
            token = bearer(HTTPConnection(scope))
        except AuthError:
            return None
        try:
            revoked = await self.verifier.revoked(token)
        except RedisError:
            log.warning("revocations unreadable: a request with a token refused (503)")
            return error_response(
                503,
                "unavailable",
                "the token cannot be checked right now; try again in a few seconds",
                headers={"Retry-After": "2"},
            )
        if not revoked:
            return None
        return error_response(
            401,
            "token_revoked",
            "this token was revoked (logout, or the account changed); log in again",
            headers={"WWW-Authenticate": 'Bearer realm="xabar", error="invalid_token"'},
        )


class TokenIssuer(TokenVerifier):
    """The publisher's: signs tokens with the private key (and verifies them like the others)."""

    def __init__(
        self,
        key: Ed25519PrivateKey | str,
        revocations: Revocations | None,
        ttl: timedelta = timedelta(minutes=30),
    ) -> None:
        self.private = private_key(key) if isinstance(key, str) else key
        super().__init__(self.private.public_key(), revocations)
        if ttl.total_seconds() > MAX_TOKEN_TTL_S:
            raise ValueError(f"a token lives at most {MAX_TOKEN_TTL_S} s")
        self.ttl = ttl

    def issue(self, principal: Principal, *, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": principal.editor_id,
            "name": principal.name,
            "role": principal.role.value,
            "iat": now,
            "ms": int(now.timestamp() * 1000),
            "exp": now + self.ttl,
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self.private, algorithm=ALGORITHM)

    @property
    def public(self) -> str:
        return encode_public(self.key)

    def derive(self, label: str) -> str:
        """A key of its own for ``label`` (an HMAC of the private key): for what needs a secret
        of the publisher's, such as the keyed hash of login addresses."""
        raw = self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return hmac.new(raw, label.encode(), hashlib.sha256).hexdigest()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["keygen"]:
        print("usage: python -m xabar.runtime.auth keygen", file=sys.stderr)
        return 2
    private, public = generate_keys()
    print(f"XABAR_TOKEN_PRIVATE_KEY={private}")
    print(f"XABAR_TOKEN_PUBLIC_KEY={public}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
