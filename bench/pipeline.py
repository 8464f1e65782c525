"""One sync the way the collection does it, as module_utils calls in this process (no Ansible).

Read the zone from Consul (consul_api + consul_zone: 1 leader + 1 catalog + N health calls), then
reconcile NIOS (infoblox_sync: 4 paged reads + 2 checks, one ``request`` per 1000 changes). A fresh
ConsulReader and WapiClient per run, as each module / lookup run has.
"""
import time

# bench sets sys.path for the collection and the test beds
import bench  # noqa: F401  pylint: disable=unused-import
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulReader
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.zone_read import read_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import sync_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiClient
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import SyncPolicy


def consul_read(consul_url, zone):
    """(ConsulZone, seconds)."""
    start = time.perf_counter()
    reader = ConsulReader(consul_url)
    result = read_zone(reader, ServiceSelection(), zone)
    return result, time.perf_counter() - start


def wapi_sync(nios_host, ca_path, zone, records, username="admin", password="infoblox"):
    """(SyncResult, seconds, {"reads", "writes"} as counted by the client)."""
    start = time.perf_counter()
    client = WapiClient(nios_host, username, password, ca_path=ca_path)
    try:
        result = sync_zone(client, zone, "default", records, SyncPolicy())
    finally:
        client.logout()
    return result, time.perf_counter() - start, {"reads": client.reads, "writes": client.writes}


def full_sync(consul_url, nios_host, ca_path, zone):
    """The whole pipeline; returns a dict of timings and counts.

    ``cpu_seconds``: CPU time of this process (all its threads) during the sync: the collection's own
    cost, which the machine's load does not inflate the way it inflates wall time.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    consul_zone, read_seconds = consul_read(consul_url, zone)
    cpu_read = time.process_time() - cpu_start
    result, sync_seconds, calls = wapi_sync(nios_host, ca_path, zone, consul_zone.records)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "consul_read_cpu_seconds": cpu_read,
        "consul_read_seconds": read_seconds,
        "consul_http_calls": consul_zone.http_calls,
        "wapi_seconds": sync_seconds,
        "records": len(consul_zone.records),
        "summary": result.plan.summary(),
        "requests": result.requests_sent,
        "client_calls": calls,
    }
