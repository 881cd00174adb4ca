"""Every Lua script of the services and the runtime declares the keys it touches (pure: no Redis).

Redis Cluster routes a script by its KEYS and refuses (CROSSSLOT) keys of several slots; a key
built inside a script from a literal (``'feed:' .. generation``) or taken from ARGV is invisible
to both. The rule checked here, on the script's text: the key argument of every ``redis.call``
is ``KEYS[n]``, or an expression that starts with a name bound (by ``local x =``, an assignment,
a ``for ... in ipairs(...)`` or a function parameter at every call site) to such an expression.
Where a script builds names from a declared prefix (the feed's generations), the prefix is one
of its KEYS and carries the hash tag, so every key it builds is in the declared slot; the
cluster tier (``tests/platform/test_cluster_scripts.py``) runs them on a real cluster.

The second half checks, for the scripts' callers, that the KEYS they pass are one slot.
"""

import importlib
import pkgutil
import re
from datetime import UTC, datetime
from types import ModuleType

import pytest
from redis.crc import key_slot

from tests.support.tips import tip_doc

PACKAGES = ("xabar.feed", "xabar.polls", "xabar.ingest", "xabar.publisher", "xabar.runtime")
KEYLESS = frozenset({"TIME", "PUBLISH", "PING", "ECHO"})  # the first argument is no key
_CALL = re.compile(r"redis\.p?call\(\s*(['\"])(\w+)\1\s*(,)?")
_NAME = re.compile(r"[A-Za-z_]\w*")


def _modules() -> list[ModuleType]:
    found: list[ModuleType] = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not info.name.endswith("__main__"):
                found.append(importlib.import_module(info.name))
    return found


def _scripts() -> dict[str, str]:
    """Every module-level string holding a ``redis.call``: the scripts, by where they are."""
    out: dict[str, str] = {}
    for module in _modules():
        for attr, value in vars(module).items():
            if isinstance(value, str) and "redis.call(" in value:
                out[f"{module.__name__}.{attr}"] = value
    return out


def _strip_comments(lua: str) -> str:
    return "\n".join(re.sub(r"--(?!\[).*$", "", line) for line in lua.splitlines())


def _argument(text: str, at: int) -> str:
    """The expression starting at ``at`` up to its top-level ``,`` or ``)``."""
    depth, i = 0, at
    while i < len(text):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        elif c in "'\"":
            i = text.index(c, i + 1)
        i += 1
    return text[at:i].strip()


def _root(expr: str) -> str:
    """The first token of ``expr``: ``KEYS``, a name, or the start of a literal."""
    expr = expr.lstrip("( ")
    m = _NAME.match(expr)
    return m.group(0) if m else expr[:1]


def _derived(lua: str) -> set[str]:
    """The names bound to KEYS-rooted expressions, to a fixpoint."""
    names = {"KEYS"}
    binds = [
        (m.group(1), m.group(2))
        for m in re.finditer(
            r"(?<![\w.])(?=([A-Za-z_]\w*)(?:\[[^\]]*\])?\s*=(?!=)\s*([^\n;]+))", lua
        )
    ]
    loops = re.findall(r"for\s+\w+\s*,\s*(\w+)\s+in\s+i?pairs\(([^\n]+?)\)\s+do", lua)
    functions = re.findall(r"local\s+function\s+(\w+)\(\s*(\w+)", lua)
    changed = True
    while changed:
        changed = False
        for name, expr in [*binds, *loops]:
            if name not in names and _root(expr) in names:
                names.add(name)
                changed = True
        for function, param in functions:
            if param in names:
                continue
            calls = [
                _argument(lua, m.end())
                for m in re.finditer(rf"(?<![\w.]){function}\(", lua)
                if not lua[: m.start()].rstrip().endswith("function")
            ]
            if calls and all(_root(c) in names for c in calls):
                names.add(param)
                changed = True
    return names


def undeclared(lua: str) -> list[str]:
    """The ``redis.call``s of ``lua`` whose key is not declared in KEYS (empty: all are)."""
    text = _strip_comments(lua)
    names = _derived(text)
    bad = []
    for m in _CALL.finditer(text):
        command = m.group(2).upper()
        if command in KEYLESS or not m.group(3):
            continue
        key = _argument(text, m.end())
        if _root(key) not in names:
            bad.append(f"{command} {key}")
    return bad


