# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# A definition given as YAML text, as the one object it holds. The rollout module parses its
# definition option with it; the rollout action plugin (plugins/action/rollout.py) checks the file
# that src or template name with it on the controller, so that a bad file is reported by its name
# before the module runs.
from typing import Any

from ._rollout import RolloutInputError

try:
    import yaml

    HAS_YAML = True
except ImportError:
    HAS_YAML = False


def parse_definition(text: str, what: str = "the definition") -> Any:
    """The one YAML document of ``text``; ``what`` names the text in the error messages.

    >>> parse_definition("kind: Deployment")
    {'kind': 'Deployment'}

    Empty documents (``---`` alone) do not count: ``"---\\nkind: Deployment\\n---\\n"`` holds one.
    """
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise RolloutInputError(f"{what} is not valid YAML: {exc}") from None
    if len(documents) != 1:
        raise RolloutInputError(
            f"{what} must hold one Deployment (or StatefulSet or DaemonSet), "
            f"it holds {len(documents)} documents"
        )
    return documents[0]
