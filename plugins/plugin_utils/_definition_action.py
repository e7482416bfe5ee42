# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The controller side of a module that takes its object as `definition`, `src` or `template`
# (plugins/action/rollout.py). Like ansible.builtin.copy's and template's src, and like
# kubernetes.core.k8s's action plugin:
#
#   src: files/web.yml          found as Ansible finds files: the role's files/ (and the roles it
#                               is included from), then the playbook's folder and its files/;
#                               read on the controller (Ansible Vault files decrypted)
#   template: web.yml.j2        found likewise in templates/, rendered with the task's variables
#
# The text goes to the module as `definition`, whichever host runs the module, so the module never
# looks for a file. A file that cannot be found, read, rendered or parsed as one YAML object fails
# the task with its name before the module runs. The task's result says `src` or `template` as the
# task gave them, not the file's text, in its `invocation`.
import os
from typing import Any, Dict, Optional

from ansible.errors import AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.validation import check_mutually_exclusive
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.openrollout.k8s.plugins.module_utils._definition import parse_definition
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import RolloutInputError

DEFINITION = "definition"
# Each option that names a file, and the folder Ansible looks in for it (as copy and template do).
FILE_OPTIONS = {"src": "files", "template": "templates"}
# Suboptions that name a file found the same way and read as it is (no Jinja2: an AnalysisTemplate's
# {{args.x}} are Argo's), given to the module as the text of another suboption: the rollout's
# analysis.src becomes analysis.template. The third item: the suboptions it excludes.
FILE_SUBOPTIONS = {"analysis": ("src", "template", ("template", "metrics"))}


class DefinitionSourceError(Exception):
    """src or template cannot give a definition; the message names the option and the file."""


def given_file_option(args: Dict[str, Any]) -> Optional[str]:
    """The option of ``args`` that names a file (``src`` or ``template``), or None.

    None and "" count as not given (the deploy role passes ``omit`` for an empty deploy_src, a
    task can pass ""). More than one of definition, src and template is refused with
    AnsibleModule's own message.
    """
    given = {k: v for k, v in args.items() if k in (DEFINITION, *FILE_OPTIONS) and v not in (None, "")}
    try:
        check_mutually_exclusive([(DEFINITION, *FILE_OPTIONS)], given)
    except TypeError as exc:
        raise DefinitionSourceError(str(exc)) from None
    option = next((k for k in given if k in FILE_OPTIONS), None)
    if option is not None and not isinstance(given[option], str):
        raise DefinitionSourceError(
            f"{option} is the path of a file on the controller, not a {type(given[option]).__name__}"
        )
    return option


def searched_paths(exc: AnsibleFileNotFound, name: str) -> str:
    """Where Ansible looked for ``name``, each place once, in its order."""
    paths = list(dict.fromkeys(exc.paths or [])) or [name]
    return ", ".join(paths)


