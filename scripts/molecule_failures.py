"""Name the failed tasks of a Molecule log, short, for the end of a CI printout.

    python scripts/molecule_failures.py LOG SCENARIO [LIMIT]

Prints one line per failed task (the last LIMIT, default 2, that were not ignored):
``=== molecule <scenario>: x <molecule step> TASK [<task>] on <host>: <msg>``, the message on one
line and cut, so that a CI printout that only keeps its last lines still says what failed and why.
Reads ansible-playbook's output in the yaml result format the scenarios use (JSON also works).
"""
import re
import sys

import yaml

STEP = re.compile(r"\[[\w-]+ > ([\w-]+)\]")
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
FAILED = re.compile(r"^(?:fatal|failed): \[([^\]]+)\]: (?:FAILED|UNREACHABLE)! => ?(.*)$")
MAX_CHARS = 1200


def message(block):
    """The result's msg (or the whole result) on one line."""
    text = "\n".join(block)
    try:
        result = yaml.safe_load(text)
    except yaml.YAMLError:
        result = None
    if isinstance(result, dict):
        text = str(result.get("msg") or result.get("stderr") or result.get("module_stderr") or text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + " ..."


def failures(lines):
    """(molecule step, task, host, message) of every failed task that was not ignored."""
    found, step, task = [], "?", "?"
    i = 0
    while i < len(lines):
        line = lines[i]
        match = STEP.search(line)
        if match and ("INFO" in line or "ERROR" in line):
            step = match.group(1)
        match = TASK.match(line)
        if match:
            task = match.group(1)
        match = FAILED.match(line)
        if match:
            block = [match.group(2)] if match.group(2).strip() else []
            i += 1
            while i < len(lines) and (lines[i].startswith((" ", "\t")) or not lines[i].strip()):
                if lines[i].strip():
                    block.append(lines[i])
                i += 1
            ignored = i < len(lines) and lines[i].startswith("...ignoring")
            if not ignored:
                found.append((step, task, match.group(1), message(block)))
            continue
        i += 1
    return found


def main(argv):
    path, scenario = argv[1], argv[2]
    limit = int(argv[3]) if len(argv) > 3 else 2
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        print("=== molecule %s: x its log cannot be read (%s)" % (scenario, exc))
        return 0
    found = failures(lines)
    if not found:
        last = [line for line in lines if line.strip()][-1:] or ["(empty)"]
        print("=== molecule %s: x no failed task in its log; its last line: %s" % (scenario, last[0][:MAX_CHARS]))
    for step, task, host, text in found[-limit:]:
        print("=== molecule %s: x %s TASK [%s] on %s: %s" % (scenario, step, task, host, text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
