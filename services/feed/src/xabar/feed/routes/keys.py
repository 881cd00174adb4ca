"""Cache keys of the pages, and the URLs the fast path (``xabar.feed.fastpath``) may answer from
the cache before routing: the endpoints render under these keys, so a page rendered once by its
endpoint is served by the fast path until the read model changes."""

from collections.abc import Callable, Hashable
from functools import partial

from xabar.contracts import COUNTRIES, Country
from xabar.feed.feeds import Feeds, Scope

FRONT = "front"
API_FRONT = "api-front"
FEED_FILES = (("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json"))


def news(page: int) -> Hashable:
    return ("news", page)


def section(country: Country, page: int) -> Hashable:
    return ("section", country.code, page)


def polls(page: int) -> Hashable:
    return ("polls", page)


def feed(kind: str, scope: Scope, page: int) -> Hashable:
    return ("feed", kind, scope.list_key, page)


def hot_paths(feeds: Feeds) -> dict[str, Hashable]:
    """The URLs (without a query string) the fast path may answer, with their cache keys."""
    site = feeds.site_scope()
    hot: dict[str, Hashable] = {
        "/": FRONT,
        "/news": news(1),
        "/polls": polls(1),
        "/api/v1/front": API_FRONT,
    }
    for kind, file in FEED_FILES:
        hot[f"/{file}"] = feed(kind, site, 1)
        for country in COUNTRIES.values():
            hot[f"/{country.slug}/{file}"] = feed(kind, feeds.country_scope(country), 1)
    for country in COUNTRIES.values():
        hot[f"/{country.slug}"] = section(country, 1)
    return hot


def paged_paths(feeds: Feeds) -> dict[str, Callable[[int], Hashable]]:
    """The paged lists the fast path may answer for ``?page=N``, with their cache keys."""
    site = feeds.site_scope()
    paged: dict[str, Callable[[int], Hashable]] = {"/news": news, "/polls": polls}
    for kind, file in FEED_FILES:
        paged[f"/{file}"] = partial(feed, kind, site)
    for country in COUNTRIES.values():
        paged[f"/{country.slug}"] = partial(section, country)
    return paged
