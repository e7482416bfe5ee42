# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# A first rollout's pre hook runs before its workload exists, so its Job is made without an owner;
# once the workload is created, the Job is given it. The real thing (and garbage collection's view
# of it) is in tests/integration/test_hooks.py and test_rollout_workloads.py.
from typing import Any

from ansible_collections.openrollout.k8s.plugins.module_utils._client import ClientError
from ansible_collections.openrollout.k8s.plugins.module_utils._hook_runner import HookRunner
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import Timeline

CREATED = {"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop", "uid": "u-1"}}
OWNER = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u-1"}


class _JobsClient:
    """get and patch of Jobs, and retry_on_conflict as the real client does (one 409 retried)."""

    def __init__(self, jobs: dict[str, dict[str, Any]], patch_error: ClientError | None = None) -> None:
        self.jobs = jobs
        self.patch_error = patch_error
        self.patches: list[tuple[str, Any]] = []
        self.conflicts = 0

    def get(self, what: str, resource: Any, namespace: str, name: str) -> dict[str, Any] | None:
        return self.jobs.get(name)

    def patch(self, what: str, resource: Any, namespace: str, name: str, body: Any, content_type: str) -> Any:
        if self.patch_error:
            raise self.patch_error
        self.patches.append((name, body))
        return self.jobs[name]

    def retry_on_conflict(self, action: Any, what: str) -> Any:
        try:
            return action()
        except ClientError as exc:
            if exc.status != 409:
                raise
            self.conflicts += 1
            return action()


def job(owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "db-1-sts-hook-pre", "resourceVersion": "7"}
    if owners:
        metadata["ownerReferences"] = owners
    return {"metadata": metadata}


PRE = {"phase": "pre", "job": "db-1-sts-hook-pre"}
POST = {"phase": "post", "job": "db-1-sts-hook-post"}


def own(client: _JobsClient, records: list[dict[str, Any]]) -> list[str]:
    warnings: list[str] = []
    HookRunner(client, Timeline()).own_pre_hooks(records, CREATED, warnings)  # type: ignore[arg-type]
    return warnings


def test_the_pre_hook_job_gets_the_created_workload_as_owner_guarded_by_its_resource_version():
    client = _JobsClient({"db-1-sts-hook-pre": job()})
    assert own(client, [PRE, POST]) == []
    assert client.patches == [
        ("db-1-sts-hook-pre", {"metadata": {"resourceVersion": "7", "ownerReferences": [OWNER]}})
    ]


def test_a_job_owned_already_or_gone_is_left_alone():
    client = _JobsClient({"db-1-sts-hook-pre": job([OWNER])})
    assert own(client, [PRE]) == []
    assert own(_JobsClient({}), [PRE]) == []
    assert client.patches == []


def test_no_pre_hook_nothing_to_own():
    client = _JobsClient({"db-1-sts-hook-post": job()})
    assert own(client, [POST]) == []
    assert client.patches == []


def test_a_refused_patch_is_a_warning_not_a_failure():
    refused = ClientError(
        "giving hook Job shop/db-1-sts-hook-pre its owner: forbidden: needs patch on jobs.batch", 403
    )
    warnings = own(_JobsClient({"db-1-sts-hook-pre": job()}, refused), [PRE])
    assert warnings == [f"{refused}; the Job stays until the pre hook runs again"]
