"""Stream and consumer-group names: the only places services meet."""

SUBMISSIONS_STREAM = "xabar.submissions"  # submission.received: ingest -> publisher
REVIEWS_STREAM = "xabar.reviews"  # submission.reviewed: publisher -> ingest
ARTICLES_STREAM = "xabar.articles"  # article.*: publisher -> feed
POLLS_STREAM = "xabar.polls"  # poll.*: polls -> feed

GROUP_PUBLISHER = "publisher"
GROUP_INGEST = "ingest"
GROUP_FEED = "feed"

STREAM_OF_TYPE: dict[str, str] = {
    "submission.received": SUBMISSIONS_STREAM,
    "submission.reviewed": REVIEWS_STREAM,
    "article.published": ARTICLES_STREAM,
    "article.updated": ARTICLES_STREAM,
    "article.unpublished": ARTICLES_STREAM,
    "poll.opened": POLLS_STREAM,
    "poll.closed": POLLS_STREAM,
    "poll.tallied": POLLS_STREAM,
}


def dlq_stream(stream: str) -> str:
    """The dead-letter stream of ``stream``."""
    return f"{stream}.dlq"
