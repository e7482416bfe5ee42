# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    PODS,
    ClientError,
    KubeClient,
    Source,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import pod_for_wait

POD = {
    "kind": "Pod",
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "uid": "u1",
        "resourceVersion": "7",
        "labels": {"app": "web"},
        "ownerReferences": [{"uid": "rs1", "controller": True}],
        "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:spec": {}}}],
    },
    "spec": {"containers": [{"name": "app", "image": "web:1"}], "nodeName": "n1"},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
}


def test_a_pod_for_the_wait_keeps_metadata_and_status_only():
    kept = pod_for_wait(POD)
    assert kept == {
        "metadata": {k: v for k, v in POD["metadata"].items() if k != "managedFields"},
        "status": POD["status"],
    }
    assert "managedFields" in POD["metadata"]  # the pod given is left as it was


class _Stream:
    """A watch response: its events, one JSON object per line."""

    status, reason = 200, "OK"

    def __init__(self, *events: dict) -> None:
        self.data = b""
        self.lines = [json.dumps(event).encode() + b"\n" for event in events]

    def stream(self, amt=None, decode_content=False):
        yield from self.lines

    def release_conn(self):
        pass


class _Listed:
    status, reason = 200, "OK"

    def __init__(self, body: dict) -> None:
        self.data = json.dumps(body).encode()


class _ListThenWatch:
    """call_api of kubernetes 31-36: the list, then one watch stream."""

    def __init__(self, listed: dict, stream: _Stream) -> None:
        self.listed, self.stream = listed, stream

    def call_api(self, path, method, **kwargs):
        if ("watch", "true") in kwargs["query_params"]:
            return self.stream
        return _Listed(self.listed)


def test_a_watch_keeps_only_what_keep_returns_from_lists_and_events():
    modified = json.loads(json.dumps(POD))
    modified["metadata"]["resourceVersion"] = "8"
    modified["status"]["phase"] = "Succeeded"
    api = _ListThenWatch(
        {"metadata": {"resourceVersion": "7"}, "items": [POD]},
        _Stream({"type": "MODIFIED", "object": modified}),
    )
    seen = []

    def check(state, _now):
        seen.append(state["pods"])
        return state["pods"] if state["pods"][0]["status"]["phase"] == "Succeeded" else None

    result = KubeClient(api).watch_sources(
        {"pods": Source(PODS, "shop", {}, keep=pod_for_wait)}, check, 5, "pods"
    )
    assert result == [pod_for_wait(modified)]
    assert all("spec" not in pod and "managedFields" not in pod["metadata"] for pods in seen for pod in pods)


class _ListThenWatches:
    """call_api: a list before each watch, and the watch streams in turn (then empty ones, the
    server ending its watches while the wait is over but its thread not yet stopped)."""

    def __init__(self, listed: dict, *streams: _Stream) -> None:
        self.listed, self.streams = listed, list(streams)
        self.calls: list[str] = []

    def call_api(self, path, method, **kwargs):
        if ("watch", "true") in kwargs["query_params"]:
            self.calls.append("watch")
            return self.streams.pop(0) if self.streams else _Stream()
        self.calls.append("list")
        return _Listed(self.listed)


def _succeeded(state, _now):
    return state["pods"] if state["pods"] and state["pods"][0]["status"]["phase"] == "Succeeded" else None


def test_a_watch_ended_by_a_transient_error_event_is_listed_again_after_a_pause():
    # An overloaded API server can end a watch with an ERROR event (etcd timing out: code 500);
    # that is not the end of the wait, any more than a 500 on the request itself.
    done = json.loads(json.dumps(POD))
    done["status"]["phase"] = "Succeeded"
    timeout_event = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 500, "message": "etcdserver: request timed out"},
    }
    api = _ListThenWatches(
        {"metadata": {"resourceVersion": "7"}, "items": [POD]},
        _Stream(timeout_event),
        _Stream({"type": "MODIFIED", "object": done}),
    )
    pauses = []
    client = KubeClient(api, sleep=pauses.append)

    result = client.watch_sources({"pods": Source(PODS, "shop", {})}, _succeeded, 5, "pods")

    assert result == [done]
    assert api.calls[:4] == ["list", "watch", "list", "watch"]
    assert len(pauses) == 1 and pauses[0] > 0


def test_a_watch_ended_by_a_refusal_event_ends_the_wait_with_the_servers_message():
    refused = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 400, "reason": "BadRequest", "message": "no"},
    }
    api = _ListThenWatches({"metadata": {"resourceVersion": "7"}, "items": [POD]}, _Stream(refused))

    with pytest.raises(ClientError) as info:
        KubeClient(api, sleep=lambda _: None).watch_sources(
            {"pods": Source(PODS, "shop", {})}, _succeeded, 5, "pods"
        )

    assert str(info.value) == "while waiting for pods: 400 BadRequest: no"
    assert info.value.status == 400
