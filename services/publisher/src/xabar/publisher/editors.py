"""Editors' accounts: argon2id password hashes (argon2-cffi), roles, login and its rate limit.

``editor_emails`` (``_id`` = lower-cased e-mail) is written first and makes e-mails unique
without a secondary index; ``editors`` (``_id`` = editor id) holds the account. A claim left
without its account by a crash is taken over by the next creation with that e-mail.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo.errors import DuplicateKeyError

from xabar.publisher.errors import EditorExists, InvalidCredentials, InvalidInput, TooManyAttempts
from xabar.publisher.repository import Collections
from xabar.runtime.auth import Principal, Role, TokenCodec
from xabar.runtime.ratelimit import RateLimiter

MIN_PASSWORD = 10


def normalize_email(email: str) -> str:
    return email.strip().lower()


class EditorService:
    def __init__(
        self,
        collections: Collections,
        codec: TokenCodec,
        *,
        email_limiter: RateLimiter | None = None,
        address_limiter: RateLimiter | None = None,
    ) -> None:
        self.editors = collections.editors
        self.emails = collections.editor_emails
        self.codec = codec
        self.hasher = PasswordHasher()
        self.email_limiter = email_limiter
        self.address_limiter = address_limiter
        # Verified against when the e-mail is unknown, so both cases cost the same time.
        self._dummy_hash = self.hasher.hash(uuid.uuid4().hex)

    async def create(
        self, *, email: str, name: str, role: Role, password: str, created_by: str | None = None
    ) -> dict[str, Any]:
        email = normalize_email(email)
        name = name.strip()
        if "@" not in email or not name:
            raise InvalidInput("an editor needs an e-mail address and a name")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters")
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        editor_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        try:
            await self.emails.insert_one({"_id": email, "editor_id": editor_id, "at": now})
        except DuplicateKeyError:
            claim = await self.emails.find_one({"_id": email})
            owner = claim and await self.editors.find_one({"_id": claim["editor_id"]})
            if owner or claim is None:
                raise EditorExists(f"an editor with the e-mail {email} exists") from None
            taken = await self.emails.update_one(
                {"_id": email, "editor_id": claim["editor_id"]}, {"$set": {"editor_id": editor_id}}
            )
            if taken.matched_count != 1:
                raise EditorExists(f"an editor with the e-mail {email} exists") from None
        doc = {
            "_id": editor_id,
            "email": email,
            "name": name,
            "role": role.value,
            "password_hash": password_hash,
            "active": True,
            "created_at": now,
            "created_by": created_by,
        }
        await self.editors.insert_one(doc)
        return doc

    async def all(self) -> list[dict[str, Any]]:
        rows = await self.editors.find({}, {"password_hash": 0}).to_list(None)
        return sorted(rows, key=lambda r: r["created_at"])

    async def get_by_email(self, email: str) -> dict[str, Any] | None:
        claim = await self.emails.find_one({"_id": normalize_email(email)})
        if claim is None:
            return None
        doc = await self.editors.find_one({"_id": claim["editor_id"]})
        return doc

    async def login(
        self, email: str, password: str, address_key: str
    ) -> tuple[str, dict[str, Any]]:
        """A token for valid credentials. Attempts are limited per e-mail and address (and per
        address overall) before anything is checked."""
        email = normalize_email(email)
        for limiter, key in (
            (self.email_limiter, f"{email}|{address_key}"),
            (self.address_limiter, address_key),
        ):
            if limiter is None:
                continue
            verdict = await limiter.hit(key)
            if not verdict.allowed:
                raise TooManyAttempts(
                    "too many login attempts; try again later", verdict.retry_after_s
                )
        doc = await self.get_by_email(email)
        stored = doc["password_hash"] if doc else self._dummy_hash
        ok = await asyncio.to_thread(self._verify, stored, password)
        if not ok or doc is None or not doc.get("active", True):
            raise InvalidCredentials("wrong e-mail or password")
        if self.hasher.check_needs_rehash(stored):
            new_hash = await asyncio.to_thread(self.hasher.hash, password)
            await self.editors.update_one(
                {"_id": doc["_id"]}, {"$set": {"password_hash": new_hash}}
            )
        principal = Principal(str(doc["_id"]), doc["name"], Role(doc["role"]))
        return self.codec.issue(principal), doc

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False
