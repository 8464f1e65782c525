import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import (
    InvalidDnsName,
    fqdn,
    normalize_label,
    normalize_name,
    normalize_zone,
)


@pytest.mark.parametrize("label, expected", [
    ("crowd", "crowd"),
    ("Crowd", "crowd"),           # upper case folds
    ("bod-portal", "bod-portal"),
    ("a" * 63, "a" * 63),
    ("0cacti", "0cacti"),         # RFC 1123 allows a leading digit
])
def test_valid_labels_fold_to_lower_case(label, expected):
    assert normalize_label(label) == expected


@pytest.mark.parametrize("label, fragment", [
    ("bod_portal", "'_'"),
    ("a" * 64, "64 characters"),
    ("-crowd", "hyphen"),
    ("crowd-", "hyphen"),
    ("crowd web", "' '"),
    ("crøwd", "'ø'"),
    ("", "empty"),
])
def test_invalid_labels_name_the_problem(label, fragment):
    with pytest.raises(InvalidDnsName) as err:
        normalize_label(label)
    assert fragment in str(err.value)


def test_multi_label_names_check_every_label():
    assert normalize_name("API.Crowd") == "api.crowd"
    with pytest.raises(InvalidDnsName, match="'_x'"):
        normalize_name("api._x")


def test_zone_names_allow_underscore_labels_and_strip_the_dot():
    assert normalize_zone("Geant.Services.") == "geant.services"
    assert normalize_zone("_tcp.geant.services") == "_tcp.geant.services"
    with pytest.raises(InvalidDnsName):
        normalize_zone("geant..services")


def test_fqdn_over_253_characters_is_refused():
    zone = ".".join(["z" * 60] * 3)  # 182 characters
    assert fqdn("a" * 63, zone) == "a" * 63 + "." + zone  # 246: fine
    with pytest.raises(InvalidDnsName, match="at most 253"):
        fqdn("a" * 40 + "." + "b" * 40, zone)
    assert fqdn("@", "geant.services") == "geant.services"
