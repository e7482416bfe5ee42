# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's documentation: complete, valid YAML, examples that the module accepts, rendered by ansible-doc.

- DOCUMENTATION has version_added, the attributes check_mode, diff_mode and idempotent, seealso,
  and the connection options (the openrollout.k8s.auth fragment).
- EXAMPLES parse, call the module, and each task calling one of this collection's modules passes that
  module's own argument spec, checked with ansible-core's ArgumentSpecValidator: no unknown or
  misspelt option, required ones present, values of the right type and among the choices,
  mutually exclusive options apart. A templated value (``{{ ... }}``) stands for a value of the
  option's type.
- RETURN parses and describes each key (what a module really returns is checked against it on the
  local cluster: tests/integration/test_return_docs.py).
- ``ansible-doc`` renders every module without an error or a warning, and names its authors by their
  GitHub handle (never ``!UNKNOWN``); the filters' authors too.
- ``namespace`` follows one rule in every module: never required, ``default`` when left out.

The argument spec is the one the module really passes to AnsibleModule: main() runs with
AnsibleModule replaced by a stand-in that records its arguments and stops there.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

PACKAGE = "ansible_collections.openrollout.k8s.plugins.modules"
MODULES_DIR = Path(importlib.import_module(PACKAGE.rsplit(".", 1)[0] + ".modules").__path__[0])
MODULES = sorted(p.stem for p in MODULES_DIR.glob("*.py") if p.stem != "__init__")
# The directory that holds ansible_collections/openrollout/k8s: build/ for a checkout (a symlink to
# the repository), the copy's root under ansible-test.
COLLECTIONS_PATH = MODULES_DIR.parents[3]
ATTRIBUTES = ("check_mode", "diff_mode", "idempotent")
SUPPORT = ("full", "partial", "none", "N/A")
# AnsibleModule arguments that ArgumentSpecValidator takes too.
VALIDATOR_ARGS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
PLACEHOLDERS = {"int": 1, "float": 1.0, "bool": True, "list": [], "dict": {}}
# validate-modules' author rule (ansible-test's schema.author_line) without its way out, ``!UNKNOWN``,
# which ansible-doc prints as it is: a name, then a GitHub handle in brackets.
AUTHOR = re.compile(r"^\w.*\(@[\w-]+\)$")
FILTERS_DIR = MODULES_DIR.parent / "filter"
FILTERS = sorted(p.stem for p in FILTERS_DIR.glob("*.py") if p.stem != "__init__")


class _Captured(Exception):
    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("AnsibleModule called")
        self.kwargs = kwargs


class _RecordingModule:
    def __init__(self, **kwargs: Any) -> None:
        raise _Captured(kwargs)


