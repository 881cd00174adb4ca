"""The bus's delivery tests of ``test_bus`` once more on a Redis Cluster and under Sentinel
(the cluster tier): publish and consume, consumer groups, redelivery, claiming a killed
consumer's entries, batches and dead letters, on the deployment the ``REDIS_URL`` setting names."""

import pytest

from tests.platform.test_bus import *  # noqa: F403  (the tests and their fixtures)
from tests.support.ha import DEPLOYMENTS, deployment_url

# redis-py's RedisCluster leaves a socket of a cancelled blocking XREADGROUP to the garbage
# collector when FastStream stops the broker (a ResourceWarning, not a lost or repeated entry:
# every test asserts its deliveries); the tests on one node keep the strict check
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(params=DEPLOYMENTS)
def redis_url(request: pytest.FixtureRequest) -> str:
    return deployment_url(request)
