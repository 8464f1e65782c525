#!/usr/bin/env python
"""Write the settings options of role zone_sync's meta/argument_specs.yml from the settings schema.

    .venv/bin/python scripts/settings_docs.py          rewrite the generated block in place
    .venv/bin/python scripts/settings_docs.py --check  exit 1 when it is out of date

The schema is plugins/module_utils/sync/settings.py (role_options); the block sits between the
"BEGIN generated" and "END generated" comment lines under zone_sync_settings and zone_sync_secrets.
tests/unit/plugins/module_utils/sync/test_settings.py checks the same in the unit tests (so in CI).
"""
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "roles", "zone_sync", "meta", "argument_specs.yml")
BLOCK = re.compile(r"^(?P<indent> *)# BEGIN generated from the settings schema: (?P<option>\w+)\n.*?"
                   r"^(?P=indent)# END generated\n", re.M | re.S)


class IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as yamllint (ansible-lint) wants them."""

    def increase_indent(self, flow=False, indentless=False):
        return super(IndentedDumper, self).increase_indent(flow, False)


def schema():
    sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
    from ansible_collections.geant.consul_dns.plugins.module_utils.sync import settings
    return settings


def render(text):
    settings_options, secrets_options = schema().role_options()
    generated = {"zone_sync_settings": settings_options, "zone_sync_secrets": secrets_options}

    def block(match):
        indent, option = match.group("indent"), match.group("option")
        body = yaml.dump({"options": generated[option]}, Dumper=IndentedDumper, default_flow_style=False,
                         sort_keys=False, width=110, indent=2)
        lines = [indent + line if line else line for line in body.splitlines()]
        return "%s# BEGIN generated from the settings schema: %s\n%s# (scripts/settings_docs.py; do not edit " \
               "by hand)\n%s\n%s# END generated\n" % (indent, option, indent, "\n".join(lines), indent)

    new, count = BLOCK.subn(block, text)
    if count != 2:
        raise SystemExit("%s: expected the two generated blocks, found %d" % (SPECS, count))
    return new


def main(argv):
    with open(SPECS) as handle:
        text = handle.read()
    new = render(text)
    if "--check" in argv:
        if new != text:
            sys.stderr.write("%s is out of date: run scripts/settings_docs.py and commit it\n" % SPECS)
            return 1
        print("settings: role argument_specs up to date")
        return 0
    if new != text:
        with open(SPECS, "w") as handle:
            handle.write(new)
    print("settings: wrote %s" % os.path.relpath(SPECS, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
