"""Who is voting: a random voter id in a cookie signed with HMAC, and the client's address."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from xabar.runtime.clients import Network, client_address, hash_address, subnet_of

VOTER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class VoterCookies:
    """``<voter id>.<signature>``; a cookie whose signature does not verify is ignored."""

    def __init__(self, secret: str, *, name: str, max_age_s: int, secure: bool) -> None:
        self._key = secret.encode()
        self.name = name
        self.max_age_s = max_age_s
        self.secure = secure

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(18)

    def _sign(self, voter_id: str) -> str:
        mac = hmac.new(self._key, b"voter:" + voter_id.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def encode(self, voter_id: str) -> str:
        return f"{voter_id}.{self._sign(voter_id)}"

    def decode(self, value: str | None) -> str | None:
        if not value:
            return None
        voter_id, _, signature = value.partition(".")
        if not VOTER_ID.match(voter_id):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(voter_id).encode()):
            return None
        return voter_id

    def read(self, conn: HTTPConnection) -> str | None:
        return self.decode(conn.cookies.get(self.name))

    def issue(self, response: Response, voter_id: str) -> None:
        response.set_cookie(
            self.name,
            self.encode(voter_id),
            max_age=self.max_age_s,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )


@dataclass(frozen=True, slots=True)
class Voter:
    voter_id: str
    is_new: bool  # the cookie has to be set on the response


@dataclass(frozen=True, slots=True)
class Origin:
    """A client address as salted hashes only: of the address and of its subnet."""

    address_hash: str
    subnet_hash: str


class Identities:
    def __init__(
        self, cookies: VoterCookies, trusted: tuple[Network, ...], address_salt: str
    ) -> None:
        self.cookies = cookies
        self.trusted = trusted
        self._salt = address_salt

    def voter(self, conn: HTTPConnection) -> Voter:
        known = self.cookies.read(conn)
        if known is not None:
            return Voter(known, is_new=False)
        return Voter(self.cookies.new_id(), is_new=True)

    def known_voter(self, conn: HTTPConnection) -> str | None:
        return self.cookies.read(conn)

    def origin(self, conn: HTTPConnection) -> Origin:
        return self.origin_of(client_address(conn.scope, self.trusted))

    def origin_of(self, address: str) -> Origin:
        try:
            ipaddress.ip_address(address)
            subnet = subnet_of(address)
        except ValueError:
            subnet = address  # not an IP (a test client, a socket): its own "subnet"
        return Origin(hash_address(address, self._salt), hash_address(subnet, self._salt))
