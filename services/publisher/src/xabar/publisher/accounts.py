"""What changes an editor's account after it exists: role, disabling and re-enabling, passwords
(changed by the owner, or reset with a one-time link), and logging out everywhere.

Each of these ends every session and every API token of the account at once: it writes the
account's "not before" time (``runtime.auth.Revocations``), which the newsroom's sessions and
every service's token check read. Re-enabling an account ends nothing (a disabled one has no live
session or token left).

A reset link carries a random token; ``repositories.resets.ResetLinks`` keeps only its SHA-256
for ``reset_ttl_s``, and using it deletes it, so it works once. The link is e-mailed when SMTP
is configured and written to the log otherwise (``mail.Mailer``).
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from xabar.publisher.domain import Doc, utcnow
from xabar.publisher.editors import MIN_PASSWORD, EditorService
from xabar.publisher.errors import InvalidCredentials, InvalidInput, NotAllowed, NotFound
from xabar.publisher.mail import Mailer
from xabar.publisher.repositories.resets import ResetLinks
from xabar.runtime.auth import Principal, Revocations, Role


@dataclass(frozen=True, slots=True)
class ResetLink:
    editor_id: str
    url: str


class Accounts:
    def __init__(
        self,
        editors: EditorService,
        revocations: Revocations,
        resets: ResetLinks,
        mailer: Mailer,
        *,
        reset_url: Callable[[str], str],
        reset_ttl_s: int,
    ) -> None:
        self.editors = editors
        self.repo = editors.repo
        self.audit = editors.audit
        self.revocations = revocations
        self.resets = resets
        self.mailer = mailer
        self.reset_url = reset_url
        self.reset_ttl_s = reset_ttl_s

    async def get(self, editor_id: str) -> Doc:
        return await self.repo.get(editor_id)

    async def end_everything(self, editor_id: str) -> None:
        """Every session and API token of the account stops working now."""
        await self.revocations.revoke(editor_id)

    async def set_role(self, by: Principal, editor_id: str, role: Role) -> Doc:
        doc = await self.repo.get(editor_id)
        if editor_id == by.editor_id and role != Role(doc["role"]):
            raise NotAllowed("свою роль изменить нельзя: попросите другого главного редактора")
        if Role(doc["role"]) == role:
            return doc
        new = await self.repo.update(editor_id, {"role": role.value, "updated_at": utcnow()})
        await self.end_everything(editor_id)
        await self.audit.record(by, "editor.role", "editor", editor_id, role=role.value)
        return new

    async def set_active(self, by: Principal, editor_id: str, active: bool) -> Doc:
        doc = await self.repo.get(editor_id)
        if editor_id == by.editor_id and not active:
            raise NotAllowed("свою учётную запись отключить нельзя")
        if bool(doc.get("active", True)) == active:
            return doc
        new = await self.repo.update(editor_id, {"active": active, "updated_at": utcnow()})
        if not active:
            await self.end_everything(editor_id)
        await self.audit.record(
            by, "editor.enable" if active else "editor.disable", "editor", editor_id
        )
        return new

    async def change_password(self, who: Principal, current: str, new: str) -> None:
        """The owner's own change: the current password first."""
        stored = await self.repo.password_hash(who.editor_id)
        if stored is None:
            raise NotFound("такой учётной записи нет")
        if not await self.editors.passwords.verify(stored, current):
            raise InvalidCredentials("текущий пароль введён неверно")
        await self._set_password(who.editor_id, new)
        await self.audit.record(who, "editor.password", "editor", who.editor_id)

    async def send_reset_link(self, by: Principal, editor_id: str) -> ResetLink:
        """A one-time link to set a new password, e-mailed to the account (or logged)."""
        doc = await self.repo.get(editor_id)
        token = secrets.token_urlsafe(32)
        await self.resets.put(token, editor_id, self.reset_ttl_s)
        link = ResetLink(editor_id, self.reset_url(token))
        await self.mailer.send_reset_link(doc["email"], doc["name"], link.url, self.reset_ttl_s)
        await self.audit.record(by, "editor.reset_link", "editor", editor_id)
        return link

    async def reset_target(self, token: str) -> Doc | None:
        """The account a reset link is for, while it is valid (it is not used up here)."""
        editor_id = await self.resets.peek(token)
        if editor_id is None:
            return None
        try:
            return await self.repo.get(editor_id)
        except NotFound:
            return None

    async def reset_password(self, token: str, new: str) -> Doc:
        """Use a reset link: the new password is set and the link is gone."""
        self._check_password(new)
        editor_id = await self.resets.take(token)
        if editor_id is None:
            raise NotFound("ссылка недействительна: она уже использована или устарела")
        doc = await self.repo.get(editor_id)
        await self._set_password(editor_id, new)
        who = Principal(editor_id, str(doc["name"]), Role(doc["role"]))
        await self.audit.record(who, "editor.password_reset", "editor", editor_id)
        return doc

    def _check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"пароль — не короче {MIN_PASSWORD} символов")
        if len(password) > 1024:
            raise InvalidInput("пароль — не длиннее 1024 символов")

    async def _set_password(self, editor_id: str, password: str) -> None:
        self._check_password(password)
        hashed = await self.editors.passwords.hash(password)
        await self.repo.set_password_hash(editor_id, hashed)
        await self.end_everything(editor_id)
