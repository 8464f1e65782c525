"""Fidelity: the unmodified octoDNS Infoblox provider (octoblox) against the simulator.

The flows are those of ``octodns-sync`` (Manager.sync with a YAML config), ``octodns-dump``
(Manager.dump) and the provider API. octoblox asks ``GET /wapi/v1.0/?_schema`` for the WAPI
versions when no ``apiver`` is configured and ``GET /wapi/vX/?_schema`` for the supported
record types on every plan, so the ``_schema`` answer is needed by every test here.
"""
import pytest
import yaml
from octodns.manager import Manager
from octoblox import InfoBloxProvider

ZONE = "geant.services"
PASSWORD_ENV = "INFOBLOX_PASSWORD"

RECORDS = {
    "_http._tcp": {"type": "SRV", "values": [
        {"priority": 10, "weight": 5, "port": 80, "target": "crowd.geant.services."}]},
    "crowd": [
        {"type": "A", "ttl": 300, "values": ["1.1.1.10", "1.1.1.11"]},
        {"type": "AAAA", "values": ["2001:db8::10"]},
        {"type": "TXT", "value": "owner=consul_dns"},
    ],
    "static": {"type": "A", "ttl": 28800, "value": "10.0.0.1"},  # the zone default: use_ttl off
    "www": {"type": "CNAME", "value": "crowd.geant.services."},
}


@pytest.fixture(autouse=True)
def trust_simulator_ca(wapi_simulator, monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE override a Session's own verify (psf/requests#3829),
    so a machine-wide bundle would hide the provider's `verify` option: point it at the CA too."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wapi_simulator.ca_path)


def write_config(tmp_path, server, records=None, **provider_options):
    """octodns config as a user would keep it: zone YAML + provider with the CA and env password."""
    zones_dir = tmp_path / "zones"
    zones_dir.mkdir(exist_ok=True)
    if records is not None:
        (zones_dir / ("%s.yaml" % ZONE)).write_text(yaml.safe_dump(records))
    config = {
        "providers": {
            "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(zones_dir),
                       "default_ttl": 3600, "enforce_order": False, "escaped_semicolons": True},
            "infoblox": dict({"class": "octoblox.InfoBloxProvider", "endpoint": server.host,
                              "username": server.username, "password": "env/%s" % PASSWORD_ENV,
                              "verify": server.ca_path}, **provider_options),
        },
        "zones": {"%s." % ZONE: {"sources": ["config"], "targets": ["infoblox"]}},
    }
    path = tmp_path / "octodns.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def sync(config_path, dry_run=False):
    """What `octodns-sync --config-file X [--doit]` runs."""
    return Manager(config_path).sync(dry_run=dry_run)


def by_name(sim, objtype):
    return sorted((r for r in sim.objects(objtype) if r["view"] == "default"),
                  key=lambda r: (r["name"], str(r)))


def create_zone(sim, fqdn=ZONE, **fields):
    sim.handle("POST", "zone_auth", {}, dict(fields, fqdn=fqdn))


def test_sync_creates_the_zone_records_and_a_second_sync_changes_nothing(tmp_path, wapi_simulator, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, wapi_simulator.password)
    sim = wapi_simulator.sim
    create_zone(sim)
    config = write_config(tmp_path, wapi_simulator, RECORDS)

    assert sync(config, dry_run=True) == 0
    assert sim.log.count(kind="write") == 0
    assert sync(config) == 6  # one change per octoDNS record: crowd A/AAAA/TXT, www, _http._tcp, static
    a = [(r["name"], r["ipv4addr"], r["use_ttl"], r.get("ttl")) for r in by_name(sim, "record:a")]
    assert a == [("crowd.geant.services", "1.1.1.10", True, 300), ("crowd.geant.services", "1.1.1.11", True, 300),
                 ("static.geant.services", "10.0.0.1", False, None)]
    [aaaa] = by_name(sim, "record:aaaa")
    assert (aaaa["ipv6addr"], aaaa["ttl"]) == ("2001:db8::10", 3600)
    [cname] = by_name(sim, "record:cname")
    assert (cname["name"], cname["canonical"]) == ("www.geant.services", "crowd.geant.services")
    [txt] = by_name(sim, "record:txt")
    assert txt["text"] == "owner=consul_dns"
    [srv] = by_name(sim, "record:srv")
    assert (srv["name"], srv["priority"], srv["weight"], srv["port"], srv["target"]) == \
        ("_http._tcp.geant.services", 10, 5, 80, "crowd.geant.services")

    sim.log.clear()
    assert sync(config) == 0
    assert sim.log.count(kind="write") == 0


