"""Stream and consumer-group names: the only places services meet."""

# what readers send: submission.received, comment.submitted, letter.received: ingest -> publisher
SUBMISSIONS_STREAM = "xabar.submissions"
REVIEWS_STREAM = "xabar.reviews"  # submission.reviewed: publisher -> ingest
ARTICLES_STREAM = "xabar.articles"  # article.*, country_profile.*: publisher -> feed
POLLS_STREAM = "xabar.polls"  # poll.*: polls -> feed
COMMENTS_STREAM = "xabar.comments"  # comment.published, comment.removed: publisher -> feed

GROUP_PUBLISHER = "publisher"
GROUP_INGEST = "ingest"
GROUP_FEED = "feed"

STREAM_OF_TYPE: dict[str, str] = {
    "submission.received": SUBMISSIONS_STREAM,
    "submission.reviewed": REVIEWS_STREAM,
    "comment.submitted": SUBMISSIONS_STREAM,
    "letter.received": SUBMISSIONS_STREAM,
    "comment.published": COMMENTS_STREAM,
    "comment.removed": COMMENTS_STREAM,
    "article.published": ARTICLES_STREAM,
    "article.updated": ARTICLES_STREAM,
    "article.unpublished": ARTICLES_STREAM,
    "country_profile.published": ARTICLES_STREAM,
    "poll.opened": POLLS_STREAM,
    "poll.closed": POLLS_STREAM,
    "poll.tallied": POLLS_STREAM,
}


def dlq_stream(stream: str) -> str:
    """The dead-letter stream of ``stream``."""
    return f"{stream}.dlq"
