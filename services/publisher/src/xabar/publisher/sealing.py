"""Opening what ingest sealed to the newsroom's public key (libsodium sealed boxes through
PyNaCl's ``SealedBox``, base64 as the contracts say): a tip's contact, a letter's way to answer.
Only the publisher holds the private key; what it opens is shown to an editor, never stored."""

import base64
import binascii

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox


def unseal(sealed: str, key: PrivateKey) -> bytes | None:
    """The plain bytes of a sealed box, or None if it is not one this key opens."""
    try:
        return SealedBox(key).decrypt(base64.b64decode(sealed, validate=True))
    except (CryptoError, binascii.Error, ValueError):
        return None


def unseal_text(sealed: str, key: PrivateKey | None) -> str | None:
    """A sealed UTF-8 text (a letter's way to answer), or None if it does not open."""
    if key is None:
        return None
    plain = unseal(sealed, key)
    if plain is None:
        return None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        return None
