import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import parse_address


@pytest.mark.parametrize("address, expected", [
    ("http://127.0.0.1:8500", ("http", "127.0.0.1", 8500)),
    ("127.0.0.1:8600", ("http", "127.0.0.1", 8600)),
    ("consul.geant.net", ("http", "consul.geant.net", 8500)),
    ("https://consul.geant.net", ("https", "consul.geant.net", 8501)),
    ("https://[2001:db8::1]:8501", ("https", "[2001:db8::1]", 8501)),
])
def test_parse_address(address, expected):
    assert parse_address(address) == expected


def test_parse_address_rejects_other_schemes():
    with pytest.raises(ValueError, match="invalid Consul address"):
        parse_address("ftp://consul:21")
