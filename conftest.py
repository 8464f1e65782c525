"""Shared pytest plugins: the real-Consul test bed and the WAPI simulator fixtures."""

pytest_plugins = [
    "tests.consul_testbed.fixtures",
    "tests.wapi_simulator.fixtures",
]
