"""The zone sync run the way AWX runs a job: ansible-runner on a private data directory laid out as AWX
lays it out (project/, inventory/hosts, env/extravars, env/envvars, a job id), with the credentials
injected by the very injectors awx/configure_awx.yml defines (environment, extra vars, CA files),
against a real Consul agent and the WAPI simulator."""

import json
import sys
import threading
from pathlib import Path

import jinja2
import pytest
import requests
import yaml

from tests.integration.zone_sync_bed import SyncBed, lock_message, lock_skipped, nios_addresses, nios_create_zone
from tests.playbook import BIN, REPO_ROOT

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = [pytest.mark.consul, pytest.mark.slow]

ZONE = "geant.services"
JOB_ID = 4242
LOCK_KEY = "consul-dns/lock/awx"


def credential_types():
    """``{name: injectors}`` of the credential types awx/configure_awx.yml creates, as AWX stores them
    (the playbook's own templating of ``{{ '{{' }}`` undone)."""
    plays = yaml.safe_load((REPO_ROOT / "awx" / "configure_awx.yml").read_text())
    found = {}
    for task in plays[0]["tasks"]:
        spec = task.get("awx.awx.credential_type")
        if spec:
            found[spec["name"]] = json.loads(jinja2.Template(json.dumps(spec["injectors"])).render())
    return found


def inject(injectors, inputs, private_data_dir, credential):
    """What AWX does with a custom credential: files written into the job's private data directory
    (``tower.filename.<name>``), then environment variables and extra vars rendered from the inputs."""
    files = {}
    templates = dict((key.split(".", 1)[1], text) for key, text in injectors.get("file", {}).items())
    for name, text in templates.items():
        path = Path(private_data_dir) / "env" / ("tmp_%s_%s" % (credential, name))
        path.write_text(jinja2.Template(text).render(**inputs))
        path.chmod(0o600)
        files[name] = str(path)
    context = dict(inputs, tower={"filename": files})
    env = dict((k, jinja2.Template(v).render(**context)) for k, v in injectors.get("env", {}).items())
    extra_vars = dict((k, jinja2.Template(v).render(**context)) for k, v in injectors.get("extra_vars", {}).items())
    return env, extra_vars


def awx_job(tmp_path, consul, nios, job_id=JOB_ID):
    """A private data directory as AWX prepares it for a job of the template 'consul_dns zone sync'."""
    pdd = tmp_path / ("job_%d" % job_id)
    for sub in ("env", "inventory", "artifacts"):
        (pdd / sub).mkdir(parents=True)
    (pdd / "project").symlink_to(REPO_ROOT)  # AWX copies the project's checkout here
    (pdd / "inventory" / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    types = credential_types()
    env, extra_vars = {}, {}
    for type_name, credential, inputs in (
            ("Infoblox WAPI", "infoblox-gm", {"server": nios.host, "username": nios.username,
                                              "password": nios.password, "ca_pem": Path(nios.ca_path).read_text()}),
            ("Consul ACL token", "consul-zone-sync", {"address": consul.http_url, "token": "", "ca_pem": ""})):
        more_env, more_vars = inject(types[type_name], inputs, pdd, credential)
        env.update(more_env)
        extra_vars.update(more_vars)
    # The job template's extra vars (awx/configure_awx.yml: awx_zone_sync_settings) and the survey's answer.
    extra_vars.update({
        "consul_dns_zones": [{"name": ZONE, "nameservers": ["ns1.geant.net."], "services": ["crowd"]}],
        "consul_dns_zone_dir": str(pdd / "artifacts" / "zones"),
        "consul_dns_zone_validate": "never",
        "consul_dns_hold_down": 0,
        "consul_dns_lock_key": LOCK_KEY,
        "consul_dns_lock_delay": 0,
        "consul_dns_zone_backup": "false",
    })
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extra_vars))
    env.update({"JOB_ID": str(job_id), "AWX_JOB_ID": str(job_id), "PATH": "%s:/usr/bin:/bin" % BIN,
                "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")})
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(env))
    return pdd, extra_vars


