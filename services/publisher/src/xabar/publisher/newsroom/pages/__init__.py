"""The newsroom's pages: one module per resource, each with a ``router`` (a ``PageRouter``).

Every module of this package that has a ``router`` is mounted (``routers()``, in the order of
the modules' names); its templates live in ``templates/<module>/``. Adding a page is adding a
module here: nothing else needs to list it.
"""

import importlib
import pkgutil

from xabar.publisher.newsroom.web import PageRouter


def routers() -> tuple[PageRouter, ...]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, PageRouter):
            found.append(router)
    return tuple(found)
