# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout action plugin on the controller: src and template found as Ansible finds files, read
(Vault decrypted) and rendered there, handed to the module as definition text.

The action runs with ansible-core's own DataLoader and Templar on a project laid out in tmp_path (a
playbook folder with a role); only the module call is a stand-in that records its arguments. The
search path is the one ansible-core gives a task of the role (the role's folder, then its tasks/).
tests/integration/test_new_user_path.py runs the same through ansible-playbook on the local cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.template import Templar

from ansible_collections.openrollout.k8s.plugins.action.rollout import ActionModule
from ansible_collections.openrollout.k8s.plugins.plugin_utils._definition_action import given_file_option


def manifest(image: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        }
    )


TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ app }}
{% include '_labels.yml.j2' %}

spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example/{{ app }}:{{ version }}
"""
VAULT = VaultSecret(b"a vault password")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A playbook folder with files/ of its own and a role web with files/ and templates/."""
    role = tmp_path / "roles" / "web"
    for folder in (tmp_path / "files", role / "tasks", role / "files", role / "templates"):
        folder.mkdir(parents=True)
    (role / "tasks" / "main.yml").write_text("- ansible.builtin.meta: noop\n")
    (tmp_path / "files" / "web.yml").write_text(manifest("registry.example/web:from-the-playbook"))
    (role / "files" / "web.yml").write_text(manifest("registry.example/web:from-the-role"))
    (tmp_path / "files" / "only-in-the-playbook.yml").write_text(manifest("registry.example/web:playbook"))
    (role / "files" / "two.yml").write_text(manifest("a:1") + "---\n" + manifest("a:2"))
    (role / "files" / "broken.yml").write_text("spec: [\n")
    (role / "files" / "secret.yml").write_bytes(VaultLib([("default", VAULT)]).encrypt(manifest("vaulted:1")))
    (role / "templates" / "web.yml.j2").write_text(TEMPLATE)
    (role / "templates" / "_labels.yml.j2").write_text("  labels:\n    version: '{{ version }}'\n")
    (role / "templates" / "undefined.yml.j2").write_text("metadata: {name: '{{ nobody_set_this }}'}\n")
    return tmp_path


class Run:
    """The action for one task of the role, with the module call recorded."""

    def __init__(self, project: Path, args: dict[str, Any], async_val: int = 0) -> None:
        role = project / "roles" / "web"
        self.task = SimpleNamespace(
            args=args,
            async_val=async_val,
            check_mode=False,
            action="openrollout.k8s.rollout",
            get_search_path=lambda: [str(role), str(role / "tasks")],
        )
        loader = DataLoader()
        loader.set_basedir(str(project))
        loader.set_vault_secrets([("default", VAULT)])
        connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None), has_native_async=False)
        self.action = ActionModule(self.task, connection, None, loader, Templar(loader=loader), None)
        self.calls: list[dict[str, Any]] = []
        self.action._execute_module = self._module  # type: ignore[method-assign]

    def _module(self, module_args: dict[str, Any], task_vars: dict[str, Any], wrap_async: bool) -> dict:
        self.calls.append({"module_args": module_args, "wrap_async": wrap_async})
        # What AnsibleModule echoes: every option, the given ones with their values.
        echoed = {"definition": None, "src": None, "template": None, "api_key": "********", **module_args}
        return {"changed": True, "invocation": {"module_args": echoed}}

    def __call__(self, **task_vars: Any) -> dict[str, Any]:
        return self.action.run(task_vars=task_vars)

    @property
    def definition(self) -> Any:
        (call,) = self.calls
        return call["module_args"]["definition"]


def image(definition: str) -> str:
    return yaml.safe_load(definition)["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        # The role's files/ first, written as the EXAMPLES write it or without files/ ...
        ("files/web.yml", "registry.example/web:from-the-role"),
        ("web.yml", "registry.example/web:from-the-role"),
        # ... then the playbook's folder.
        ("files/only-in-the-playbook.yml", "registry.example/web:playbook"),
        ("only-in-the-playbook.yml", "registry.example/web:playbook"),
    ],
)
def test_src_is_looked_up_as_ansible_looks_up_files(project, src, expected):
    run = Run(project, {"src": src, "namespace": "shop"})
    result = run()
    assert result["changed"] is True
    assert image(run.definition) == expected
    (call,) = run.calls
    assert set(call["module_args"]) == {"definition", "namespace"}, "the module sees no src"
    assert call["wrap_async"] is False


def test_an_absolute_src_is_taken_as_it_is(project):
    path = project / "roles" / "web" / "files" / "web.yml"
    run = Run(project, {"src": str(path)})
    run()
    assert run.definition == path.read_text()


