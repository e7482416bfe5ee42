# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' check of their own variables (tasks/preflight.yml), and what it relies on.

The first task of each preflight fails on a variable with the role's prefix that is neither an option
of meta/argument_specs.yml nor one the role sets itself (its `_<role>_set_by_role` list). That list
must name every prefixed variable the role's task files set (set_fact, vars, register), or a second
run of the role in a play would fail on the first run's result. The waves role checks an app's keys
against the deploy role's variables, so it must pass each of them to the deploy role, with the
deploy role's default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


def _options(role: str) -> dict[str, Any]:
    return dict(_load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"])


def _names_set(node: Any) -> Iterator[str]:
    """The variable names a task list sets: set_fact keys, vars keys, register and loop_var."""
    if isinstance(node, list):
        for item in node:
            yield from _names_set(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("ansible.builtin.set_fact", "vars") and isinstance(value, dict):
                yield from value
            elif key in ("register", "loop_var") and isinstance(value, str):
                yield value
            yield from _names_set(value)


def _first_task(role: str) -> dict[str, Any]:
    return dict(_load(ROLES / role / "tasks" / "preflight.yml")[0])


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_preflight_starts_with_the_check_of_the_variables(role: str) -> None:
    main = _load(ROLES / role / "tasks" / "main.yml")
    assert main[0]["ansible.builtin.include_tasks"]["file"] == "preflight.yml"
    assert f"{role}_preflight" in main[0]["tags"]
    task = _first_task(role)
    # a misspelled option fails; a name close to no option is only named
    refuse, name = task["block"]
    assert refuse["ansible.builtin.assert"]["that"] == f"_{role}_misspelled | length == 0"
    assert name["ansible.builtin.debug"]["msg"].startswith(f"{{{{ _{role}_foreign | join(', ') }}}}")
    unknown = task["vars"][f"_{role}_unknown"]
    assert f"query('ansible.builtin.varnames', '^{role}_')" in unknown
    # the options are read from the argument spec, not listed
    assert "role_path ~ '/meta/argument_specs.yml'" in task["vars"][f"_{role}_options"]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_variable_the_role_sets_is_known_to_its_preflight(role: str) -> None:
    set_by_role = _first_task(role)["vars"][f"_{role}_set_by_role"]
    options = _options(role)
    assert not set(set_by_role) & set(options), "an option is not set by the role"
    found = {
        name
        for path in sorted((ROLES / role / "tasks").glob("*.yml"))
        for name in _names_set(_load(path))
        if name.startswith(f"{role}_")
    }
    assert found - set(options) == set(set_by_role)


def _jinja_literal(text: str) -> Any:
    return yaml.safe_load(text.replace("none", "null"))


def test_waves_passes_every_variable_of_the_deploy_role() -> None:
    include = _load(ROLES / "waves" / "tasks" / "app.yml")[0]
    assert include["ansible.builtin.include_role"]["name"] == "openrollout.k8s.deploy"
    given = {name: value for name, value in include["vars"].items() if name.startswith("deploy_")}
    options = _options("deploy")
    assert sorted(given) == sorted(options)
    for name, value in given.items():
        key = name.removeprefix("deploy_")
        match = re.fullmatch(r"\{\{ _waves_app\.(\w+)(?: \| default\((.*)\))? \}\}", value)
        assert match, value
        assert match.group(1) == key, value
        if name in ("deploy_name", "deploy_namespace"):
            continue  # the app's name; waves_namespace
        assert _jinja_literal(match.group(2)) == options[name].get("default"), name
