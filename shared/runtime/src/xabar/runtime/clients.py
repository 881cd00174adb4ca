"""Who is asking: the client address behind trusted proxies only, kept as a salted hash."""

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def client_address(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str:
    """The direct peer, or - only when the peer is a trusted proxy - the nearest untrusted hop of
    ``X-Forwarded-For`` (read right to left, skipping our own proxies)."""
    peer = (scope.get("client") or ("0.0.0.0", 0))[0]
    if not trusted_proxies or not _in(peer, trusted_proxies):
        return str(peer)
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    for hop in reversed([h for h in forwarded if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed hop ends what we can trust
        if not _in(hop, trusted_proxies):
            return hop
    return str(peer)


def _in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def hash_address(address: str, salt: str) -> str:
    """A salted, keyed hash of an address: linkable for abuse control, not reversible."""
    return hmac.new(salt.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def subnet_of(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) an address belongs to, for burst detection."""
    ip = ipaddress.ip_address(address)
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
