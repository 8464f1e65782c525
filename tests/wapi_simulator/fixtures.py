"""Pytest fixtures for the WAPI simulator (loaded as a plugin by the repository conftest.py).

``wapi_simulator`` (function scope) yields a started ``WapiSimulatorServer``:
``.url``, ``.host`` ("127.0.0.1:PORT"), ``.ca_path``, ``.username``, ``.password``,
``.wapi_url(version)`` and ``.sim`` (state, ``.log``, ``.faults``, ``.define_ea()``, ``.reset()``).
The TLS certificates are made once per session (``wapi_simulator_cert_dir``).
"""
import pytest

from .server import WapiSimulatorServer


@pytest.fixture(scope="session")
def wapi_simulator_cert_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("wapi-simulator-tls"))


@pytest.fixture
def wapi_simulator(wapi_simulator_cert_dir):
    server = WapiSimulatorServer(cert_dir=wapi_simulator_cert_dir).start()
    try:
        yield server
    finally:
        server.stop()
