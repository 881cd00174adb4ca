"""Settings of a service for its tests: the values its conftest gives, each one overridable."""

from collections.abc import Callable
from typing import Any, TypeVar

S = TypeVar("S")


def settings_factory(cls: Callable[..., S], defaults: dict[str, Any]) -> Callable[..., S]:
    """A ``make_settings``: ``cls`` made of ``defaults``, the keywords it is called with
    overriding them."""

    def make(**overrides: Any) -> S:
        return cls(**{**defaults, **overrides})

    return make
