"""Client addresses kept only as keyed hashes that no other service can match.

Every hash is an HMAC-SHA256 under a key derived from ingest's own secret
(``XABAR_INGEST_ADDRESS_SALT``) and a label naming ingest and the purpose, truncated to 64 bits.
No other service derives keys with these labels, so even a secret set to the same value
elsewhere gives hashes that cannot be joined with theirs (a tip's hash is never a voter's), and
the truncation leaves many addresses behind every hash.

- ``tips``: rate limits and the ``client_hash`` stored with a tip. Its key changes every UTC day
  (``rotate_s``), so one reporter's tips of different days cannot be linked by their hashes.
- ``comments``: the comments' and letters' own key, stable, so the newsroom can block an address
  hash for a set time.
- ``binding``: what a form token is bound to (the client it was served to).
"""

import hashlib
import hmac
import time
from collections.abc import Callable

HEX_CHARS = 16  # 64 bits


class AddressHasher:
    def __init__(
        self,
        secret: bytes,
        purpose: str,
        *,
        rotate_s: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = hmac.new(secret, f"xabar-ingest/address/{purpose}".encode(), "sha256").digest()
        self.rotate_s = rotate_s
        self.clock = clock

    def _period_key(self) -> bytes:
        if self.rotate_s is None:
            return self._key
        period = int(self.clock() // self.rotate_s)
        return hmac.new(self._key, str(period).encode(), hashlib.sha256).digest()

    def __call__(self, address: str) -> str:
        digest = hmac.new(self._period_key(), address.encode(), hashlib.sha256).hexdigest()
        return digest[:HEX_CHARS]


DAY_S = 86_400


def tips_hasher(secret: bytes) -> AddressHasher:
    return AddressHasher(secret, "tips", rotate_s=DAY_S)


def comments_hasher(secret: bytes) -> AddressHasher:
    return AddressHasher(secret, "comments")


def binding_hasher(secret: bytes) -> AddressHasher:
    return AddressHasher(secret, "form-binding")
