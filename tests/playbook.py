"""Run a real ansible-playbook (subprocess) against localhost with this checkout as geant.consul_dns."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class PlaybookResult(object):
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def task_results(self, task_name, host="localhost"):
        """Results of ``task_name`` (needs ``json_output=True``): one dict per run of the task."""
        data = json.loads(self.stdout)
        return [task["hosts"][host] for play in data["plays"] for task in play["tasks"]
                if task["task"]["name"] == task_name and host in task["hosts"]]

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return "<playbook rc=%s>\n%s" % (self.rc, self.output[-4000:])


def python_without_requests():
    """A Python without ``requests`` to run modules with, as the Consul nodes' system Python (modules that run
    there must not need it): /usr/bin/python3 when it lacks requests, else the test's own."""
    system = "/usr/bin/python3"
    try:
        lacks = subprocess.run([system, "-c", "import requests"], capture_output=True, check=False).returncode != 0
    except OSError:
        lacks = False
    return system if lacks else sys.executable


def run_playbook(playbook_text, extra_vars=None, args=(), env=None, timeout=300, json_output=False):
    """Write ``playbook_text`` to a temp file and run it; localhost uses this interpreter.

    ``json_output`` switches stdout to the ansible.posix.json callback, read by ``task_results``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "playbook.yml"
        path.write_text(playbook_text)
        cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, str(path)]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        cmd += list(args)
        full_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json" if json_output else "default")
        full_env.update(env or {})
        proc = subprocess.run(cmd, cwd=str(REPO_ROOT), env=full_env, capture_output=True, text=True, check=False,
                              timeout=timeout)
        return PlaybookResult(proc)
