"""Who is voting: a random voter id in a cookie signed with HMAC, and the client's address."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from xabar.runtime.clients import Network, client_address, hash_address, subnet_of

VOTER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ADDRESS_KEY_PURPOSE = b"xabar.polls: client address hashes"


def address_key(salt: str) -> str:
    """The polls' own key for address hashes, derived from the ``address_salt`` setting: the
    polls' hashes of an address never equal another service's, even with the same setting."""
    return hmac.new(salt.encode(), ADDRESS_KEY_PURPOSE, "sha256").hexdigest()


class VoterCookies:
    """``<voter id>.<signature>``; a cookie whose signature does not verify is ignored."""

    def __init__(self, secret: str, *, name: str, max_age_s: int, secure: bool) -> None:
        self._key = secret.encode()
        self._mac = hmac.new(self._key, b"voter:", "sha256")  # copied per use: keyed once
        self.name = name
        self.max_age_s = max_age_s
        self.secure = secure
        # what Starlette's set_cookie writes for these attributes (the value needs no quoting:
        # ids and signatures are URL-safe base64), without building a SimpleCookie each time
        self._attributes = f"; HttpOnly; Max-Age={max_age_s}; Path=/; SameSite=lax" + (
            "; Secure" if secure else ""
        )

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(18)

    def _sign(self, voter_id: str) -> str:
        h = self._mac.copy()
        h.update(voter_id.encode())
        mac = h.digest()[:18]
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

    def header(self, voter_id: str) -> bytes:
        """The ``Set-Cookie`` value that hands ``voter_id`` to the client."""
        return f"{self.name}={self.encode(voter_id)}{self._attributes}".encode("latin-1")

    def issue(self, response: Response, voter_id: str) -> None:
        response.raw_headers.append((b"set-cookie", self.header(voter_id)))


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
    ORIGINS_CACHED = 10_000  # addresses whose hashes are kept (cleared when full)

    def __init__(
        self, cookies: VoterCookies, trusted: tuple[Network, ...], address_salt: str
    ) -> None:
        self.cookies = cookies
        self.trusted = trusted
        self._salt = address_key(address_salt)
        self._origins: dict[str, Origin] = {}

    def voter(self, conn: HTTPConnection) -> Voter:
        return self.voter_of(conn.cookies.get(self.cookies.name))

    def voter_of(self, cookie: str | None) -> Voter:
        """The voter of a cookie value, or a new one if it is absent or does not verify."""
        known = self.cookies.decode(cookie)
        if known is not None:
            return Voter(known, is_new=False)
        return Voter(self.cookies.new_id(), is_new=True)

    def known_voter(self, conn: HTTPConnection) -> str | None:
        return self.cookies.read(conn)

    def origin(self, conn: HTTPConnection) -> Origin:
        return self.origin_of(client_address(conn.scope, self.trusted))

    def origin_of(self, address: str) -> Origin:
        known = self._origins.get(address)
        if known is not None:
            return known
        if len(self._origins) >= self.ORIGINS_CACHED:
            self._origins.clear()
        origin = self._origins[address] = self._origin_of(address)
        return origin

    def _origin_of(self, address: str) -> Origin:
        try:
            ipaddress.ip_address(address)
            subnet = subnet_of(address)
        except ValueError:
            subnet = address  # not an IP (a test client, a socket): its own "subnet"
        return Origin(hash_address(address, self._salt), hash_address(subnet, self._salt))