def test_sync_updates_and_deletes_what_the_yaml_no_longer_has(tmp_path, wapi_simulator, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, wapi_simulator.password)
    sim = wapi_simulator.sim
    create_zone(sim)
    config = write_config(tmp_path, wapi_simulator, RECORDS)
    sync(config)
    kept_ref = [r["_ref"] for r in by_name(sim, "record:a") if r["ipv4addr"] == "1.1.1.10"][0]

    changed = dict(RECORDS, crowd=[{"type": "A", "ttl": 600, "values": ["1.1.1.10", "1.1.1.12"]},
                                   {"type": "AAAA", "values": ["2001:db8::10"]}],
                   www={"type": "CNAME", "value": "static.geant.services."})
    write_config(tmp_path, wapi_simulator, changed)
    sim.log.clear()
    assert sync(config) == 3  # crowd A update, crowd TXT delete, www CNAME update
    crowd = {r["ipv4addr"]: r for r in by_name(sim, "record:a") if r["name"].startswith("crowd.")}
    assert sorted(crowd) == ["1.1.1.10", "1.1.1.12"]
    assert crowd["1.1.1.10"]["_ref"] == kept_ref and crowd["1.1.1.10"]["ttl"] == 600  # PUT in place
    assert by_name(sim, "record:txt") == []
    assert by_name(sim, "record:cname")[0]["canonical"] == "static.geant.services"
    assert sim.log.writes("record:a") >= 3  # PUT .10, POST .12, DELETE .11

    assert sync(config) == 0


def test_provider_discovers_the_wapi_version_from_the_schema(wapi_simulator):
    sim = wapi_simulator.sim
    provider = InfoBloxProvider("infoblox", wapi_simulator.host, wapi_simulator.username,
                                wapi_simulator.password, verify=wapi_simulator.ca_path)
    first = sim.log.entries()[0]
    assert (first["method"], first["path"], first["query"]) == ("GET", "/wapi/v1.0/", "_schema")
    version = tuple(int(p) for p in provider.conn.apiver.split("."))
    assert (2, 12) <= version < (3, 0)
    assert {"A", "AAAA", "CNAME", "TXT", "SRV"} <= provider.SUPPORTS
    assert sim.log.entries()[-1]["version"] == provider.conn.apiver


def test_dump_reads_a_large_zone_page_by_page_and_only_static_records(tmp_path, wapi_simulator, monkeypatch):
    """Migration to GitOps: `octodns-dump --output-dir out geant.services. infoblox`."""
    monkeypatch.setenv(PASSWORD_ENV, wapi_simulator.password)
    sim = wapi_simulator.sim
    create_zone(sim)
    create_zone(sim, "other.org")
    for i in range(1100):
        sim.handle("POST", "record:a", {}, {"name": "n%04d.%s" % (i, ZONE), "ipv4addr": "10.1.%d.%d" % divmod(i, 256)})
    sim.handle("POST", "record:a", {}, {"name": "dhcp.%s" % ZONE, "ipv4addr": "10.9.9.9", "creator": "DYNAMIC"})
    sim.handle("POST", "record:a", {}, {"name": "x.other.org", "ipv4addr": "10.9.9.8"})
    config = write_config(tmp_path, wapi_simulator, {})
    sim.log.clear()

    Manager(config).dump(zone="%s." % ZONE, output_dir=str(tmp_path / "out"), sources=["infoblox"])

    dumped = yaml.safe_load((tmp_path / "out" / ("%s.yaml" % ZONE)).read_text())
    assert len(dumped) == 1100 and "dhcp" not in dumped and "x" not in dumped
    assert dumped["n0257"] == {"type": "A", "ttl": 28800, "value": "10.1.1.1"}
    reads = [e for e in sim.log.entries() if e["path"].endswith("/record:a")]
    assert len(reads) == 2 and "_page_id=" in reads[1]["query"]


def test_sync_creates_a_missing_zone_when_create_zones_is_set(tmp_path, wapi_simulator, monkeypatch):
    """README option create_zones/new_zone_fields: octoblox POSTs zone_auth with
    `_return_fields+` in the JSON body and reads soa_default_ttl from the object returned."""
    monkeypatch.setenv(PASSWORD_ENV, wapi_simulator.password)
    sim = wapi_simulator.sim
    config = write_config(tmp_path, wapi_simulator, {"www": {"type": "A", "value": "10.0.0.1"}},
                          create_zones=True, new_zone_fields={"soa_default_ttl": 3600})

    assert sync(config) == 1
    [zone] = sim.objects("zone_auth")
    assert (zone["fqdn"], zone["soa_default_ttl"]) == (ZONE, 3600)
    [a] = by_name(sim, "record:a")
    assert (a["name"], a["ipv4addr"], a["use_ttl"]) == ("www.geant.services", "10.0.0.1", False)
    assert sync(config) == 0


def test_sync_into_a_non_default_dns_view(tmp_path, wapi_simulator, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, wapi_simulator.password)
    sim = wapi_simulator.sim
    sim.handle("POST", "view", {}, {"name": "internal"})
    create_zone(sim)
    create_zone(sim, view="internal")
    sim.handle("POST", "record:a", {}, {"name": "www.%s" % ZONE, "ipv4addr": "192.0.2.1"})  # default view
    config = write_config(tmp_path, wapi_simulator, {"www": {"type": "A", "value": "10.0.0.1"}},
                          dns_view="internal")

    assert sync(config) == 1
    placed = sorted((r["view"], r["ipv4addr"]) for r in sim.objects("record:a"))
    assert placed == [("default", "192.0.2.1"), ("internal", "10.0.0.1")]
    assert sync(config) == 0