class DefinitionAction(ActionBase):
    """Turns ``src`` or ``template`` into ``definition`` text, then runs the module as usual."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        try:
            option = given_file_option(self._task.args)
            # The file options left are empty ones: the module is not to see them.
            module_args = {k: v for k, v in self._task.args.items() if k not in FILE_OPTIONS}
            if option is not None:
                module_args[DEFINITION] = self._definition_text(option, self._task.args[option], task_vars)
            module_args = self._suboption_files(module_args)
        except DefinitionSourceError as exc:
            return {**result, "failed": True, "changed": False, "msg": str(exc)}

        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(
            self._execute_module(module_args=module_args, task_vars=task_vars, wrap_async=wrap_async)
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if option is not None:
            self._invocation_as_given(result, option)
        self._suboptions_as_given(result)
        return result

    def _suboption_files(self, module_args: Dict[str, Any]) -> Dict[str, Any]:
        """FILE_SUBOPTIONS' files found and read on the controller, given as text."""
        for option, (file_key, text_key, exclusive) in FILE_SUBOPTIONS.items():
            block = module_args.get(option)
            if not isinstance(block, dict) or block.get(file_key) in (None, ""):
                continue
            name = block[file_key]
            what = f"{option}.{file_key} {name}"
            if not isinstance(name, str):
                raise DefinitionSourceError(
                    f"{what}: the path of a file on the controller, not a {type(name).__name__}"
                )
            others = [key for key in exclusive if block.get(key) not in (None, "")]
            if others:
                found = "|".join([file_key, *others])
                raise DefinitionSourceError(f"parameters are mutually exclusive: {found} found in {option}")
            try:
                path = self._find_needle("files", name)
            except AnsibleFileNotFound as exc:
                raise DefinitionSourceError(
                    f"cannot find {what} on the controller (looked for {searched_paths(exc, name)})"
                ) from None
            try:
                text = self._loader.get_text_file_contents(path)
            except AnsibleError as exc:
                cause = exc.__cause__
                reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else exc.message
                raise DefinitionSourceError(f"cannot read {what}: {reason}") from None
            module_args[option] = {k: v for k, v in block.items() if k != file_key}
            module_args[option][text_key] = str(text)
        return module_args

    def _suboptions_as_given(self, result: Dict[str, Any]) -> None:
        """The invocation with FILE_SUBOPTIONS as the task gave them, not the files' text."""
        invocation = result.get("invocation")
        module_args = invocation.get("module_args") if isinstance(invocation, dict) else None
        if not isinstance(module_args, dict):
            return
        for option, (file_key, text_key, _exclusive) in FILE_SUBOPTIONS.items():
            given = self._task.args.get(option)
            shown = module_args.get(option)
            if isinstance(given, dict) and given.get(file_key) and isinstance(shown, dict):
                shown[file_key] = given[file_key]
                shown[text_key] = given.get(text_key)

    def _definition_text(self, option: str, name: str, task_vars: Dict[str, Any]) -> Any:
        """The text of the file ``name`` (rendered, for template), checked to hold one object."""
        try:
            path = self._find_needle(FILE_OPTIONS[option], name)
        except AnsibleFileNotFound as exc:
            raise DefinitionSourceError(
                f"cannot find {option} {name} on the controller (looked for {searched_paths(exc, name)})"
            ) from None
        what = f"{option} {name}" if path == name else f"{option} {name} ({path})"
        try:
            text = self._loader.get_text_file_contents(path)
        except AnsibleError as exc:
            cause = exc.__cause__
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else exc.message
            raise DefinitionSourceError(f"cannot read {what}: {reason}") from None
        if option == "template":
            text = self._render(path, text, task_vars, what)
        if isinstance(text, str):
            try:
                parse_definition(text, what)
            except RolloutInputError as exc:
                raise DefinitionSourceError(str(exc)) from None
        return text

    def _render(self, path: str, text: str, task_vars: Dict[str, Any], what: str) -> Any:
        """``text`` rendered as ansible.builtin.template renders a file: the task's variables, its
        Jinja2 defaults (trim_blocks), and includes looked up in the templates/ folders of the
        search path and beside the template."""
        folders = [
            *task_vars.get("ansible_search_path", []),
            self._loader.get_basedir(),
            os.path.dirname(path),
        ]
        searchpath = [each for folder in folders for each in (os.path.join(folder, "templates"), folder)]
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=task_vars)
        try:
            return templar.template(trust_as_template(text), escape_backslashes=False)
        except AnsibleError as exc:
            raise DefinitionSourceError(f"cannot render {what}: {exc.message}") from None

    def _invocation_as_given(self, result: Dict[str, Any], option: str) -> None:
        """The module's invocation (secrets already masked by the module) with src or template as
        the task gave them, instead of the file's text."""
        invocation = result.get("invocation")
        module_args = invocation.get("module_args") if isinstance(invocation, dict) else None
        if isinstance(module_args, dict):
            module_args[DEFINITION] = self._task.args.get(DEFINITION)
            module_args[option] = self._task.args.get(option)
