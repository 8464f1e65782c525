"""pytest fixtures for the real-Consul test bed.

- ``consul_dev``: one ``consul agent -dev`` per test (fresh catalog, ~1 s to start).
- ``consul_cluster``: 3 servers + clients prod-crowd01 / prod-crowd02 per test module.
Both stop their agents afterwards. No test talks to a fake Consul.
"""

import pytest

from tests.consul_testbed.agent import ConsulAgent, ConsulCluster, address_block


@pytest.fixture
def consul_dev(worker_id):
    agent = ConsulAgent("dev", "%s.1" % address_block(worker_id), dev=True).start()
    try:
        agent.wait_http()
        ConsulCluster.wait_for(lambda: bool(agent.api("GET", "/v1/status/leader")), 30, "dev agent has no leader")
        # Services registered before the agent's own node is in the catalog fail ("Missing node registration").
        ConsulCluster.wait_for(lambda: any(n["Node"] == agent.name for n in agent.api("GET", "/v1/catalog/nodes")),
                               30, "dev agent's node never reached the catalog")
        yield agent
    finally:
        agent.cleanup()


@pytest.fixture(scope="module")
def consul_cluster(worker_id):
    cluster = ConsulCluster(address_block(worker_id), servers=3,
                            clients=("prod-crowd01", "prod-crowd02"))
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()
