# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# What every module's main() does around its own work, in one place:
#
#     def main():
#         module = AnsibleModule(argument_spec=..., supports_check_mode=True)
#         run_module(module, run, errors=(UndoError, UndoInputError))
#
#     def run(module, connect):
#         request = build_undo_request(module.params)  # bad input fails before any connection
#         return undo_for(connect(), request, module.check_mode, module._diff).run()
#
# run_module() hides the credentials of a kubeconfig given as a dict, fails early without the
# kubernetes library, calls ``run`` with a way to connect, and is the only place that turns the
# collection's typed errors into fail_json: the message as msg, and the partial result an error
# carries (its ``result``) as the failed task's result. Warnings in a result go to module.warn().
import gc
import os
from typing import Any, Callable, Dict, Optional, Tuple, Type

from ansible.module_utils.basic import (  # type: ignore[import-untyped]
    AnsibleModule,
    missing_required_lib,
)

from ._argspec import secret_values
from ._client import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    ClientError,
    KubeClient,
    client_from_params,
)

JSONDict = Dict[str, Any]
# Returns the client for the task's connection options; a module calls it once its input is checked.
Connect = Callable[[], KubeClient]
Run = Callable[[AnsibleModule, Connect], JSONDict]


class ModuleFailure(Exception):
    """A failure a module words itself, with the keys it adds to the failed result
    (``ModuleFailure("revision 9 not found", available_revisions=[1, 2])``)."""

    def __init__(self, message: str, **result: Any) -> None:
        super().__init__(message)
        self.result: JSONDict = result


def warned(module: AnsibleModule, result: JSONDict) -> JSONDict:
    """``result`` without its ``warnings``, which go to the module's own list: the task's result
    still has them, and ansible-core does not warn that passing warnings to exit_json is deprecated."""
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    return result


def failed_result(exc: Exception) -> JSONDict:
    """The result of a failed task: nothing changed, unless the error's partial result says so."""
    carried = getattr(exc, "result", None)
    return {"changed": False, **(carried if isinstance(carried, dict) else {})}


def run_module(module: AnsibleModule, run: Run, errors: Tuple[Type[Exception], ...] = ()) -> None:
    """Run ``run(module, connect)`` and exit with its result.

    ``errors`` are the module's own failures (input errors, errors carrying a partial result); a
    ClientError (connection, API, timeout) and a ModuleFailure always count. Any other exception
    is a bug and keeps its traceback.
    """
    module.no_log_values.update(secret_values(module.params))
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)

    def connect() -> KubeClient:
        return client_from_params(module.params, os.environ)

    failures: Tuple[Type[Exception], ...] = (ClientError, ModuleFailure, *errors)
    failure: Optional[Exception] = None
    try:
        result = run(module, connect)
    except failures as exc:
        failure = exc
    finally:
        # The process ends with the result. Python's last garbage collections would walk every
        # object left (the client, the watched pods): 0.3-0.5 s of the task after the rollout is
        # done (bench/analysis.md). Frozen objects are skipped; the OS frees the memory.
        gc.freeze()
    if failure is not None:
        module.fail_json(msg=str(failure), **warned(module, failed_result(failure)))
    module.exit_json(**warned(module, result))
