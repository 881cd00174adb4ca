"""The country sections of the portal, keyed by ISO 3166-1 alpha-2 code."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    slug: str
    name: str  # nominative, as in the section menu: "Казахстан"
    adjective: str  # as in "казахстанской делегации"


COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country("KZ", "kazakhstan", "Казахстан", "казахстанский"),
        Country("KG", "kyrgyzstan", "Кыргызстан", "кыргызстанский"),
        Country("UZ", "uzbekistan", "Узбекистан", "узбекистанский"),
        Country("TJ", "tajikistan", "Таджикистан", "таджикистанский"),
        Country("TM", "turkmenistan", "Туркменистан", "туркменистанский"),
        Country("CN", "china", "Китай", "китайский"),
    )
}

_BY_SLUG = {c.slug: c for c in COUNTRIES.values()}


def country_by_slug(slug: str) -> Country | None:
    return _BY_SLUG.get(slug)
