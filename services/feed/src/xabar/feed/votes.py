"""A page the polls service sends a reader back to after a form vote carries what was counted:
``?voted=POLL_ID.OPTION[-OPTION...]&tally=N`` (``N``: the poll's counted-vote sequence with that
vote, the version of the first ``poll.tallied`` that includes it; see the polls README). That
page is a variant of the page without them (``split_vote``): cached under (that page's URL, the
poll, the options), so at most one per page, poll and choice, and served by the fast path too
once it shows a tally at least ``N``.
"""

import re
from collections.abc import Hashable
from dataclasses import dataclass

VOTED, TALLY = "voted", "tally"
_VOTED = re.compile(r"([A-Za-z0-9_-]{1,64})\.(o[0-9]{1,2}(?:-o[0-9]{1,2}){0,19})")
_TALLY = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True, slots=True)
class Vote:
    """What the polls service says it counted for the reader coming back to a page."""

    poll_id: str
    options: tuple[str, ...]
    tally: int  # the tally version that includes this vote


def split_vote(path: str, query: str) -> tuple[Hashable, Vote] | None:
    """The variant key and the vote of a request target whose query says a vote was counted;
    None when it says none (or says it in a shape the polls service never sends)."""
    if VOTED not in query:
        return None
    voted = tally = None
    rest: list[str] = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == VOTED and voted is None:
            voted = _VOTED.fullmatch(value)
        elif name == TALLY and tally is None:
            tally = value if _TALLY.fullmatch(value) else None
        elif part:
            rest.append(part)
    if voted is None or tally is None:
        return None
    options = tuple(sorted(voted.group(2).split("-")))
    if len(set(options)) != len(options):
        return None
    vote = Vote(voted.group(1), options, int(tally))
    page = f"{path}?{'&'.join(rest)}" if rest else path
    return (page, vote.poll_id, vote.options), vote
