# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# A hook's log that cannot be read is said, not returned as an empty log_tail (seen on a real node
# whose kubelet the API server could not reach). The real thing is in
# tests/integration/test_real_pods.py (a hook run by a user without get on pods/log).
import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._client import ClientError
from ansible_collections.openrollout.k8s.plugins.module_utils._hook_runner import (
    HookRunner,
    describe_failure,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import Timeline

UNREACHABLE = (
    "reading the log of pod web-2-hook-pre-x: 500 Internal Server Error: Get "
    '"https://10.88.0.1:10250/containerLogs/shop/web-2-hook-pre-x/app?tailLines=40": dial tcp '
    "10.88.0.1:10250: connect: connection refused"
)


class _LogClient:
    """The one call _log_tail makes: pod_log, answering ``log`` or raising ``error``."""

    def __init__(self, log: str = "", error: ClientError | None = None) -> None:
        self.log, self.error = log, error
        self.calls: list[tuple[str, str, str]] = []

    def pod_log(self, what: str, namespace: str, name: str, **query: object) -> str:
        self.calls.append((what, namespace, name))
        if self.error:
            raise self.error
        return self.log


def runner(client: _LogClient) -> HookRunner:
    return HookRunner(client, Timeline())  # type: ignore[arg-type]


def test_a_log_read_gives_its_last_lines_and_no_error():
    client = _LogClient("one\ntwo\nthree\n")
    assert runner(client)._log_tail("web-2-hook-pre-x", "shop") == (["one", "two", "three"], None)
    assert client.calls == [("reading the log of pod web-2-hook-pre-x", "shop", "web-2-hook-pre-x")]


def test_an_unreadable_log_says_why():
    client = _LogClient(error=ClientError(UNREACHABLE, 500))
    assert runner(client)._log_tail("web-2-hook-pre-x", "shop") == ([], UNREACHABLE)


def test_no_pod_no_log_and_no_error():
    assert runner(_LogClient())._log_tail(None, "shop") == ([], None)


RECORD = {"phase": "pre", "job": "web-2-hook-pre", "exit_code": 3, "reason": "Error"}


@pytest.mark.parametrize(
    ("extra", "ending"),
    [
        (
            {"log_tail": ["migrating", "hook exiting with 3"]},
            "; last log lines: migrating | hook exiting with 3",
        ),
        ({"log_tail": [], "log_error": UNREACHABLE}, f"; no log: {UNREACHABLE}"),
        ({"log_tail": [], "log_error": None}, "; no log available"),
    ],
)
def test_a_failed_hook_is_described_with_its_log_or_why_there_is_none(extra, ending):
    assert describe_failure({**RECORD, **extra}) == f"pre hook web-2-hook-pre failed with exit code 3{ending}"
