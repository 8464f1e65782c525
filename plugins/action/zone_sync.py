# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin geant.consul_dns.zone_sync: the sync engine, run in the controller process.

Documentation: plugins/modules/zone_sync.py. The work is :class:`engine.SyncEngine`'s (the same code
the watch service runs); this plugin gathers the ``consul_dns_*`` variables, validates them with the
settings schema and turns the engine's typed outcomes into a task result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import HAS_CONSUL
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import adoption_line
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.engine import SyncEngine
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.lock_keeper import holder_name
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.settings import (
    PREFIX,
    SettingsError,
    load_settings,
)

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("settings",))

    def _variables(self, task_vars):
        """Every consul_dns_* variable the task sees, templated; the task's ``settings`` win."""
        variables = {}
        for name in task_vars:
            if name.startswith(PREFIX):
                variables[name] = self._templar.template(task_vars[name])
        overrides = self._task.args.get("settings") or {}
        if not isinstance(overrides, dict):
            raise AnsibleActionFail("settings must be a dict of consul_dns_* values")
        variables.update(overrides)
        return variables

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not HAS_CONSUL:
            raise AnsibleActionFail("the python library 'python-consul2' (or 'py-consul') is required on the "
                                    "controller")
        try:
            settings = load_settings(self._variables(task_vars or {}), source="the play's variables")
            engine = SyncEngine(settings)
        except SettingsError as exc:
            raise AnsibleActionFail("invalid zone sync settings: %s" % exc)
        # ansible-playbook forks a worker per task: its parent is the ansible-playbook process.
        holder = holder_name("ansible-playbook", os.getppid(), configured=settings["lock_holder"])
        try:
            run = engine.run(settings["report_mode"], holder, check_mode=self._task.check_mode,
                             diff=self._task.diff)
        finally:
            engine.close()

        zones = {}
        diffs = []
        for outcome in run.outcomes:
            zones[outcome.zone] = outcome.summary()
            for warning in outcome.warnings:
                display.warning("%s: %s" % (outcome.zone, warning))
            diffs.extend(outcome.diffs)
        result.update(changed=run.changed, zones=zones, report=run.report, holder=holder,
                      decisions=dict((o.zone, o.decisions) for o in run.outcomes if o.decisions is not None),
                      damping=[line for o in run.outcomes for line in o.damping_lines],
                      status=run.report["status"])
        adoption = dict((o.zone, o.adoption) for o in run.outcomes if o.adoption is not None)
        if adoption:
            result["adoption"] = adoption
            result["adoption_lines"] = ["%s: %s" % (zone, adoption_line(entry))
                                        for zone in sorted(adoption) for entry in adoption[zone]]
        if diffs:
            result["diff"] = diffs
        if run.report_error:
            display.warning(run.report_error)
        if run.skipped:
            result["skipped_reason"] = run.skipped
            result["msg"] = "%s; this run does nothing" % run.skipped
            return result
        if not run.ok:
            result["failed"] = True
            result["msg"] = run.failure_message()
            result["refused"] = any(o.refused for o in run.outcomes)
            return result
        result["msg"] = "%d zone(s) synced%s" % (len(zones), ", changes made" if run.changed else ", no change")
        return result
