"""scripts/molecule_failures.py: the failed tasks of a Molecule log, one line each."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "scripts", "molecule_failures.py")

LOG = """\
INFO     [default > converge] Executing
TASK [Install the service definition] *****************************************
fatal: [prod-crowd01]: FAILED! =>
    changed: false
    msg: validation failed
    rc: 1

TASK [Rescue it] ***************************************************************
ok: [prod-crowd01]

TASK [Probe that may fail] *****************************************************
fatal: [prod-crowd01]: FAILED! => {"changed": false, "msg": "ignored one"}
...ignoring

INFO     [default > verify] Executing
TASK [C: all three restarted] **************************************************
fatal: [localhost]: FAILED! =>
    assertion: roll.rc == 0
    changed: false
    evaluated_to: false
    msg: |-
        rc 2, restarted ['a']
        autopilot {'Healthy': False}

PLAY RECAP *********************************************************************
CRITICAL Ansible return code was 2
"""


def run(tmp_path, text, *extra):
    log = tmp_path / "s.log"
    log.write_text(text)
    out = subprocess.run([sys.executable, SCRIPT, str(log), "default"] + list(extra),
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_last_failures_named_with_step_task_host_and_message(tmp_path):
    lines = run(tmp_path, LOG)
    assert lines == [
        "=== molecule default: x converge TASK [Install the service definition] on prod-crowd01: validation failed",
        "=== molecule default: x verify TASK [C: all three restarted] on localhost: "
        "rc 2, restarted ['a'] autopilot {'Healthy': False}",
    ]


def test_ignored_failures_are_left_out_and_the_limit_holds(tmp_path):
    lines = run(tmp_path, LOG, "1")
    assert len(lines) == 1 and "TASK [C: all three restarted]" in lines[0]
    assert not any("ignored one" in line for line in run(tmp_path, LOG, "5"))


def test_long_messages_are_cut(tmp_path):
    text = "TASK [t] ***\nfatal: [h]: FAILED! =>\n    msg: %s\n" % ("x" * 5000)
    (line,) = run(tmp_path, text)
    assert len(line) < 1300 and line.endswith(" ...")


def test_a_log_without_failed_task_says_so(tmp_path):
    (line,) = run(tmp_path, "INFO something\nERROR Molecule executed 1 scenario (1 failed)\n")
    assert "no failed task" in line and "1 failed" in line
