# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hook Job names and labels per kind: a Deployment's as they always were, the others' apart."""

from __future__ import annotations

import re

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._hooks import (
    JOB_NAME_MAX,
    hook_job,
    hook_job_kind,
    hook_job_name,
    hook_labels,
    workload_label,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import parse_hook, parse_strategy

PHASES = ("pre", "mid", "post", "rollback")
# A DNS-1123 subdomain that is also a label value (the Job controller's job-name label).
VALID = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LONG = "a" * 70


@pytest.mark.parametrize(
    "name, revision, phase, kind, expected",
    [
        # Deployments: the names of every release so far, so a run in flight finds its Jobs.
        ("web", 2, "pre", "Deployment", "web-2-hook-pre"),
        ("web", 12, "rollback", "Deployment", "web-12-hook-rollback"),
        ("db-sts", 3, "pre", "Deployment", "db-sts-3-hook-pre"),
        ("a" * 52, 2, "pre", "Deployment", "a" * 52 + "-2-hook-pre"),  # 63: fits, no digest
        # Too long: cut, with 8 hex digits of the whole name's sha256 (no longer the bare cut).
        (LONG, 2, "pre", "Deployment", "a" * 43 + "-6bd5e503-2-hook-pre"),
        ("a" * 42 + "-b" * 6, 2, "pre", "Deployment", "a" * 42 + "-d79a06e7-2-hook-pre"),  # "-" stripped
        # StatefulSets and DaemonSets: kubectl's short name after the revision.
        ("db", 3, "pre", "StatefulSet", "db-3-sts-hook-pre"),
        ("db", 3, "post", "DaemonSet", "db-3-ds-hook-post"),
        ("a" * 48, 3, "pre", "StatefulSet", "a" * 48 + "-3-sts-hook-pre"),  # 63: fits, no digest
        # Too long: cut, with 8 hex digits of the whole name's sha256.
        ("a" * 49, 3, "pre", "StatefulSet", "a" * 39 + "-8f9bec6a-3-sts-hook-pre"),
        (LONG, 12, "rollback", "StatefulSet", "a" * 33 + "-6bd5e503-12-sts-hook-rollback"),
        (LONG, 12, "rollback", "DaemonSet", "a" * 34 + "-6bd5e503-12-ds-hook-rollback"),
    ],
)
def test_hook_job_name(name, revision, phase, kind, expected):
    assert hook_job_name(name, revision, phase, kind) == expected


def test_deployment_is_the_default_kind():
    assert hook_job_name("web", 2, "pre") == hook_job_name("web", 2, "pre", "Deployment")


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
@pytest.mark.parametrize("name", ["db", "x" * 40, "x" * 63, "a.b-c" * 40, "a-" * 60 + "z"])
@pytest.mark.parametrize("revision", [1, 999999])
def test_hook_job_names_fit_and_are_valid(kind, name, revision):
    for phase in PHASES:
        job_name = hook_job_name(name, revision, phase, kind)
        assert len(job_name) <= JOB_NAME_MAX
        assert VALID.match(job_name), job_name


def test_kinds_of_the_same_name_never_share_a_job():
    # The Deployment "db-sts" and the StatefulSet "db", and the like: before "-hook-", a
    # Deployment's name ends in its revision, the others' in sts or ds.
    names = ["db", "db-3", "db-3-sts", "db-sts", "db-ds", "db-1", "3-sts", LONG, LONG + "-3-sts"]
    kinds: dict = {}
    made: dict = {}
    for name in names:
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            for revision in (1, 3, 13):
                for phase in PHASES:
                    job_name = hook_job_name(name, revision, phase, kind)
                    kinds.setdefault(job_name, set()).add(kind)
                    key = (name, kind, revision, phase)
                    assert made.setdefault(job_name, key) == key, (job_name, made[job_name], key)
    assert {job_name: k for job_name, k in kinds.items() if len(k) > 1} == {}


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_long_names_with_one_start_keep_apart(kind):
    # Both over 63 characters with their suffix, the same first 60.
    first = hook_job_name("x" * 60 + "-one", 2, "pre", kind)
    second = hook_job_name("x" * 60 + "-two", 2, "pre", kind)
    assert first != second
    assert first[:30] == second[:30] == "x" * 30, "the start of the name still shows"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="not a ReplicaSet"):
        hook_job_name("web", 1, "pre", "ReplicaSet")


@pytest.mark.parametrize(
    "kind, extra",
    [("Deployment", {}), ("StatefulSet", {"openrollout.k8s/kind": "StatefulSet"})],
)
def test_hook_labels(kind, extra):
    assert hook_labels("db", 3, "pre", kind) == {
        "openrollout.k8s/deployment": "db",
        "openrollout.k8s/hook": "pre",
        "openrollout.k8s/revision": "3",
        **extra,
    }


def workload(kind: str | None) -> dict:
    obj: dict = {
        "metadata": {"name": "db", "namespace": "shop", "uid": "u1"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "db:2"}]}}},
    }
    if kind is not None:
        obj["kind"] = kind
    return obj


@pytest.mark.parametrize(
    "kind, name",
    [(None, "db-2-hook-pre"), ("Deployment", "db-2-hook-pre"), ("StatefulSet", "db-2-sts-hook-pre")],
)
def test_hook_job_takes_the_workloads_kind(kind, name):
    hook = parse_hook({"execNewPod": {"containerName": "app", "command": ["migrate"]}})
    job = hook_job(workload(kind), hook, "pre", 2, parse_strategy(None))
    assert job["metadata"]["name"] == name
    assert job["metadata"]["ownerReferences"][0]["kind"] == (kind or "Deployment")
    assert job["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"]
    assert hook_job_kind(job) == (kind or "Deployment")


@pytest.mark.parametrize(
    "metadata, kind",
    [
        ({"labels": {"openrollout.k8s/kind": "DaemonSet"}}, "DaemonSet"),
        # A StatefulSet's Job made before the label existed: its owner says it.
        ({"ownerReferences": [{"kind": "StatefulSet", "name": "db", "uid": "u1"}]}, "StatefulSet"),
        ({"ownerReferences": [{"kind": "Deployment", "name": "db", "uid": "u1"}]}, "Deployment"),
        ({}, "Deployment"),
    ],
)
def test_hook_job_kind(metadata, kind):
    assert hook_job_kind({"metadata": metadata}) == kind


def test_a_long_workload_name_makes_a_valid_label_value_of_its_own():
    short = "web"
    first, second = "a" * 100 + "-one", "a" * 100 + "-two"
    assert workload_label(short) == short
    assert workload_label("x" * 63) == "x" * 63
    labels = [workload_label(first), workload_label(second)]
    assert labels[0] != labels[1]
    assert all(len(label) == 63 and label[0].isalnum() and label[-1].isalnum() for label in labels)
    assert hook_labels(first, 2, "pre")["openrollout.k8s/deployment"] == labels[0]
