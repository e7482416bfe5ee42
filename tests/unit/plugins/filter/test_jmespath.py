# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openrollout.k8s.plugins.filter.jmespath import FilterModule, jmespath_filter

DEPLOYMENT = {
    "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "web:v2"}]}}},
    "status": {"availableReplicas": 3},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("status.availableReplicas == spec.replicas", True),
        ("status.availableReplicas > `10`", False),
        ("spec.template.spec.containers[].image", ["web:v2"]),
        ("spec.template.spec.containers[?name=='web'].image | [0]", "web:v2"),
        ("status.noSuchField", None),
    ],
)
def test_selects(expr: str, expected: object) -> None:
    assert jmespath_filter(DEPLOYMENT, expr) == expected


def test_a_bad_expression_is_a_filter_error_naming_it() -> None:
    with pytest.raises(AnsibleFilterError, match=r"openrollout.k8s.jmespath: 'status\.\[': "):
        jmespath_filter(DEPLOYMENT, "status.[")


def test_the_expression_must_be_a_string() -> None:
    with pytest.raises(AnsibleFilterError, match="must be a string"):
        jmespath_filter(DEPLOYMENT, 3)  # type: ignore[arg-type]


def test_registered_under_its_name() -> None:
    assert FilterModule().filters() == {"jmespath": jmespath_filter}
