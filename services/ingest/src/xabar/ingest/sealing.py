"""Contacts sealed to the newsroom's public key the moment ingest accepts them.

A sealed box (libsodium ``crypto_box_seal`` through PyNaCl's ``SealedBox``: an ephemeral X25519
key, XSalsa20-Poly1305) can be opened only with the newsroom's private key, which only the
publisher holds. Ingest keeps no way to open what it sealed: the intake, the
``xabar.submissions`` stream and ingest's database hold only the ciphertext, base64 (standard
alphabet, padded), as the contracts say.

What is sealed: a tip's contact as the JSON of ``Contact``; a letter's way to answer as its
UTF-8 text.
"""

import base64
import binascii

from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox

from xabar.contracts import Contact

KEY_BYTES = 32


def public_key(encoded: str) -> PublicKey:
    """The newsroom's public key from its base64 text; ``ValueError`` if it is not one."""
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"must be a {KEY_BYTES}-byte X25519 public key, base64")
    try:
        return PublicKey(raw)
    except CryptoError as exc:  # pragma: no cover - any 32 bytes are a key
        raise ValueError("not an X25519 public key") from exc


class Sealer:
    def __init__(self, key: PublicKey) -> None:
        self._box = SealedBox(key)

    def seal(self, plain: bytes) -> str:
        return base64.b64encode(self._box.encrypt(plain)).decode("ascii")

    def seal_contact(self, contact: Contact) -> str:
        return self.seal(contact.model_dump_json(exclude_none=True).encode())

    def seal_text(self, text: str) -> str:
        return self.seal(text.encode())
