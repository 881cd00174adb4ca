"""Editors' accounts: argon2id password hashes (argon2-cffi), roles, login and its rate limit.
Storage is the ``EditorRepository``."""

import asyncio
import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from xabar.publisher.domain import Doc
from xabar.publisher.errors import InvalidCredentials, InvalidInput, TooManyAttempts
from xabar.publisher.repositories.audit import AuditLog
from xabar.publisher.repositories.editors import EditorRepository
from xabar.runtime.auth import Principal, Role, TokenCodec
from xabar.runtime.ratelimit import RateLimiter

MIN_PASSWORD = 10


def normalize_email(email: str) -> str:
    return email.strip().lower()


class EditorService:
    def __init__(
        self,
        repo: EditorRepository,
        audit: AuditLog,
        codec: TokenCodec,
        *,
        email_limiter: RateLimiter | None = None,
        address_limiter: RateLimiter | None = None,
    ) -> None:
        self.repo = repo
        self.audit = audit
        self.codec = codec
        self.hasher = PasswordHasher()
        self.email_limiter = email_limiter
        self.address_limiter = address_limiter
        # Verified against when the e-mail is unknown, so both cases cost the same time.
        self._dummy_hash = self.hasher.hash(uuid.uuid4().hex)

    async def create(
        self,
        *,
        email: str,
        name: str,
        role: Role,
        password: str,
        created_by: Principal | None = None,
    ) -> Doc:
        email = normalize_email(email)
        name = name.strip()
        if "@" not in email or not name:
            raise InvalidInput("у редактора должны быть адрес e-mail и имя")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"пароль — не короче {MIN_PASSWORD} символов")
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        editor_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        await self.repo.claim_email(email, editor_id, now)
        doc: Doc = {
            "_id": editor_id,
            "email": email,
            "name": name,
            "role": role.value,
            "password_hash": password_hash,
            "active": True,
            "created_at": now,
            "created_by": created_by.editor_id if created_by else None,
        }
        await self.repo.insert(doc)
        if created_by is not None:
            await self.audit.record(
                created_by, "editor.create", "editor", editor_id, role=role.value
            )
        return doc

    async def all(self) -> list[Doc]:
        return await self.repo.all()

    async def login(self, email: str, password: str, address_key: str) -> tuple[str, Doc]:
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
                    "слишком много попыток входа; попробуйте позже", verdict.retry_after_s
                )
        doc = await self.repo.by_email(email)
        stored = doc["password_hash"] if doc else self._dummy_hash
        ok = await asyncio.to_thread(self._verify, stored, password)
        if not ok or doc is None or not doc.get("active", True):
            raise InvalidCredentials("неверный e-mail или пароль")
        if self.hasher.check_needs_rehash(stored):
            new_hash = await asyncio.to_thread(self.hasher.hash, password)
            await self.repo.set_password_hash(str(doc["_id"]), new_hash)
        principal = Principal(str(doc["_id"]), doc["name"], Role(doc["role"]))
        return self.codec.issue(principal), doc

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False