def lock_session(consul):
    try:
        items = consul.api("GET", "/v1/kv/%s" % LOCK_KEY)
    except requests.RequestException:  # 404: no lock key yet
        return None
    return items[0].get("Session") if items else None


def run_job(pdd, job_id=JOB_ID, asynchronous=False):
    kwargs = dict(private_data_dir=str(pdd), playbook="playbooks/zone_sync.yml", ident=str(job_id), quiet=True)
    return ansible_runner.run_async(**kwargs) if asynchronous else ansible_runner.run(**kwargs)


def sync_task_result(runner):
    results = [e["event_data"]["res"] for e in runner.events
               if e.get("event") in ("runner_on_ok", "runner_on_failed")
               and e["event_data"].get("task") == "Sync the zones"]
    assert len(results) == 1, runner.stdout.read()
    return results[0]


@pytest.fixture
def bed(consul_dev, wapi_simulator):
    nios_create_zone(wapi_simulator, ZONE)
    for sid, address in (("crowd1", "1.1.1.10"), ("crowd2", "1.1.1.11")):
        consul_dev.register_service({"Name": "crowd", "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    return consul_dev, wapi_simulator


def test_the_job_publishes_then_changes_nothing_with_the_credentials_injected(bed, tmp_path):
    consul, nios = bed
    pdd, extra_vars = awx_job(tmp_path, consul, nios)
    assert Path(extra_vars["consul_dns_infoblox_ca_path"]).read_text() == Path(nios.ca_path).read_text()
    assert extra_vars["consul_dns_consul_ca_path"] == ""  # no Consul CA given: no file used

    first = run_job(pdd)
    assert first.status == "successful" and first.rc == 0, first.stdout.read()
    result = sync_task_result(first)
    assert result["changed"] and result["holder"].startswith("AWX job %d" % JOB_ID)
    assert nios_addresses(nios, ZONE) == {"crowd." + ZONE: ["1.1.1.10", "1.1.1.11"]}
    assert (pdd / "artifacts" / "zones" / ("%s.zone" % ZONE)).exists()

    second = run_job(pdd, job_id=JOB_ID + 1)
    assert second.status == "successful"
    assert not sync_task_result(second)["changed"]
    assert second.stats["changed"] == {}
    assert nios.password not in (pdd / "artifacts" / str(JOB_ID + 1) / "stdout").read_text()


def test_an_ad_hoc_run_during_the_awx_job_is_refused_by_the_lock_naming_the_job(bed, tmp_path):
    consul, nios = bed
    pdd, extra_vars = awx_job(tmp_path, consul, nios)
    # The AWX job holds the lock until the ad-hoc run is done, or 25 s (under the job's 30 s WAPI read timeout).
    nios.sim.faults.add_latency(25, count=1, method="GET")
    thread, runner = run_job(pdd, asynchronous=True)
    try:
        pause = threading.Event()
        for _attempt in range(300):
            if lock_session(consul):
                break
            pause.wait(0.1)
        else:
            pytest.fail("the AWX job never took the lock")
        settings = dict((k, v) for k, v in extra_vars.items() if k.startswith("consul_dns_"))
        adhoc = SyncBed(consul.http_url, tmp_path / "adhoc", settings["consul_dns_zones"], nios=nios,
                        **dict(settings, consul_dns_zone_dir=str(tmp_path / "adhoc" / "zones")))
        refused = adhoc.run()
        assert lock_skipped(refused), refused
        assert "is held by AWX job %d" % JOB_ID in lock_message(refused)
    finally:
        nios.sim.faults.end_latency()
        thread.join(120)
    assert runner.status == "successful"
    assert sync_task_result(runner)["changed"]
    assert nios_addresses(nios, ZONE) == {"crowd." + ZONE: ["1.1.1.10", "1.1.1.11"]}
