"""Vote counting on a Redis Cluster and under Sentinel (the cluster tier): exact totals under
concurrency, one count per voter."""

from tests.polls.test_counting import (  # noqa: F401  (the tests, run here on each deployment)
    test_concurrent_first_votes_of_one_voter_count_once,
    test_multiple_choice_counts_each_chosen_option_and_one_voter,
    test_the_same_voter_voting_a_hundred_times_is_counted_once,
)
from tests.support.ha import (  # noqa: F401  (its redis_url: each deployment's in turn)
    ON_DEPLOYMENTS,
    redis_url_on_each_deployment,
)

pytestmark = ON_DEPLOYMENTS
