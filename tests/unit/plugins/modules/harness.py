"""Run a module's main() in-process: exit_json and fail_json raise :class:`ModuleExit` with the result.

conftest.py patches AnsibleModule for every test of this folder.
"""

import json

from ansible.module_utils.basic import AnsibleModule


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(json.dumps(result, default=str))
        self.result = result
        self.failed = failed


def patch_exits(monkeypatch):
    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        kwargs["failed"] = True
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(AnsibleModule, "fail_json", fail_json)
