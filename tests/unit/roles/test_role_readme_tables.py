"""The variable tables of the roles' READMEs say what meta/argument_specs.yml says.

One row per option (sub-options of list options as ``name[].sub``), in the spec's order: type (``list/<elements>``),
default (``(computed)`` when the spec has none, ``required``; sub-options without a default leave it empty), and
the description followed by its choices and ``Secret (no_log).``. Every variable in ``defaults/main.yml`` is in
the spec.
"""

import json

import pytest
import yaml

from tests.playbook import REPO_ROOT

TABLE_HEADER = "| variable | type | default | description |"
# Roles whose README documents its variables another way, tested there.
OWN_FORMAT = {"zone_sync": "tests/unit/roles/test_zone_sync_role_units.py (settings schema)"}


def roles_with_table():
    """Every role whose README has the variable table (header ``| Variable | Type | Default | Description |``)."""
    return sorted(path.parent.name for path in (REPO_ROOT / "roles").glob("*/README.md")
                  if TABLE_HEADER in path.read_text().lower())


ROLES = roles_with_table()


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
    # A default the spec states is the one defaults/main.yml sets.
    spec = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    assert [name for name, value in defaults.items()
            if "default" in options[name] and options[name]["default"] != value] == []


def test_every_role_is_checked():
    roles = sorted(path.parent.parent.name for path in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))
    assert [role for role in roles if role not in ROLES and role not in OWN_FORMAT] == []
    assert "consul" in ROLES and "consul_snapshot" in ROLES
