"""The intake's accept and move on a Redis Cluster and under Sentinel (the cluster tier): a tip
accepted, moved to MongoDB and published, and an Idempotency-Key keeping a retry single."""

from tests.ingest.test_api import (  # noqa: F401  (the tests, run here on each deployment)
    test_a_repeated_idempotency_key_returns_the_first_response_and_creates_nothing,
    test_a_tip_with_a_photo_is_stored_published_and_the_photo_has_no_exif,
    test_concurrent_requests_with_one_key_create_one_submission,
)
from tests.support.ha import (  # noqa: F401  (its redis_url: each deployment's in turn)
    ON_DEPLOYMENTS,
    redis_url_on_each_deployment,
)

pytestmark = ON_DEPLOYMENTS
