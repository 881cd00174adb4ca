"""The memory report's arithmetic (pure: no Redis): what grows with the articles is extrapolated
linearly to 1,000,000, the ``xabar.articles`` stream only to its window, and a master fits "with
room" at 75% of a 4 GB node at most. The figures themselves come from ``python -m xabar.devstack
memory`` on a real single node and a real cluster."""

from xabar.devstack.memory import NODE_BYTES, ROOM, WINDOW, Figure, family_of, shape_of


def test_each_master_is_projected_with_the_stream_at_its_window_and_judged_against_room() -> None:
    articles = 20_000
    figure = Figure(
        "cluster",
        articles,
        {1: 7_000 * articles, 2: 2_000 * articles, 3: 4_000 * articles},
        stream_by_master={1: 5_000 * articles},
    )
    report = figure.report()
    one, two, three = (report["masters"][p] for p in ("1", "2", "3"))
    assert one["stream_bytes_per_article"] == 5_000
    # 2,000 bytes an article beyond the stream, a million of them, and the window's entries
    assert figure.at_archive(1) == 2_000 * 1_000_000 + 5_000 * WINDOW
    assert one["fits_with_room"] and two["fits_with_room"]
    assert ROOM * NODE_BYTES < 4_000 * 1_000_000 and not three["fits_with_room"]
    assert not report["every_master_fits_with_room"]
    assert report["largest_master_at_1m_of_4gb"] == round(4_000 * 1_000_000 / NODE_BYTES, 3)


def test_keys_are_grouped_by_family_and_shape() -> None:
    assert family_of(b"xabar:publisher:{idx}:all") == "publisher lists {idx}"
    assert family_of("xabar:publisher:{idx.3.12}:term:газ".encode()) == "publisher words {idx.N}"
    assert shape_of("xabar:publisher:{idx.3.12}:term:газ".encode()) == (
        "xabar:publisher:{idx.N}:term:*"
    )
    assert family_of(b"xabar.articles") == "streams"
