"""The polls service's exception hierarchy. Routes map these to HTTP statuses.

Messages are Russian: they reach readers (the HTML page) and editors as they are.
"""

from typing import ClassVar

from xabar.runtime.errors import UNREACHABLE, ServiceError

# Redis or MongoDB cannot be reached right now: answered 503, retried by the loops, no traceback.
UNAVAILABLE: tuple[type[Exception], ...] = UNREACHABLE


class PollsError(ServiceError):
    """Base of every error the polls service raises on purpose."""

    code = "polls_error"


class PollNotFound(PollsError):
    code = "poll_not_found"

    def __init__(self, poll_id: str) -> None:
        super().__init__(f"Опрос {poll_id!r} не найден")
        self.poll_id = poll_id


class Said(PollsError):
    """An error always said in the same words (``said``): raised with no arguments."""

    said: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(self.said)


class PollClosed(Said):
    code = "poll_closed"
    said = "Опрос закрыт, голосование окончено"


class PollNotOpen(Said):
    code = "poll_not_open"
    said = "Опрос ещё не начался"


class UnknownOption(PollsError):
    code = "unknown_option"

    def __init__(self, option_id: str) -> None:
        super().__init__(f"В опросе нет варианта {option_id!r}")
        self.option_id = option_id


class InvalidChoice(PollsError):
    """No option, a repeated option, or several options on a single-choice poll."""

    code = "invalid_choice"


class AlreadyVoted(Said):
    code = "already_voted"
    said = "Вы уже проголосовали в этом опросе"


class TooManyVotes(PollsError):
    """The address hit the request rate, its per-poll cooldown or its per-poll limit."""

    code = "too_many_votes"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)


class InvalidPoll(PollsError):
    """A poll an editor sent that breaks a rule pydantic cannot see (times, options)."""

    code = "invalid_poll"


class PollNotEditable(PollsError):
    """Edits are allowed only before the poll opens; closing only while it is open."""

    code = "poll_not_editable"


class ConcurrentChange(Said):
    """Someone else changed the poll between our read and our write; the caller may retry."""

    code = "concurrent_change"
    said = "Опрос изменили одновременно с вами; повторите действие"


class BadImportFile(PollsError):
    code = "bad_import_file"