def load(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


class _ExamplesLoader(yaml.SafeLoader):
    """YAML as a playbook is read: ``!unsafe`` (text Ansible does not template) is a string."""


_ExamplesLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def docs(name: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    module = load(name)
    return (
        yaml.safe_load(module.DOCUMENTATION),
        yaml.load(module.EXAMPLES, Loader=_ExamplesLoader),
        yaml.safe_load(module.RETURN) or {},
    )


_SPECS: dict[str, dict[str, Any]] = {}


def module_args(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The keyword arguments main() gives AnsibleModule (argument_spec, mutually_exclusive, ...)."""
    if name not in _SPECS:
        module = load(name)
        with monkeypatch.context() as patch:
            patch.setattr(module, "AnsibleModule", _RecordingModule)
            with pytest.raises(_Captured) as captured:
                module.main()
        _SPECS[name] = captured.value.kwargs
    return _SPECS[name]


def tasks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every task of a task list, the ones inside blocks included."""
    found = []
    for item in items or []:
        found.append(item)
        for section in ("block", "rescue", "always"):
            found += tasks(item.get(section) or [])
    return found


def templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def untemplated(params: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """`params` with each templated value replaced by a value of the option's type."""
    aliases = {alias: name for name, option in spec.items() for alias in option.get("aliases", [])}
    result = {}
    for key, value in params.items():
        option = spec.get(aliases.get(key, key), {})
        if templated(value):
            choices = option.get("choices")
            value = choices[0] if choices else PLACEHOLDERS.get(option.get("type", "str"), "templated")
        elif isinstance(value, dict) and option.get("options"):
            value = untemplated(value, option["options"])
        result[key] = value
    return result


def test_every_module_is_found() -> None:
    assert {"rollout", "rollout_info", "rollout_undo", "rollout_control", "lifecycle_hook"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_is_complete(name: str) -> None:
    documentation, examples, returns = docs(name)
    assert documentation["module"] == name
    assert documentation.get("short_description")
    assert str(documentation.get("version_added", "")).count(".") == 2, "version_added, as x.y.z"
    attributes = documentation.get("attributes") or {}
    for attribute in ATTRIBUTES:
        assert attribute in attributes, f"attributes.{attribute}"
        assert attributes[attribute].get("support") in SUPPORT, f"attributes.{attribute}.support"
        assert attributes[attribute].get("description"), f"attributes.{attribute}.description"
    seealso = documentation.get("seealso") or []
    assert seealso, "seealso"
    for entry in seealso:
        assert entry.get("module") or (entry.get("link") and entry.get("name")), entry
    assert "openrollout.k8s.auth" in (documentation.get("extends_documentation_fragment") or [])
    assert isinstance(examples, list) and examples, "EXAMPLES is a list of tasks"
    assert isinstance(returns, dict)
    for key, value in returns.items():
        assert value.get("description") and value.get("type"), f"RETURN {key}: description and type"


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    documentation = docs(name)[0]
    spec = module_args(name, monkeypatch)["argument_spec"]
    own = set(documentation.get("options") or {})
    # the connection options come from the doc fragment
    fragment = yaml.safe_load(
        importlib.import_module(
            "ansible_collections.openrollout.k8s.plugins.doc_fragments.auth"
        ).ModuleDocFragment.DOCUMENTATION
    )["options"]
    assert sorted(own | set(fragment)) == sorted(spec)


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_documented_options(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = docs(name)[1]
    checked = 0
    for task in tasks(examples):
        assert task.get("name"), f"every example task is named: {task}"
        for key, params in task.items():
            if not key.startswith("openrollout.k8s."):
                continue
            module = key.rsplit(".", 1)[1]
            assert module in MODULES, f"{task['name']}: no module {key}"
            args = module_args(module, monkeypatch)
            validator = ArgumentSpecValidator(
                args["argument_spec"], **{k: args[k] for k in VALIDATOR_ARGS if k in args}
            )
            result = validator.validate(untemplated(params or {}, args["argument_spec"]))
            assert result.error_messages == [], f"{task['name']}: {result.error_messages}"
            checked += module == name
    assert checked, f"the EXAMPLES of {name} never call openrollout.k8s.{name}"


def test_untemplated_keeps_the_types() -> None:
    spec = {
        "replicas": {"type": "int"},
        "kind": {"type": "str", "choices": ["A", "B"]},
        "wait": {"type": "bool"},
    }
    params = {"replicas": "{{ n }}", "kind": "{{ k }}", "wait": "{{ w }}", "name": "web"}
    assert untemplated(params, spec) == {"replicas": 1, "kind": "A", "wait": True, "name": "web"}
    validator = ArgumentSpecValidator(spec)
    assert validator.validate({"replica": 1}).error_messages  # a misspelt option is caught


def test_ansible_doc_renders_every_module() -> None:
    # Under ansible-test units, PYTHONPATH puts a module-side subset of ansible first (no ansible.cli):
    # ansible-doc runs with the installed ansible-core instead.
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "ansible.cli.doc", "-t", "module", *(f"openrollout.k8s.{m}" for m in MODULES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr and "WARNING" not in completed.stderr, completed.stderr
    for name in MODULES:
        assert f"> MODULE openrollout.k8s.{name} " in completed.stdout, name
    assert completed.stdout.count("EXAMPLES:") == len(MODULES)
    assert completed.stdout.count("RETURN VALUES:") == len(MODULES)
    assert "!UNKNOWN" not in completed.stdout


def documentation_string(source: str) -> str:
    """The value of a plugin's module-level DOCUMENTATION, without importing the plugin."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "DOCUMENTATION" for target in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise AssertionError("no DOCUMENTATION")


@pytest.mark.parametrize(
    ("kind", "name"), [("modules", m) for m in MODULES] + [("filter", f) for f in FILTERS]
)
def test_author_names_a_github_handle(kind: str, name: str) -> None:
    # DOCUMENTATION read from the source, as ansible-doc reads it: ansible-test units runs the tests
    # under tests/unit/plugins/modules where only ansible.module_utils imports, and a filter plugin
    # imports ansible.errors.
    source = (MODULES_DIR.parent / kind / f"{name}.py").read_text()
    authors = yaml.safe_load(documentation_string(source))["author"]
    for author in [authors] if isinstance(authors, str) else authors:
        assert AUTHOR.match(author), author


@pytest.mark.parametrize("name", MODULES)
def test_namespace_is_never_required(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # One rule, as kubectl with no namespace in its context: left out, it is `default`. rollout takes
    # its definition's metadata.namespace first, so the default is applied there, after the spec.
    spec = module_args(name, monkeypatch)["argument_spec"]
    documented = docs(name)[0]["options"]
    if "namespace" not in spec:
        pytest.skip(f"{name} has no namespace option")
    assert not spec["namespace"].get("required"), "namespace is never required"
    assert not documented["namespace"].get("required")
    expected = None if name == "rollout" else "default"
    assert spec["namespace"].get("default") == expected
    assert documented["namespace"].get("default") == expected
    if expected is None:
        assert "C(default)" in " ".join(documented["namespace"]["description"])


@pytest.mark.parametrize("name", MODULES)
def test_every_module_masks_the_connection_secrets(name: str) -> None:
    # Secrets inside a kubeconfig given as a dict have no no_log of their own: run_module() registers
    # them right after the module parses its arguments (tests/unit/plugins/module_utils/test__module.py
    # runs every main() with one; test_rbac.py scans the -vvvv output).
    source = (MODULES_DIR / f"{name}.py").read_text()
    assert "run_module(module, " in source