def test_a_vault_encrypted_src_is_decrypted_on_the_controller(project):
    run = Run(project, {"src": "secret.yml"})
    run()
    assert image(run.definition) == "vaulted:1"


def test_the_invocation_says_src_as_the_task_gave_it_not_the_file(project):
    result = Run(project, {"src": "files/web.yml", "namespace": "shop"})()
    args = result["invocation"]["module_args"]
    assert (args["src"], args["definition"], args["template"]) == ("files/web.yml", None, None)
    assert args["api_key"] == "********", "what the module masked stays masked"


def test_a_template_is_rendered_with_the_task_variables(project):
    run = Run(project, {"template": "web.yml.j2"})
    result = run(app="web", version="2.0")
    assert not result.get("failed"), result
    rendered = yaml.safe_load(run.definition)
    assert rendered["metadata"] == {"name": "web", "labels": {"version": "2.0"}}  # the include found too
    assert image(run.definition) == "registry.example/web:2.0"
    assert result["invocation"]["module_args"]["template"] == "web.yml.j2"
    assert result["invocation"]["module_args"]["definition"] is None


def test_src_is_not_a_template(project):
    (project / "files" / "braces.yml").write_text(manifest("registry.example/web:{{ version }}"))
    run = Run(project, {"src": "braces.yml"})
    run(version="2.0")
    assert image(run.definition) == "registry.example/web:{{ version }}"


@pytest.mark.parametrize("empty", [None, ""])
def test_an_empty_src_is_not_given(project, empty):
    run = Run(project, {"src": empty, "name": "web", "images": {"app": "web:2"}})
    run()
    (call,) = run.calls
    assert call["module_args"] == {"name": "web", "images": {"app": "web:2"}}


def test_async_wraps_the_module(project):
    run = Run(project, {"src": "web.yml"}, async_val=600)
    run()
    assert run.calls[0]["wrap_async"] is True


def test_definition_and_name_alone_go_to_the_module_as_they_are(project):
    run = Run(project, {"definition": "kind: Deployment", "kubeconfig": "k"})
    run()
    assert run.calls[0]["module_args"] == {"definition": "kind: Deployment", "kubeconfig": "k"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"src": "files/nowhere.yml"},
            r"^cannot find src files/nowhere.yml on the controller \(looked for "
            r"{p}/roles/web/files/files/nowhere.yml, {p}/roles/web/files/nowhere.yml, .*, {p}/files/nowhere.yml\)$",
        ),
        ({"src": "/nonexistent/web.yml"}, r"^cannot find src /nonexistent/web.yml on the controller"),
        (
            {"template": "nowhere.yml.j2"},
            r"^cannot find template nowhere.yml.j2 on the controller \(looked for ",
        ),
        ({"src": "broken.yml"}, r"^src broken.yml \({p}/roles/web/files/broken.yml\) is not valid YAML: "),
        (
            {"src": "two.yml"},
            r"^src two.yml \({p}/roles/web/files/two.yml\) must hold one Deployment .*, it holds 2 documents$",
        ),
        ({"src": "files"}, r"^cannot read src files \({p}/roles/web/files\): Is a directory$"),
        (
            {"template": "undefined.yml.j2"},
            r"^cannot render template undefined.yml.j2 \({p}/roles/web/templates/undefined.yml.j2\): "
            r"'nobody_set_this' is undefined",
        ),
        (
            {"src": "web.yml", "template": "web.yml.j2"},
            r"^parameters are mutually exclusive: definition\|src\|template$",
        ),
        ({"src": "web.yml", "definition": {"kind": "Deployment"}}, r"^parameters are mutually exclusive: "),
        ({"src": {"path": "web.yml"}}, r"^src is the path of a file on the controller, not a dict$"),
        (
            {"template": {"path": "web.yml.j2"}},
            r"^template is the path of a file on the controller, not a dict$",
        ),
    ],
)
def test_refused_before_the_module_runs(project, args, message):
    run = Run(project, args)
    result = run(version="2.0")
    assert result["failed"] is True
    assert result["changed"] is False
    assert re.search(message.replace("{p}", re.escape(str(project))), result["msg"]), result["msg"]
    assert run.calls == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, None),
        ({"name": "web"}, None),
        ({"src": "a.yml", "name": "web"}, "src"),
        ({"template": "a.j2", "src": None, "definition": ""}, "template"),
        ({"definition": {"kind": "Deployment"}, "src": ""}, None),
    ],
)
def test_given_file_option(args, expected):
    assert given_file_option(args) == expected
