# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._hooks import JobOutcome, job_outcome


def job(*conditions: tuple[str, str], completions: int | None = 1) -> dict:
    return {
        "spec": {"completions": completions, "backoffLimit": 0},
        "status": {
            "conditions": [{"type": kind, "status": "True", "reason": reason} for kind, reason in conditions]
        },
    }


def pod(phase: str, exit_code: int | None = None) -> dict:
    statuses = []
    if exit_code is not None:
        statuses = [{"name": "app", "state": {"terminated": {"exitCode": exit_code, "reason": "Completed"}}}]
    return {
        "metadata": {"name": "web-2-hook-pre-x"},
        "status": {"phase": phase, "containerStatuses": statuses},
    }


@pytest.mark.parametrize(
    ("the_job", "pods", "expected"),
    [
        pytest.param(
            job(("Complete", "")),
            [pod("Succeeded", 0)],
            JobOutcome(True, True, 0, "Completed", "", "web-2-hook-pre-x"),
            id="complete",
        ),
        pytest.param(
            job(),
            [pod("Running")],
            JobOutcome(False, False, None, "", "", "web-2-hook-pre-x"),
            id="running",
        ),
        pytest.param(
            job(),
            [pod("Succeeded", 0)],
            JobOutcome(True, True, 0, "Completed", "", "web-2-hook-pre-x"),
            id="pod succeeded before the Job controller marks it Complete",
        ),
        pytest.param(
            job(("Failed", "DeadlineExceeded")),
            [pod("Succeeded", 0)],
            JobOutcome(True, False, 0, "DeadlineExceeded", "exit code 0 (Completed)", "web-2-hook-pre-x"),
            id="the Job's own verdict comes first",
        ),
        pytest.param(
            job(completions=2),
            [pod("Succeeded", 0)],
            JobOutcome(False, False, None, "", "", "web-2-hook-pre-x"),
            id="one success of two completions is not the end",
        ),
        pytest.param(
            job(),
            [pod("Failed", 3)],
            JobOutcome(False, False, None, "", "", "web-2-hook-pre-x"),
            id="a failed pod waits for the Job's reason",
        ),
        pytest.param(
            None, [], JobOutcome(True, False, None, "Deleted", "the hook Job was deleted", None), id="deleted"
        ),
    ],
)
def test_job_outcome(the_job, pods, expected):
    assert job_outcome(the_job, pods) == expected
