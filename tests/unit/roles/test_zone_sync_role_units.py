"""The zone_sync role's job user, sandbox and virtualenv, rendered by Ansible (localhost, nothing installed).

- The systemd units (the timer's service, the watch service), rendered with the role's ``defaults/main.yml``
  and ``vars/main.yml``: user zone_sync_user, the sandbox options, ``ReadWritePaths=`` exactly the state
  folder, the log file and the folders the settings name outside it, the credentials through
  ``LoadCredential=`` (the watch service reads them at ``%d``), no sandbox with zone_sync_systemd_hardening off.
- The settings file's content (zone folder, report and metrics in the state folder unless the settings say
  otherwise) and the wrapper script (bash syntax).
- ``files/requirements.txt``: every package pinned to one version with hashes, the top-level packages of
  ``requirements.in`` in it, ansible-core for Python 3.10 and for 3.11+.
- The README's variable table names every option of ``meta/argument_specs.yml``, and every default is an option.
"""

import json
import re
import subprocess

import pytest
import yaml

from tests.playbook import REPO_ROOT, run_playbook

ROLE = REPO_ROOT / "roles" / "zone_sync"
ZONE = {"name": "geant.services", "nameservers": ["ns1.geant.net."]}

# case name -> task vars (over the role defaults)
CASES = {
    "default": {},
    "metrics": {"zone_sync_metrics_textfile_dir": "/var/lib/prometheus/node-exporter"},
    "outside": {
        "zone_sync_log_file": "",
        "zone_sync_metrics_textfile_dir": "/var/lib/prometheus/node-exporter",
        "zone_sync_settings": {
            "consul_dns_zone_dir": "/srv/dns/zones/",
            "consul_dns_zones": [ZONE, dict(ZONE, name="example.org", zone_file="/srv/other/example.org.zone"),
                                 dict(ZONE, name="inside.org", zone_file="/var/lib/consul_dns/more/inside.org.zone")],
            "consul_dns_metrics_file": "/var/lib/prometheus/node-exporter/consul_dns.prom",
            "consul_dns_report_file": "auto",
        },
    },
    "no-hardening": {"zone_sync_systemd_hardening": False, "zone_sync_user": "dns-sync", "zone_sync_group": "dns",
                     "zone_sync_systemd_extra": ["Environment=HTTPS_PROXY=http://proxy:3128"]},
    "system-python": {"zone_sync_python_install": "system", "zone_sync_state_dir": "/srv/sync/"},
}
TEMPLATES = {"service": "zone-sync.service.j2", "watch": "zone-watch.service.j2", "wrapper": "consul-dns-zone-sync.sh.j2"}
COMPUTED = ["_zone_sync_file_settings", "_zone_sync_write_paths", "_zone_sync_output_dirs", "_zone_sync_metrics_link"]

SANDBOX = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes", "ProtectClock": "yes", "RestrictSUIDSGID": "yes", "RestrictNamespaces": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
}


def _playbook(out):
    tasks = []
    for name, case_vars in CASES.items():
        rendered = {key: "{{ lookup('ansible.builtin.template', %s) }}" % json.dumps(str(ROLE / "templates" / src))
                    for key, src in TEMPLATES.items()}
        rendered.update({key: "{{ %s }}" % key for key in COMPUTED})
        tasks.append({
            "name": "Render %s" % name,
            "ansible.builtin.set_fact": {"_out": "{{ _out | combine({%s: _case}) }}" % json.dumps(name)},
            "vars": dict(case_vars, ansible_managed="managed", _case=rendered),
        })
    tasks.append({"name": "Write the results", "ansible.builtin.copy": {
        "content": "{{ _out | to_json }}", "dest": "%s/rendered.json" % out, "mode": "0600"}})
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
                        "vars": {"_out": {}, "role_path": str(ROLE)}, "tasks": tasks}])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("zone-sync-render")
    result = run_playbook(_playbook(out))
    assert result.rc == 0, result.output[-4000:]
    data = json.loads((out / "rendered.json").read_text())
    assert sorted(data) == sorted(CASES)
    return data


def unit_settings(text):
    """[Service] settings of a unit: name -> list of values (in order)."""
    settings = {}
    for line in text.split("[Service]", 1)[1].split("[Install]")[0].splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.parametrize("unit", ["service", "watch"])
@pytest.mark.parametrize("case", ["default", "metrics", "outside", "system-python"])
def test_units_run_as_the_job_user_in_the_sandbox(rendered, case, unit):
    settings = unit_settings(rendered[case][unit])
    assert settings["User"] == ["consul-dns"] and settings["Group"] == ["consul-dns"]
    for key, value in SANDBOX.items():
        assert settings.get(key) == [value], key
    assert settings["SystemCallFilter"] == ["@system-service", "~@privileged"]
    assert settings["ReadWritePaths"] == [" ".join(rendered[case]["_zone_sync_write_paths"])]
    assert settings["LoadCredential"] == ["credentials.yml:/etc/consul_dns/credentials.yml"]
    assert "/etc/consul_dns/credentials.yml" not in "".join(settings["ExecStart"])


