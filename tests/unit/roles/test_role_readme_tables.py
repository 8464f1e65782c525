"""The variable tables of the consul and consul_service READMEs say what meta/argument_specs.yml says.

One row per option (sub-options of list options as ``name[].sub``), in the spec's order: type (``list/<elements>``),
default (``(computed)`` when the spec has none, ``required``; sub-options without a default leave it empty), and
the description followed by its choices and ``Secret (no_log).``. Every variable in ``defaults/main.yml`` is in
the spec.
"""

import json

import pytest
import yaml

from tests.playbook import REPO_ROOT

ROLES = ["consul", "consul_service"]


def _default(value):
    if isinstance(value, str):
        return '`""`' if value == "" else "`%s`" % value
    return "`%s`" % json.dumps(value)


def spec_rows(role):
    spec = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    rows = []

    def walk(options, prefix):
        for name, option in options.items():
            kind = option.get("type", "str")
            if kind == "list":
                kind = "list/" + option.get("elements", "str")
            description = " ".join(option.get("description", []))
            if option.get("choices"):
                description += " Choices: " + ", ".join("`%s`" % c for c in option["choices"]) + "."
            if option.get("no_log"):
                description += " Secret (no_log)."
            if option.get("required"):
                default = "required"
            elif "default" in option:
                default = _default(option["default"])
            else:
                default = "" if prefix else "(computed)"
            rows.append(("`%s%s`" % (prefix, name), kind, default, description))
            if "options" in option:
                walk(option["options"], prefix + name + "[].")

    walk(spec["argument_specs"]["main"]["options"], "")
    return rows


def readme_rows(role):
    rows = []
    for line in (REPO_ROOT / "roles" / role / "README.md").read_text().splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
            rows.append(tuple(cells))
    return rows


@pytest.mark.parametrize("role", ROLES)
def test_readme_table_matches_argument_specs(role):
    assert readme_rows(role) == spec_rows(role)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented(role):
    defaults = yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    documented = {row[0].strip("`") for row in spec_rows(role)}
    assert sorted(set(defaults) - documented) == []
