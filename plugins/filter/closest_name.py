# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import difflib
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: closest_name
short_description: The known name closest to a misspelled one
version_added: 0.2.0
author: openrollout.k8s contributors (@openrollout)
description:
  - Returns the name of O(names) that is most like the input, for a "did you mean" in a message, or an
    empty string when none is close enough.
  - Names are compared without case, with Python's C(difflib) (the ratio of matching characters, at least
    O(cutoff)). With O(prefix), the part of each name after that prefix is compared, so that a prefix that
    every name shares does not make unrelated names look alike (C(deploy_foo) is not close to C(deploy_src)).
  - The roles of this collection use it in their preflight, to name the variable that a misspelled one
    (C(deploy_stratgy)) was meant to be.
options:
  _input:
    description: The misspelled name.
    type: str
    required: true
  names:
    description: The known names.
    type: list
    elements: str
    required: true
  prefix:
    description: A prefix that the names share, left out of the comparison where a name starts with it.
    type: str
    default: ""
  cutoff:
    description: How alike two names must be, from V(0) (anything) to V(1) (the same but for case).
    type: float
    default: 0.6
seealso:
  - name: difflib.get_close_matches
    description: The comparison.
    link: https://docs.python.org/3/library/difflib.html#difflib.get_close_matches
"""

EXAMPLES = r"""
- name: Suggest the variable a misspelled one was meant to be (did you mean deploy_strategy?)
  ansible.builtin.debug:
    msg: "did you mean {{ 'deploy_stratgy' | openrollout.k8s.closest_name(known, prefix='deploy_') }}?"
  vars:
    known: [deploy_src, deploy_strategy]

- name: Nothing is close to deploy_foo
  ansible.builtin.assert:
    that:
      - "'deploy_foo' | openrollout.k8s.closest_name(known, prefix='deploy_') == ''"
  vars:
    known: [deploy_src, deploy_strategy]
"""

RETURN = r"""
_value:
  description: The closest of O(names), or an empty string when none is at least O(cutoff) alike.
  type: str
"""


def _compared(name: str, prefix: str) -> str:
    """The part of ``name`` that is compared: without ``prefix``, in lower case."""
    return (name[len(prefix) :] if prefix and name.startswith(prefix) else name).lower()


def closest_name(name: str, names: list[str], prefix: str = "", cutoff: float = 0.6) -> str:
    """The name of ``names`` most like ``name`` (compared after ``prefix``, in any case), or ``""``.

    ``closest_name("deploy_stratgy", ["deploy_src", "deploy_strategy"], prefix="deploy_")`` compares
    ``stratgy`` with ``src`` and ``strategy`` and returns ``deploy_strategy``.
    """
    if not isinstance(name, str):
        raise AnsibleFilterError(f"openrollout.k8s.closest_name: the name must be a string, not {name!r}")
    if isinstance(names, str) or not all(isinstance(known, str) for known in names):
        raise AnsibleFilterError(
            f"openrollout.k8s.closest_name: the names must be a list of strings, not {names!r}"
        )
    if not 0 <= cutoff <= 1:
        raise AnsibleFilterError(f"openrollout.k8s.closest_name: cutoff must be from 0 to 1, not {cutoff!r}")
    by_compared: dict[str, str] = {}
    for known in names:
        by_compared.setdefault(_compared(str(known), prefix), str(known))
    found = difflib.get_close_matches(_compared(str(name), prefix), list(by_compared), n=1, cutoff=cutoff)
    return by_compared[found[0]] if found else ""


class FilterModule:
    """The collection's filters."""

    def filters(self) -> dict[str, Any]:
        return {"closest_name": closest_name}