def test_watch_service_reads_the_credentials_systemd_hands_over(rendered):
    exec_start = unit_settings(rendered["default"]["watch"])["ExecStart"][0]
    assert exec_start.endswith("--config /etc/consul_dns/zone_sync.yml --config %d/credentials.yml")


def test_the_job_writes_only_where_its_settings_say(rendered):
    assert rendered["default"]["_zone_sync_write_paths"] == ["/var/lib/consul_dns", "/var/log/consul_dns/sync.log"]
    # The metrics stay in the state folder (node_exporter's folder gets a link, not write access).
    assert rendered["metrics"]["_zone_sync_write_paths"] == rendered["default"]["_zone_sync_write_paths"]
    assert rendered["metrics"]["_zone_sync_metrics_link"] is True
    assert rendered["metrics"]["_zone_sync_file_settings"]["consul_dns_metrics_file"] == "/var/lib/consul_dns/consul_dns.prom"
    # Folders named by the settings outside the state folder; none twice, none inside it.
    assert rendered["outside"]["_zone_sync_write_paths"] == [
        "/var/lib/consul_dns", "/srv/dns/zones", "/srv/other", "/srv/dns", "/var/lib/prometheus/node-exporter"]
    assert rendered["outside"]["_zone_sync_metrics_link"] is False
    assert rendered["system-python"]["_zone_sync_write_paths"] == ["/srv/sync", "/var/log/consul_dns/sync.log"]


def test_settings_file_keeps_the_job_in_its_state_folder(rendered):
    settings = rendered["default"]["_zone_sync_file_settings"]
    assert settings["consul_dns_zone_dir"] == "/var/lib/consul_dns/zones"
    assert settings["consul_dns_report_file"] == "/var/lib/consul_dns/last_sync.json"
    assert "consul_dns_metrics_file" not in settings
    assert rendered["system-python"]["_zone_sync_file_settings"]["consul_dns_zone_dir"] == "/srv/sync/zones"
    assert rendered["outside"]["_zone_sync_file_settings"]["consul_dns_zone_dir"] == "/srv/dns/zones/"


def test_no_hardening_keeps_user_and_credentials(rendered):
    settings = unit_settings(rendered["no-hardening"]["watch"])
    assert settings["User"] == ["dns-sync"] and settings["Group"] == ["dns"]
    assert settings["LoadCredential"] == ["credentials.yml:/etc/consul_dns/credentials.yml"]
    assert "ProtectSystem" not in settings and "ReadWritePaths" not in settings
    assert settings["Environment"] == ["HTTPS_PROXY=http://proxy:3128"]


@pytest.mark.parametrize("case", ["default", "system-python", "no-hardening"])
def test_wrapper_is_valid_bash_and_runs_as_the_job_user(rendered, case, tmp_path):
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text(rendered[case]["wrapper"])
    subprocess.run(["bash", "-n", str(wrapper)], check=True)
    text = rendered[case]["wrapper"]
    user = CASES[case].get("zone_sync_user", "consul-dns")
    assert "user=%s\n" % user in text
    assert 'setpriv --reuid="$user" --regid="$group" --init-groups' in text
    assert 'credentials=$CREDENTIALS_DIRECTORY/credentials.yml' in text


REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)(?: ; ([^\\]+))? \\$")


def requirements():
    """(name, version, marker, hashes) of every requirement of files/requirements.txt."""
    entries, current = [], None
    for line in (ROLE / "files" / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("    --hash=sha256:"):
            current[3].append(line.split(":", 1)[1].rstrip(" \\"))
            continue
        match = REQUIREMENT.match(line)
        assert match, "not an exact pin with hashes: %r" % line
        current = (match.group(1).lower(), match.group(2), match.group(3) or "", [])
        entries.append(current)
    return entries


def test_requirements_pin_every_package_with_hashes():
    entries = requirements()
    assert entries
    for name, version, _marker, hashes in entries:
        assert hashes and all(re.fullmatch("[0-9a-f]{64}", h) for h in hashes), name
        assert re.fullmatch(r"[0-9][0-9a-z.+]*", version), (name, version)
    names = {entry[0] for entry in entries}
    top = {re.split("[=<>; ]", line)[0].lower() for line in (ROLE / "files" / "requirements.in").read_text().splitlines()
           if line.strip() and not line.startswith("#")}
    assert top <= names
    assert {"jinja2", "pyyaml", "cryptography", "urllib3", "six"} <= names  # dependencies too, not just the top
    ansible = {entry[2] for entry in entries if entry[0] == "ansible-core"}
    assert ansible == {"python_full_version < '3.11'", "python_full_version >= '3.11'"}


def test_readme_table_names_every_option():
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    readme = (ROLE / "README.md").read_text()
    rows = set()
    for line in readme.splitlines():
        if line.startswith("| `"):
            rows.update(re.findall(r"`(zone_sync_[a-z_]+)`", line.split("|")[1]))
    assert sorted(set(spec) - rows) == [] and sorted(rows - set(spec)) == []
    assert sorted(set(defaults) - set(spec)) == []
    for name, value in defaults.items():
        if "{{" not in str(value) and name not in ("zone_sync_settings",):
            assert spec[name].get("default") == value, name
