"""Edit conflicts: a three-way merge of an article's fields, and of its body by paragraph,
against the version both editors started from. Pure: no I/O.

When an editor saves a version that someone else has moved on from (the API's 409 under
``If-Match``), the newsroom merges the two edits against their common version (``base``):

- a field only one side changed takes that side's value; both the same: that value;
- lists (countries, tags): what either side added is in, what either side removed is out;
- the body is split into its top-level blocks (paragraphs, subheadings, quotes, lists,
  figures) and merged block by block (diff3): a stretch only one side changed takes that side;
  a stretch both changed differently is a conflict, and the merged body keeps BOTH texts, the
  editor's first, so that nothing is lost until the editor chooses;
- any other field both changed differently (the title, the lead, the photo...) is a conflict
  whose merged value is the editor's own, with theirs kept beside it in ``conflicts``.

The result says which fields conflict; the newsroom shows them and saves only what the editor
confirms, against the newest version.
"""

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LIST_FIELDS = frozenset({"countries", "tags"})
BODY = "body_html"
_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:[^>"]|"[^"]*")*>')
VOID = frozenset({"img", "br", "hr", "wbr", "source", "input"})


@dataclass(frozen=True, slots=True)
class Hunk:
    """A stretch of the body both sides changed differently: the blocks of each."""

    base: tuple[str, ...]
    mine: tuple[str, ...]
    theirs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field both sides changed differently (for the body, its conflicting stretches)."""

    field: str
    base: Any
    mine: Any
    theirs: Any
    hunks: tuple[Hunk, ...] = ()


@dataclass(frozen=True, slots=True)
class Merged:
    values: dict[str, Any]  # every field merged (a conflict: see above)
    changed_by_them: tuple[str, ...]  # fields the other side changed
    conflicts: tuple[Conflict, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not self.conflicts

    def conflict(self, name: str) -> Conflict | None:
        return next((c for c in self.conflicts if c.field == name), None)


def merge(
    base: Mapping[str, Any],
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    fields: Iterable[str],
) -> Merged:
    """``mine`` and ``theirs`` merged against ``base``, field by field (see the module)."""
    values: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    changed: list[str] = []
    for name in fields:
        b, m, t = base.get(name), mine.get(name), theirs.get(name)
        if t != b:
            changed.append(name)
        if m == t or t == b:
            values[name] = m
        elif m == b:
            values[name] = t
        elif name in LIST_FIELDS:
            values[name] = merge_lists(b or [], m or [], t or [])
        elif name == BODY:
            body, hunks = merge_body(b or "", m or "", t or "")
            values[name] = body
            if hunks:
                conflicts.append(Conflict(name, b, m, t, tuple(hunks)))
        else:
            values[name] = m
            conflicts.append(Conflict(name, b, m, t))
    return Merged(values, tuple(changed), tuple(conflicts))


def merge_lists(base: Sequence[Any], mine: Sequence[Any], theirs: Sequence[Any]) -> list[Any]:
    """Mine in my order, then what they added; less what either side removed."""
    removed = {x for x in base if x not in mine or x not in theirs}
    out = [x for x in mine if x not in removed]
    out += [x for x in theirs if x not in out and x not in removed]
    return out


def blocks(body_html: str) -> list[str]:
    """The top-level blocks of a sanitized body, in order (together they are the body)."""
    out: list[str] = []
    depth, start = 0, 0
    for match in _TAG.finditer(body_html):
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name in VOID or match.group(0).endswith("/>"):
            if depth == 0:
                _cut(body_html, start, match.start(), out)
                out.append(match.group(0))
                start = match.end()
            continue
        if not closing:
            if depth == 0:
                _cut(body_html, start, match.start(), out)
                start = match.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                out.append(body_html[start : match.end()])
                start = match.end()
    _cut(body_html, start, len(body_html), out)
    return out


def _cut(text: str, start: int, end: int, out: list[str]) -> None:
    piece = text[start:end]
    if piece.strip():
        out.append(piece)


def merge_body(base: str, mine: str, theirs: str) -> tuple[str, list[Hunk]]:
    """The body merged block by block; where both changed a stretch differently, both texts
    (mine, then theirs) and the hunk."""
    merged, hunks = diff3(blocks(base), blocks(mine), blocks(theirs))
    return "".join(merged), hunks


def diff3(
    base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]
) -> tuple[list[str], list[Hunk]]:
    """A three-way merge of sequences: stretches between the elements both sides kept from
    ``base`` are taken from the side that changed them, or both when both did."""
    ours, their = _kept(base, mine), _kept(base, theirs)
    out: list[str] = []
    hunks: list[Hunk] = []
    i = j = k = 0
    while True:
        stable = next(
            (
                n
                for n in range(i, len(base))
                if n in ours and n in their and ours[n] >= j and their[n] >= k
            ),
            None,
        )
        i2, j2, k2 = (
            (len(base), len(mine), len(theirs))
            if stable is None
            else (stable, ours[stable], their[stable])
        )
        b, m, t = tuple(base[i:i2]), tuple(mine[j:j2]), tuple(theirs[k:k2])
        if m == t or t == b:
            out += m
        elif m == b:
            out += t
        else:
            out += m + tuple(x for x in t if x not in m)
            hunks.append(Hunk(b, m, t))
        if stable is None:
            return out, hunks
        out.append(base[stable])
        i, j, k = i2 + 1, j2 + 1, k2 + 1


def _kept(base: Sequence[str], other: Sequence[str]) -> dict[int, int]:
    """Where each element of ``base`` that ``other`` kept is in ``other``."""
    matcher = difflib.SequenceMatcher(None, list(base), list(other), autojunk=False)
    kept: dict[int, int] = {}
    for a, b, size in matcher.get_matching_blocks():
        for n in range(size):
            kept[a + n] = b + n
    return kept


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a side-by-side comparison: a block before and after (either may be empty)."""

    before: str
    after: str
    kind: str  # "same", "changed", "removed", "added"


def side_by_side(before: Sequence[str], after: Sequence[str]) -> list[Row]:
    """Two versions of a sequence of blocks aligned row by row."""
    matcher = difflib.SequenceMatcher(None, list(before), list(after), autojunk=False)
    rows: list[Row] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            rows += [Row(x, x, "same") for x in before[a1:a2]]
        elif op == "delete":
            rows += [Row(x, "", "removed") for x in before[a1:a2]]
        elif op == "insert":
            rows += [Row("", x, "added") for x in after[b1:b2]]
        else:
            old, new = list(before[a1:a2]), list(after[b1:b2])
            for n in range(max(len(old), len(new))):
                left = old[n] if n < len(old) else ""
                right = new[n] if n < len(new) else ""
                rows.append(
                    Row(
                        left, right, "changed" if left and right else "removed" if left else "added"
                    )
                )
    return rows
