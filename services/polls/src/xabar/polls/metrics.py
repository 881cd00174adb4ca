"""Prometheus metrics of the polls service (served at /metrics with the runtime's)."""

from prometheus_client import Counter

VOTES = Counter("xabar_polls_votes_total", "Vote attempts by outcome", ["outcome"])
ANOMALOUS_VOTES = Counter(
    "xabar_polls_anomalous_votes_total",
    "Counted votes flagged as part of a burst from one address or one subnet",
    ["kind"],
)
VOTES_LOGGED = Counter(
    "xabar_polls_votes_logged_total", "Vote-log entries written to MongoDB (with redeliveries)"
)
TALLIES = Counter("xabar_polls_tallies_published_total", "poll.tallied snapshots published")
REBUILDS = Counter(
    "xabar_polls_counter_rebuilds_total", "Polls whose Redis counters were rebuilt from the log"
)
RECOUNT_DIFFERENCES = Counter(
    "xabar_polls_recount_differences_total", "Polls whose recount disagreed with Redis"
)
