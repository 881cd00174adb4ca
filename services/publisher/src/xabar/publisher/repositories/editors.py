"""Editors' accounts: ``editor_emails`` (``_id`` = lower-cased e-mail -> editor id) is written
first and makes e-mails unique without a secondary index; ``editors`` (``_id`` = editor id) holds
the account. A claim left without its account by a crash is taken over by the next creation with
that e-mail."""

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from xabar.publisher.domain import Doc
from xabar.publisher.errors import EditorExists, NotFound
from xabar.publisher.repositories.collections import Collections


class EditorRepository:
    def __init__(self, collections: Collections) -> None:
        self.editors = collections.editors
        self.emails = collections.editor_emails

    async def claim_email(self, email: str, editor_id: str, at: datetime) -> None:
        """Make ``email`` this editor's (before the account is written); ``EditorExists`` if
        another account holds it."""
        exists = EditorExists(f"редактор с адресом {email} уже есть")
        try:
            await self.emails.insert_one({"_id": email, "editor_id": editor_id, "at": at})
            return
        except DuplicateKeyError:
            pass
        claim = await self.emails.find_one({"_id": email})
        if claim is None or await self.editors.find_one({"_id": claim["editor_id"]}):
            raise exists
        taken = await self.emails.update_one(
            {"_id": email, "editor_id": claim["editor_id"]}, {"$set": {"editor_id": editor_id}}
        )
        if taken.matched_count != 1:
            raise exists

    async def insert(self, doc: Doc) -> None:
        await self.editors.insert_one(doc)

    async def all(self) -> list[Doc]:
        rows = await self.editors.find({}, {"password_hash": 0}).to_list(None)
        return sorted(rows, key=lambda r: r["created_at"])

    async def by_email(self, email: str) -> Doc | None:
        claim = await self.emails.find_one({"_id": email})
        if claim is None:
            return None
        doc: Doc | None = await self.editors.find_one({"_id": claim["editor_id"]})
        return doc

    async def get(self, editor_id: str) -> Doc:
        """The account (without its password hash); ``NotFound`` if there is none."""
        doc: Doc | None = await self.editors.find_one({"_id": editor_id}, {"password_hash": 0})
        if doc is None:
            raise NotFound("такой учётной записи нет")
        return doc

    async def password_hash(self, editor_id: str) -> str | None:
        doc = await self.editors.find_one({"_id": editor_id}, {"password_hash": 1})
        return None if doc is None else str(doc["password_hash"])

    async def update(self, editor_id: str, changes: Doc) -> Doc:
        """Change fields of the account; the account as it is now."""
        done = await self.editors.update_one({"_id": editor_id}, {"$set": changes})
        if done.matched_count != 1:
            raise NotFound("такой учётной записи нет")
        return await self.get(editor_id)

    async def set_password_hash(self, editor_id: str, password_hash: str) -> None:
        await self.editors.update_one(
            {"_id": editor_id}, {"$set": {"password_hash": password_hash}}
        )
