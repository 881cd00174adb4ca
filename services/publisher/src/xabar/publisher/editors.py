"""Editors' accounts: argon2id password hashes (``passwords``), roles, login and its limits
(``repositories.logins``). Storage is the ``EditorRepository``."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from xabar.publisher.domain import Doc
from xabar.publisher.errors import InvalidCredentials, InvalidInput
from xabar.publisher.passwords import Passwords
from xabar.publisher.repositories.audit import AuditLog
from xabar.publisher.repositories.editors import EditorRepository
from xabar.publisher.repositories.logins import LoginThrottle
from xabar.runtime.auth import Principal, Role, TokenIssuer

MIN_PASSWORD = 10


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(eq=False)
class EditorService:
    """Its collaborators; logins are limited by ``throttle`` (none: the CLI)."""

    repo: EditorRepository
    audit: AuditLog
    codec: TokenIssuer
    passwords: Passwords
    throttle: LoginThrottle | None = None

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
        password_hash = await self.passwords.hash(password)
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
        """A token for valid credentials. Attempts are counted (``LoginThrottle``) before
        anything is checked; ``address_key`` is the client's address as a keyed hash."""
        email = normalize_email(email)
        if self.throttle is not None:
            await self.throttle.check(email, address_key)
        doc = await self.repo.by_email(email)
        stored = doc["password_hash"] if doc else self.passwords.dummy_hash
        ok = await self.passwords.verify(stored, password)
        if not ok or doc is None or not doc.get("active", True):
            raise InvalidCredentials("неверный e-mail или пароль")
        if self.throttle is not None:
            await self.throttle.remember(email, address_key)
        if self.passwords.needs_rehash(stored):
            await self.repo.set_password_hash(str(doc["_id"]), await self.passwords.hash(password))
        principal = Principal(str(doc["_id"]), doc["name"], Role(doc["role"]))
        return self.codec.issue(principal), doc
