"""Cache keys: a page is cached under its canonical URL, the path and, past page 1,
``?page=N``. The fast path (``xabar.feed.fastpath``) looks the request target up under the same
key, so a page an endpoint rendered once is answered before routing until the read model
changes; a URL written another way (``?page=1``, unknown parameters) is routed, and served from
the same entry. An article's comments past their first page are ``?comments=N``. A page after a
vote is a variant of its page, keyed by ``xabar.feed.votes.split_vote``.
"""

from xabar.feed.views import comments_path
from xabar.feed.votes import Vote, split_vote

FRONT = "/"


def paged(path: str, page: int) -> str:
    return path if page == 1 else f"{path}?page={page}"


__all__ = ["FRONT", "Vote", "comments_path", "paged", "split_vote"]
