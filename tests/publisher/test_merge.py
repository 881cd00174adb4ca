"""Edit conflicts merged three ways against the common version: what one side changed is taken,
what both changed differently keeps both texts (pure logic)."""

import random

from xabar.publisher.merge import blocks, diff3, merge, merge_body, merge_lists

FIELDS = ("title", "lead", "body_html", "countries", "tags", "image")
P = [f"<p>Абзац {n}.</p>" for n in range(10)]


def body(*parts: str) -> str:
    return "".join(parts)


def test_the_body_splits_into_its_top_level_blocks_and_back() -> None:
    html = (
        '<h2>Итоги</h2><p>Текст <a href="https://x.kz/?a=1&amp;b=%3E">ссылка</a></p>'
        "<ul><li><p>один</p></li><li>два</li></ul>"
        '<figure><img src="/media/a" alt="a > b"><figcaption>Фото</figcaption></figure>'
        "<blockquote><p>цитата</p></blockquote><hr>хвост<br>"
    )
    parts = blocks(html)
    assert parts == [
        "<h2>Итоги</h2>",
        '<p>Текст <a href="https://x.kz/?a=1&amp;b=%3E">ссылка</a></p>',
        "<ul><li><p>один</p></li><li>два</li></ul>",
        '<figure><img src="/media/a" alt="a > b"><figcaption>Фото</figcaption></figure>',
        "<blockquote><p>цитата</p></blockquote>",
        "<hr>",
        "хвост",
        "<br>",
    ]
    assert "".join(parts) == html


def test_edits_of_different_paragraphs_merge_cleanly() -> None:
    base = body(*P[:5])
    mine = body(P[0], "<p>Моя правка 1.</p>", *P[2:5])
    theirs = body(*P[:3], "<p>Их правка 3.</p>", P[4], "<p>Их новый абзац.</p>")
    merged, hunks = merge_body(base, mine, theirs)
    assert hunks == []
    assert merged == body(
        P[0], "<p>Моя правка 1.</p>", P[2], "<p>Их правка 3.</p>", P[4], "<p>Их новый абзац.</p>"
    )


def test_the_same_paragraph_changed_both_ways_keeps_both_texts() -> None:
    base = body(*P[:3])
    mine = body(P[0], "<p>Абзац 1, по-моему.</p>", P[2])
    theirs = body(P[0], "<p>Абзац 1, по-ихнему.</p>", P[2], "<p>Ещё их абзац.</p>")
    merged, hunks = merge_body(base, mine, theirs)
    assert merged == body(
        P[0],
        "<p>Абзац 1, по-моему.</p>",
        "<p>Абзац 1, по-ихнему.</p>",
        P[2],
        "<p>Ещё их абзац.</p>",
    )
    assert len(hunks) == 1
    assert hunks[0].base == (P[1],)
    assert hunks[0].mine == ("<p>Абзац 1, по-моему.</p>",)
    assert hunks[0].theirs == ("<p>Абзац 1, по-ихнему.</p>",)


def test_one_side_deleting_what_the_other_kept_is_a_clean_delete() -> None:
    merged, hunks = merge_body(body(*P[:4]), body(P[0], *P[2:4]), body(*P[:4], P[9]))
    assert (merged, hunks) == (body(P[0], *P[2:4], P[9]), [])


def test_fields_take_the_side_that_changed_and_lists_combine() -> None:
    base = {
        "title": "Старый",
        "lead": "Лид",
        "countries": ["KZ"],
        "tags": ["а", "б"],
        "image": None,
    }
    mine = {**base, "title": "Новый мой", "tags": ["а", "б", "в"]}
    theirs = {**base, "lead": "Их лид", "countries": ["KZ", "UZ"], "tags": ["б"]}
    out = merge(base, mine, theirs, FIELDS)
    assert out.clean
    assert out.values["title"] == "Новый мой" and out.values["lead"] == "Их лид"
    assert out.values["countries"] == ["KZ", "UZ"]
    assert out.values["tags"] == ["б", "в"]  # they removed "а", I added "в"
    assert set(out.changed_by_them) == {"lead", "countries", "tags"}
    assert merge_lists(["a"], ["a", "b"], ["a", "b", "c"]) == ["a", "b", "c"]


def test_a_field_both_changed_is_a_conflict_that_keeps_both_values() -> None:
    base = {"title": "Было", "body_html": body(*P[:2]), "image": {"url": "/media/1"}}
    mine = {**base, "title": "Моё", "body_html": body(P[0], "<p>моё</p>")}
    theirs = {**base, "title": "Их", "body_html": body(P[0], "<p>их</p>"), "image": None}
    out = merge(base, mine, theirs, FIELDS)
    assert not out.clean
    title = out.conflict("title")
    assert title is not None and (title.mine, title.theirs, title.base) == ("Моё", "Их", "Было")
    assert out.values["title"] == "Моё"
    assert out.values["image"] is None  # only they changed it
    body_conflict = out.conflict("body_html")
    assert body_conflict is not None and len(body_conflict.hunks) == 1
    assert "<p>моё</p>" in out.values["body_html"] and "<p>их</p>" in out.values["body_html"]
    assert out.conflict("lead") is None


def test_no_text_of_either_side_is_ever_lost() -> None:
    """Random edits of a shared body: every block either side wrote is in the merge, unless
    the other side deleted a block that side did not touch."""
    rnd = random.Random(11)
    for _ in range(300):
        base = [f"<p>б{n}</p>" for n in range(rnd.randint(0, 8))]

        def edit(side: str, start: list[str]) -> list[str]:
            out = list(start)
            for _ in range(rnd.randint(0, 4)):
                op = rnd.choice(["ins", "del", "chg"])
                at = rnd.randint(0, len(out))
                if op == "ins" or not out:
                    out.insert(at, f"<p>{side}{rnd.randint(0, 10**6)}</p>")
                elif op == "del":
                    out.pop(min(at, len(out) - 1))
                else:
                    out[min(at, len(out) - 1)] = f"<p>{side}{rnd.randint(0, 10**6)}</p>"
            return out

        mine, theirs = edit("м", base), edit("т", base)
        merged, _ = diff3(base, mine, theirs)
        for written in [x for x in mine + theirs if x not in base]:
            assert written in merged, (base, mine, theirs, merged)
        assert diff3(base, mine, base)[0] == mine
        assert diff3(base, base, theirs)[0] == theirs
        assert diff3(base, mine, mine)[0] == mine


def test_two_versions_are_aligned_side_by_side() -> None:
    from xabar.publisher.merge import side_by_side

    rows = side_by_side([P[0], P[1], P[2]], [P[0], "<p>новый</p>", P[2], P[3]])
    assert [(r.kind, r.before, r.after) for r in rows] == [
        ("same", P[0], P[0]),
        ("changed", P[1], "<p>новый</p>"),
        ("same", P[2], P[2]),
        ("added", "", P[3]),
    ]
    assert [r.kind for r in side_by_side([P[0]], [])] == ["removed"]