SCRIPTS = _scripts()


def test_the_scripts_are_found() -> None:
    assert len(SCRIPTS) >= 15, sorted(SCRIPTS)
    for expected in ("xabar.feed.scripts.APPLY", "xabar.polls.counter.CAST"):
        assert expected in SCRIPTS


@pytest.mark.parametrize("where", sorted(SCRIPTS))
def test_every_key_a_script_touches_is_declared(where: str) -> None:
    assert undeclared(SCRIPTS[where]) == []


def test_the_check_finds_keys_built_from_literals_or_argv() -> None:
    assert undeclared(
        "local P = 'feed:' .. redis.call('GET', KEYS[1])\nredis.call('HGET', P .. 'a', 1)"
    )
    assert undeclared("for i = 5, #ARGV do redis.call('ZADD', ARGV[i], 1, 'x') end")
    assert undeclared("local function f(P) redis.call('DEL', P) end\nf('x')")
    assert undeclared("redis.call('DEL', KEYS[1])\nredis.call('TIME')") == []
    lua = "local function f(P) redis.call('DEL', P .. 'a') end\nlocal b = KEYS[2] .. 'g'\nf(b)"
    assert undeclared(lua) == []


def _one_slot(keys: list[str]) -> set[int]:
    return {key_slot(k.encode()) for k in keys}


def test_the_feeds_scripts_get_one_slot() -> None:
    from xabar.feed import scripts

    for keys in (scripts.APPLY_KEYS, scripts.READ_KEYS, scripts.SWITCH_KEYS):
        assert len(_one_slot(keys)) == 1, keys
    # a generation's keys, built in the scripts from the declared prefix, are in that slot too
    built = [f"{scripts.BASE}g7:z:c:KZ", f"{scripts.BASE}g7:k:a:some-article"]
    assert _one_slot(built) == _one_slot(scripts.READ_KEYS)
    assert len(_one_slot(scripts.GENERATIONS_KEYS)) == 1
    # an article's document: one bucket's keys (every generation's) are one slot
    bucket = scripts.doc_bucket("some-article")
    assert len(_one_slot([scripts.doc_key(bucket, g) for g in ("g7", "g8")])) == 1


def test_a_votes_keys_are_one_slot() -> None:
    from xabar.polls.counter import AddressPolicy, VoteCounter

    counter = VoteCounter.__new__(VoteCounter)
    VoteCounter.__init__(counter, _NoRedis(), "polls", AddressPolicy(5, 1000, 0, 1000, 9, 9))  # type: ignore[arg-type]
    keys, _args = counter._cast_call("p1", "v1", ["o1"], "addrhash", "subnethash")
    assert len(_one_slot(keys)) == 1, keys
    other, _ = counter._cast_call("p2", "v2", ["o1"], "x", "y")
    assert _one_slot(other) == _one_slot(keys)  # the polls' one tag, vote log included
    assert _one_slot([counter.log_stream, counter.dirty_key]) == _one_slot(keys)


def test_an_intake_accept_is_one_slot() -> None:
    from xabar.ingest.intake import Intake

    for prefix in ("xabar:ingest", "xabar:ingest:comments", "xabar:ingest:letters"):
        intake = Intake.__new__(Intake)
        intake.p = prefix
        keys = [intake.key_record("s1"), intake.stream, intake.pending_key("s1")]
        keys.append(intake.receipt_key("hash"))
        assert len(_one_slot(keys)) == 1, keys


def test_a_tip_put_is_one_slot() -> None:
    from xabar.publisher.repositories.tips import TipIndex

    index = TipIndex.__new__(TipIndex)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    doc = tip_doc("t1", at, version=2, status="in_review", country="KZ")
    keys, _args = index._call(doc, ["xabar:publisher:{tips}:country:TJ"])
    assert len(_one_slot(keys)) == 1, keys
    assert "xabar:publisher:{tips}:country:TJ" in keys


class _NoRedis:
    """Only ``register_script`` is called by the constructors checked here."""

    def register_script(self, script: str) -> object:
        return script
