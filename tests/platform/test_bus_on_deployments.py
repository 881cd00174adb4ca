"""The bus's delivery tests of ``test_bus`` once more on a Redis Cluster and under Sentinel
(the cluster tier): publish and consume, consumer groups, redelivery, claiming a killed
consumer's entries, batches and dead letters, on the deployment the ``REDIS_URL`` setting names."""

import pytest

from tests.platform.test_bus import *  # noqa: F403  (the tests and their fixtures)
from tests.support.ha import DEPLOYMENTS, ON_DEPLOYMENTS, deployment_url

pytestmark = ON_DEPLOYMENTS

# Not run again here, as they do not carry over: a caller's MULTI/EXEC spanning the stream's
# slot and others is refused on a cluster (the bus publishes there without one, see
# ``EventBus._publish_cluster``), and ``CLIENT LIST`` on a replicated primary also lists its
# replicas' and the sentinels' links, which are not the bus's.
del test_publish_many_on_the_callers_transaction_is_atomic_with_its_commands  # noqa: F821
del test_stop_lets_the_handler_in_flight_finish_and_ack_and_leaves_no_connection  # noqa: F821


@pytest.fixture(params=DEPLOYMENTS)
def redis_url(request: pytest.FixtureRequest) -> str:
    return deployment_url(request)
