# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openrollout.k8s.plugins.filter.closest_name import FilterModule, closest_name

DEPLOY = [
    "deploy_name",
    "deploy_namespace",
    "deploy_src",
    "deploy_images",
    "deploy_replicas",
    "deploy_strategy",
    "deploy_wait_timeout",
    "deploy_pre_tasks",
    "deploy_pre_tasks_failure_policy",
    "deploy_smoke_retries",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deploy_stratgy", "deploy_strategy"),
        ("deploy_image", "deploy_images"),
        ("deploy_Strategy", "deploy_strategy"),  # any case
        ("deploy_namespce", "deploy_namespace"),
        ("deploy_smoke_retrys", "deploy_smoke_retries"),
        ("deploy_pre_tasks_policy", "deploy_pre_tasks_failure_policy"),
        ("deploy_timeout", "deploy_wait_timeout"),
        # Nothing close after the shared prefix: no suggestion, though 'deploy_' alone makes the
        # whole names more than 0.6 alike.
        ("deploy_foo", ""),
        ("deploy_x", ""),
    ],
)
def test_the_closest_after_the_prefix(name: str, expected: str) -> None:
    assert closest_name(name, DEPLOY, prefix="deploy_") == expected


def test_without_the_prefix_the_shared_part_counts() -> None:
    assert closest_name("deploy_foo", DEPLOY, prefix="") == "deploy_src"


def test_a_name_without_the_prefix_is_compared_whole() -> None:
    assert closest_name("stratgy", ["strategy", "src"], prefix="deploy_") == "strategy"


@pytest.mark.parametrize(("cutoff", "expected"), [(0.9, ""), (0.5, "deploy_images")])
def test_cutoff(cutoff: float, expected: str) -> None:
    # 'imgs' and 'images' are 0.8 alike
    assert closest_name("deploy_imgs", DEPLOY, prefix="deploy_", cutoff=cutoff) == expected


def test_no_names_no_suggestion() -> None:
    assert closest_name("deploy_stratgy", [], prefix="deploy_") == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((3, DEPLOY), "the name must be a string"),
        (("deploy_x", "deploy_src"), "the names must be a list of strings"),
        (("deploy_x", [1]), "the names must be a list of strings"),
        (("deploy_x", DEPLOY, "", 2), "cutoff must be from 0 to 1"),
    ],
)
def test_bad_input_is_a_filter_error(args: tuple, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=f"openrollout.k8s.closest_name: {message}"):
        closest_name(*args)


def test_registered_under_its_name() -> None:
    assert FilterModule().filters() == {"closest_name": closest_name}
