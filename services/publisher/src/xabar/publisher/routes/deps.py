"""What every endpoint gets its collaborators from: one typed object, built by the composition
root (``app.create_app``) and kept in ``app.state.deps``."""

from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

from xabar.publisher.accounts import Accounts
from xabar.publisher.articles import ArticleService
from xabar.publisher.comments import CommentService
from xabar.publisher.config import PublisherSettings
from xabar.publisher.editors import EditorService
from xabar.publisher.images import UploadSlots
from xabar.publisher.inbox import InboxService
from xabar.publisher.letters import LetterService
from xabar.publisher.library import MediaLibrary
from xabar.publisher.polls import PollsClient
from xabar.publisher.previews import FeedPreview
from xabar.publisher.profiles import ProfileService
from xabar.publisher.repositories.audit import AuditLog
from xabar.runtime.auth import Principal, TokenIssuer

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Deps:
    settings: PublisherSettings
    codec: TokenIssuer
    editors: EditorService
    accounts: Accounts
    articles: ArticleService
    inbox: InboxService
    library: MediaLibrary
    audit: AuditLog
    preview: FeedPreview
    comments: CommentService
    letters: LetterService
    polls: PollsClient  # the polls service's API, for the newsroom's poll pages
    uploads: UploadSlots  # bodies that may carry an image, a few at a time
    profiles: ProfileService  # «О стране»

    @classmethod
    def of(cls, request: Request) -> "Deps":
        return of_type(request.app.state.deps, cls, "app.state.deps is not the publisher's Deps")


def of_type(value: object, cls: type[T], wrong: str) -> T:
    """``value`` (what the composition root or a guard put in a state) as the ``cls`` it must
    be; ``TypeError(wrong)`` if it is not: the code that sets it did not run."""
    if not isinstance(value, cls):
        raise TypeError(wrong)
    return value


def principal(request: Request) -> Principal:
    """Who is asking: set by the guard (``routes.common.guard``) before a secured endpoint runs."""
    who = getattr(request.state, "principal", None)
    return of_type(who, Principal, "a secured endpoint ran without the guard")
