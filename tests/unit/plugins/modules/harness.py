"""Run a module's main() in-process: exit_json and fail_json raise :class:`ModuleExit` with the result.

conftest.py patches AnsibleModule for every test of this folder.
"""

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args


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


def run_main(main, **args):
    """``main()`` of a module with ``args`` as its parameters: the ModuleExit it ends with."""
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as exc:
            main()
    return exc.value
