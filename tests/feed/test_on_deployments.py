"""The feed's projector and its rebuild on a Redis Cluster and under Sentinel (the cluster tier)."""

from tests.feed.test_projection import (  # noqa: F401  (the tests, run here on each deployment)
    test_a_published_article_appears_on_the_front_page_in_its_sections_and_every_feed,
    test_a_redelivered_event_changes_nothing,
    test_an_older_version_arriving_late_never_rolls_back,
    test_an_unpublished_article_disappears_everywhere,
)
from tests.feed.test_rebuild import (  # noqa: F401
    test_a_rebuild_reproduces_every_page_byte_for_byte,
    test_events_published_during_a_rebuild_are_not_lost,
)
from tests.support.ha import (  # noqa: F401  (its redis_url: each deployment's in turn)
    ON_DEPLOYMENTS,
    redis_url_on_each_deployment,
)

pytestmark = ON_DEPLOYMENTS
