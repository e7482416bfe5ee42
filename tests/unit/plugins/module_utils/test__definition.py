# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._definition import parse_definition
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import RolloutInputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Deployment\n", {"kind": "Deployment"}),
        ("---\nkind: Deployment\n---\n", {"kind": "Deployment"}),  # empty documents do not count
        ("# a comment\n---\nkind: DaemonSet\n...\n", {"kind": "DaemonSet"}),
        ("[1, 2]", [1, 2]),  # a list is the module's to refuse, with its own message
    ],
)
def test_one_document(text, expected):
    assert parse_definition(text) == expected


@pytest.mark.parametrize(
    ("text", "what", "message"),
    [
        ("a: [\n", "the definition", r"^the definition is not valid YAML: while parsing"),
        ("a: [\n", "src files/web.yml", r"(?s)^src files/web.yml is not valid YAML: .*line 2, column 1"),
        (
            "kind: Deployment\n---\nkind: Service\n",
            "src web.yml (/p/files/web.yml)",
            r"^src web.yml \(/p/files/web.yml\) must hold one Deployment \(or StatefulSet or DaemonSet\), "
            r"it holds 2 documents$",
        ),
        ("", "the definition", r"^the definition must hold one .*, it holds 0 documents$"),
        (
            "---\n---\n",
            "template web.yml.j2",
            r"^template web.yml.j2 must hold one .*, it holds 0 documents$",
        ),
    ],
)
def test_refused(text, what, message):
    with pytest.raises(RolloutInputError, match=message):
        parse_definition(text, what)
