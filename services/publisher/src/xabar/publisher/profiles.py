"""«О стране»: the profile of each country section, edited by the newsroom (editors and above).

Saving a profile stores it (``repositories.profiles``) with its version + 1 and emits
``country_profile.published`` v1 (``aggregate_id`` = the country code, ``version`` = the
profile's) through the publisher's outbox relay onto the articles stream, where the feed reads
it; the editor's action is in the audit log. The title and lead are plain text, the body is
sanitized as an article's is, the facts are a short table of label and value. A save carries
the version the editor read: if someone saved since, nothing is stored and ``VersionConflict``
says so (the page shows both texts). ``seed`` stores the profiles of a file that the newsroom
has not written yet (``import-profiles``: the demo's), never overwriting an edit.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xabar.contracts import COUNTRIES, CountryFact, CountryProfile, CountryProfilePublished
from xabar.publisher.articles import IMPORTER
from xabar.publisher.content import sanitize_html
from xabar.publisher.domain import PRODUCER, Doc, EditorRef, utcnow
from xabar.publisher.errors import InvalidInput, NotFound, VersionConflict
from xabar.publisher.repositories.audit import AuditLog
from xabar.publisher.repositories.profiles import HeldProfile, ProfileRepository
from xabar.runtime.auth import Principal

MAX_TITLE = 100
MAX_LEAD = 600
MAX_BODY = 50_000  # the HTML as sent, before the sanitizer
MAX_FACTS = 12
MAX_LABEL = 60
MAX_VALUE = 200
NO_SUCH_COUNTRY = "такой страны на портале нет"


@dataclass(frozen=True, slots=True)
class ProfileDraft:
    """What an editor sent: the fields of ``CountryProfile`` but the country and the time."""

    title: str = ""
    lead: str = ""
    body_html: str = ""
    facts: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> "ProfileDraft":
        return cls(
            title=str(doc.get("title") or ""),
            lead=str(doc.get("lead") or ""),
            body_html=str(doc.get("body_html") or ""),
            facts=tuple((str(f["label"]), str(f["value"])) for f in doc.get("facts") or ()),
        )

    def problems(self) -> list[str]:
        """What keeps it from being saved, in the editor's words (empty: it can be)."""
        found = []
        if not self.title.strip():
            found.append("Укажите название страны.")
        elif len(self.title.strip()) > MAX_TITLE:
            found.append(f"Название длиннее {MAX_TITLE} знаков.")
        if not self.lead.strip():
            found.append("Напишите вводный абзац: он стоит в боковой колонке раздела.")
        elif len(self.lead.strip()) > MAX_LEAD:
            found.append(f"Вводный абзац длиннее {MAX_LEAD} знаков.")
        if len(self.body_html) > MAX_BODY:
            found.append(f"Текст длиннее {MAX_BODY} знаков.")
        facts = self.filled_facts()
        if len(facts) > MAX_FACTS:
            found.append(f"Фактов больше {MAX_FACTS}.")
        if any(not label or not value for label, value in facts):
            found.append("У каждого факта нужны и название, и значение.")
        if any(len(label) > MAX_LABEL or len(value) > MAX_VALUE for label, value in facts):
            found.append(
                f"Название факта — до {MAX_LABEL} знаков, значение — до {MAX_VALUE} знаков."
            )
        return found

    def filled_facts(self) -> list[tuple[str, str]]:
        """The facts without the rows left empty."""
        rows = [(" ".join(a.split()), " ".join(b.split())) for a, b in self.facts]
        return [(a, b) for a, b in rows if a or b]


def country_of(code: str) -> str:
    """The code of a section of the portal (any case), or ``NotFound``."""
    upper = code.strip().upper()
    if upper not in COUNTRIES:
        raise NotFound(NO_SUCH_COUNTRY)
    return upper


class ProfileService:
    def __init__(self, repo: ProfileRepository, audit: AuditLog) -> None:
        self.repo = repo
        self.audit = audit

    async def get(self, code: str) -> Doc | None:
        """The stored profile of a section (None: none yet); ``NotFound`` for no such section."""
        return await self.repo.get(country_of(code))

    async def all(self) -> dict[str, Doc]:
        return await self.repo.all()

    async def save(
        self, by: Principal, code: str, draft: ProfileDraft, expected_version: int
    ) -> Doc:
        """Store the profile as its next version and publish it. ``InvalidInput`` (every problem,
        one per line) if it cannot be used; ``VersionConflict`` if the stored version is not
        ``expected_version`` (0: there was none)."""
        country = country_of(code)
        problems = draft.problems()
        if problems:
            raise InvalidInput("\n".join(problems))
        async with self.repo.locked(country) as held:
            if held.version != expected_version:
                raise VersionConflict("профиль уже изменили, пока вы его правили", held.version)
            doc = await self._write(held, by, draft)
        await self.audit.record(
            by, "country_profile.published", "country", country, version=doc["version"]
        )
        return doc

    async def _write(self, held: HeldProfile, by: Principal, draft: ProfileDraft) -> Doc:
        now = utcnow().replace(microsecond=0)
        profile = CountryProfile(
            country=held.code,
            title=" ".join(draft.title.split()),
            lead=" ".join(draft.lead.split()),
            body_html=sanitize_html(draft.body_html),
            facts=tuple(CountryFact(label=a, value=b) for a, b in draft.filled_facts()),
            updated_at=now,
        )
        event = CountryProfilePublished.create(
            producer=PRODUCER, aggregate_id=held.code, version=held.version + 1, data=profile
        )
        fields: Doc = {
            **profile.model_dump(mode="python", exclude={"country"}),
            "facts": [f.model_dump() for f in profile.facts],
            "updated_by": EditorRef.of(by).model_dump(),
        }
        written: Doc = await held.write(fields, event)
        return written

    async def seed(self, profiles: Iterable[Mapping[str, Any]]) -> list[str]:
        """Store each profile whose country has none yet (an edit is never overwritten); the
        codes stored now. ``InvalidInput`` names a profile that cannot be used."""
        stored = []
        for item in profiles:
            code = country_of(str(item.get("country") or ""))
            draft = ProfileDraft.of(item)
            problems = draft.problems()
            if problems:
                raise InvalidInput(f"{code}: {' '.join(problems)}")
            async with self.repo.locked(code) as held:
                if held.version:
                    continue
                await self._write(held, IMPORTER, draft)
            await self.audit.record(
                IMPORTER, "country_profile.published", "country", code, version=1
            )
            stored.append(code)
        return stored
