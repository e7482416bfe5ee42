# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    import jmespath as jmespath_lib
except ImportError as import_error:
    JMESPATH_IMPORT_ERROR: ImportError | None = import_error
else:
    JMESPATH_IMPORT_ERROR = None


DOCUMENTATION = r"""
name: jmespath
short_description: Select data with a JMESPath expression
version_added: 0.1.0
author: openrollout.k8s contributors (@openrollout)
description:
  - Evaluates a JMESPath expression (U(https://jmespath.org/)) over a value and returns what it selects.
  - The same as C(community.general.json_query), without needing that collection. The roles of this
    collection use it for their health gates, for example over the Deployment a rollout returns.
  - An expression that selects nothing returns V(null) (C(None)).
options:
  _input:
    description: The data to search, for example a registered result or a Kubernetes object.
    type: raw
    required: true
  expr:
    description: The JMESPath expression.
    type: str
    required: true
requirements:
  - jmespath (Python library)
seealso:
  - name: JMESPath specification
    description: The expression language.
    link: https://jmespath.org/specification.html
"""

EXAMPLES = r"""
- name: Every pod of the Deployment is available
  ansible.builtin.assert:
    that:
      - result.deployment | openrollout.k8s.jmespath('status.availableReplicas == spec.replicas')

- name: The images of a Deployment's containers
  ansible.builtin.debug:
    msg: "{{ result.deployment | openrollout.k8s.jmespath('spec.template.spec.containers[].image') }}"
"""

RETURN = r"""
_value:
  description: What the expression selects, or V(null) when it selects nothing.
  type: raw
"""


def _plain(value: Any) -> Any:
    """Ansible's own dict, list and str types, as the plain ones jmespath's type checks expect."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def jmespath_filter(data: Any, expr: str) -> Any:
    """Return what the JMESPath expression `expr` selects in `data`."""
    if JMESPATH_IMPORT_ERROR is not None:
        raise AnsibleFilterError(
            "the openrollout.k8s.jmespath filter needs the jmespath Python library: pip install jmespath"
        ) from JMESPATH_IMPORT_ERROR
    if not isinstance(expr, str):
        raise AnsibleFilterError(f"openrollout.k8s.jmespath: the expression must be a string, not {expr!r}")
    try:
        return jmespath_lib.search(expr, _plain(data))
    except jmespath_lib.exceptions.JMESPathError as error:
        raise AnsibleFilterError(f"openrollout.k8s.jmespath: {expr!r}: {error}") from error


class FilterModule:
    """The collection's filters."""

    def filters(self) -> dict[str, Any]:
        return {"jmespath": jmespath_filter}
