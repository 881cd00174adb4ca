"""Pure rules: largest-remainder percentages, page links, return_to, voter cookies, settings."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import TOKEN_KEYS
from tests.polls.conftest import ADDRESS_SALT, COOKIE_SECRET
from xabar.polls.config import PollsSettings
from xabar.polls.domain import percentages
from xabar.polls.pages import page_links
from xabar.polls.routes.params import safe_return_to
from xabar.polls.voters import VoterCookies

counts_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20)


@given(counts_lists.filter(lambda c: sum(c) > 0))
def test_percentages_add_up_to_exactly_100_for_any_distribution(counts: list[int]) -> None:
    shares = percentages(counts)
    assert sum(shares) == 100
    assert len(shares) == len(counts)
    total = sum(counts)
    for count, share in zip(counts, shares, strict=True):
        exact = 100 * count / total
        assert share in (int(exact), int(exact) + 1)  # floor or floor + 1 of the exact quota
        assert abs(share - exact) < 1
        if count == 0:
            assert share == 0


@given(counts_lists.filter(lambda c: sum(c) > 0))
def test_a_larger_count_never_gets_a_smaller_percentage(counts: list[int]) -> None:
    shares = percentages(counts)
    for i, a in enumerate(counts):
        for j, b in enumerate(counts):
            if a > b:
                assert shares[i] >= shares[j]


@given(st.lists(st.just(0), min_size=1, max_size=20))
def test_no_votes_gives_all_zeros(counts: list[int]) -> None:
    assert percentages(counts) == [0] * len(counts)


def test_the_reference_poll_rounds_to_the_reference_percentages() -> None:
    # "Всего голосов: 1492" with 31/23/13/12/12/9 on the reference page
    assert percentages([463, 343, 194, 179, 179, 134]) == [31, 23, 13, 12, 12, 9]


def test_ties_in_remainders_go_to_the_earlier_option() -> None:
    assert percentages([1, 1, 1]) == [34, 33, 33]
    assert percentages([2, 1]) == [67, 33]


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        percentages([1, -1])


def test_page_links_elide_far_pages_like_the_reference() -> None:
    links = page_links(750, 1039)
    assert links[:2] == [1, None]
    assert links[-2:] == [None, 1039]
    assert 745 in links and 755 in links and 744 not in links
    assert page_links(1, 1) == [1]
    assert page_links(2, 3) == [1, 2, 3]


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.0.0.1:8080/", True),
        ("http://127.0.0.1:8080/news/abc?x=1#poll", True),
        ("http://127.0.0.1:8080?from=poll", True),
        ("http://127.0.0.1:8080.evil.example/", False),
        ("http://127.0.0.1:80800/", False),
        ("https://evil.example/http://127.0.0.1:8080/", False),
        ("//evil.example", False),
        ("/polls", False),
        ("http://127.0.0.1:8080/\r\nSet-Cookie: x=1", False),
        ("http://127.0.0.1:8080/\\evil", False),
        ("", False),
        (None, False),
    ],
)
def test_return_to_is_followed_only_under_the_site_url(value: str | None, allowed: bool) -> None:
    expected = value if allowed else None
    assert safe_return_to(value, "http://127.0.0.1:8080") == expected


def test_voter_cookie_round_trips_and_forgeries_are_ignored() -> None:
    cookies = VoterCookies(COOKIE_SECRET, name="v", max_age_s=60, secure=False)
    voter = cookies.new_id()
    value = cookies.encode(voter)
    assert cookies.decode(value) == voter
    other = VoterCookies(
        "another-secret-0123456789abcdef01234567", name="v", max_age_s=60, secure=False
    )
    assert other.decode(value) is None
    forged = cookies.new_id() + "." + value.split(".", 1)[1]
    assert cookies.decode(forged) is None
    assert cookies.decode(voter) is None  # unsigned
    assert cookies.decode("") is None
    assert cookies.decode("a.b.c") is None


def _settings(**overrides: Any) -> PollsSettings:
    values: dict[str, Any] = {
        "token_public_key": TOKEN_KEYS.public,
        "cookie_secret": COOKIE_SECRET,
        "address_salt": ADDRESS_SALT,
    }
    values.update(overrides)
    return PollsSettings(**values)


@pytest.mark.parametrize("name", ["cookie_secret", "address_salt"])
@pytest.mark.parametrize("value", ["change-me", "secret", "short", "x" * 31])
def test_placeholder_or_short_secrets_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        _settings(**{name: value})


def test_secrets_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XABAR_POLLS_COOKIE_SECRET", "XABAR_POLLS_ADDRESS_SALT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValidationError, match="cookie_secret"):
        PollsSettings(token_public_key=TOKEN_KEYS.public, address_salt=ADDRESS_SALT)  # type: ignore[call-arg]


def test_settings_defaults_and_trusted_proxies_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XABAR_POLLS_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    s = _settings()
    assert s.port == 8083
    assert s.site_url == "http://127.0.0.1:8080"
    assert s.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert [str(n) for n in s.proxy_networks()] == ["10.0.0.0/8", "127.0.0.1/32"]
    with pytest.raises(ValidationError, match="trusted_proxies"):
        _settings(trusted_proxies="not-a-network")
