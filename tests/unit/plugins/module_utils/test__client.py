# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import queue
from types import SimpleNamespace

import pytest
import urllib3

from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    APPLY_PATCH,
    AUTH_ENV,
    DEPLOYMENTS,
    JOBS,
    PODS,
    REPLICA_SETS,
    ROLE_BINDINGS,
    ClientConfigError,
    ClientError,
    KubeClient,
    WaitTimeout,
    _transient_delay,
    connection_error_message,
    create_api_client,
    forbidden_message,
    required_permission,
    resolve_auth,
)


@pytest.mark.parametrize(
    ("params", "environ", "expected"),
    [
        ({}, {}, {"validate_certs": True, "kubeconfig": None, "host": None}),
        # kubernetes.core's variable names fill what the task leaves unset.
        (
            {},
            {"K8S_AUTH_KUBECONFIG": "/k", "K8S_AUTH_CONTEXT": "c", "K8S_AUTH_API_KEY": "t"},
            {"kubeconfig": "/k", "context": "c", "api_key": "t"},
        ),
        # ... and never override what the task says.
        ({"host": "https://a"}, {"K8S_AUTH_HOST": "https://b"}, {"host": "https://a"}),
        ({}, {"K8S_AUTH_HOST": ""}, {"host": None}),
        ({}, {"K8S_AUTH_VERIFY_SSL": "false"}, {"validate_certs": False}),
        ({}, {"K8S_AUTH_VERIFY_SSL": "Yes"}, {"validate_certs": True}),
        ({"validate_certs": False}, {"K8S_AUTH_VERIFY_SSL": "true"}, {"validate_certs": False}),
        (
            {},
            {"K8S_AUTH_SSL_CA_CERT": "/ca", "K8S_AUTH_CERT_FILE": "/c", "K8S_AUTH_KEY_FILE": "/k"},
            {"ca_cert": "/ca", "client_cert": "/c", "client_key": "/k"},
        ),
    ],
)
def test_resolve_auth(params, environ, expected):
    auth = resolve_auth(params, environ)
    assert set(auth) == set(AUTH_ENV)
    for name, value in expected.items():
        assert auth[name] == value


def test_resolve_auth_rejects_an_unreadable_boolean():
    with pytest.raises(ClientConfigError, match=r"^K8S_AUTH_VERIFY_SSL='maybe' is not a boolean"):
        resolve_auth({}, {"K8S_AUTH_VERIFY_SSL": "maybe"})


def test_missing_kubeconfig_file_is_named(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ClientConfigError, match=f"^kubeconfig {missing} does not exist$"):
        create_api_client(resolve_auth({"kubeconfig": str(missing)}, {}))


def test_host_and_token_need_no_kubeconfig():
    api = create_api_client(resolve_auth({"host": "https://127.0.0.1:1", "api_key": "secret"}, {}))
    assert api.configuration.host == "https://127.0.0.1:1"
    assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer secret"
    assert api.configuration.verify_ssl is True


@pytest.mark.parametrize(
    ("resource", "args", "path"),
    [
        (DEPLOYMENTS, ("shop", "web"), "/apis/apps/v1/namespaces/shop/deployments/web"),
        (PODS, ("shop",), "/api/v1/namespaces/shop/pods"),
        (PODS, ("shop", "web-1", "log"), "/api/v1/namespaces/shop/pods/web-1/log"),
        (ROLE_BINDINGS, ("a", "b"), "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings/b"),
        # A name is one path segment, whatever the task gave.
        (JOBS, ("a", "x/../y"), "/apis/batch/v1/namespaces/a/jobs/x%2F..%2Fy"),
    ],
)
def test_resource_paths(resource, args, path):
    assert resource.path(*args) == path


class _Response:
    def __init__(self, status: int, data: bytes) -> None:
        self.status, self.reason, self.data = status, "Reason", data


class _OldApiClient:
    """The call_api of kubernetes 31 to 36: path, method, then keywords."""

    def __init__(self, response: _Response) -> None:
        self.response, self.calls = response, []

    def call_api(self, path, method, **kwargs):
        self.calls.append((path, method, kwargs))
        return self.response


class _NewApiClient:
    """kubernetes 37: param_serialize builds the request, call_api sends it."""

    def __init__(self, response: _Response) -> None:
        self.response, self.calls = response, []

    def param_serialize(self, **kwargs):
        self.calls.append(kwargs)
        return (
            kwargs["method"],
            "https://h" + kwargs["resource_path"],
            kwargs["header_params"],
            kwargs["body"],
            [],
        )

    def call_api(self, method, url, header_params, body, post_params, _request_timeout):
        return SimpleNamespace(response=self.response)


@pytest.mark.parametrize("generation", [_OldApiClient, _NewApiClient])
def test_requests_by_path_in_both_client_generations(generation):
    api = generation(_Response(200, b'{"items": [{"metadata": {"name": "a"}}]}'))
    client = KubeClient(api)
    items = client.list("listing", REPLICA_SETS, "shop", label_selector="app=web", resource_version=None)
    assert items == [{"metadata": {"name": "a"}}]
    call = api.calls[0]
    query = call["query_params"] if isinstance(call, dict) else call[2]["query_params"]
    # Python-style names become the API's, and unset ones are left out.
    assert query == [("labelSelector", "app=web")]


@pytest.mark.parametrize("generation", [_OldApiClient, _NewApiClient])
def test_a_patch_sends_its_content_type_and_flags(generation):
    api = generation(_Response(200, b"{}"))
    KubeClient(api).patch("applying", DEPLOYMENTS, "shop", "web", {"spec": {}}, APPLY_PATCH, force=True)
    call = api.calls[0]
    kwargs = call if isinstance(call, dict) else call[2]
    assert kwargs["header_params"]["Content-Type"] == "application/apply-patch+yaml"
    assert kwargs["query_params"] == [("force", "true")]


@pytest.mark.parametrize("generation", [_OldApiClient, _NewApiClient])
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, None),
        (403, 'reading Deployment shop/web: 403 Reason: deployments.apps "web" is forbidden'),
        (409, "reading Deployment shop/web: 409 Reason: conflict"),
    ],
)
def test_errors_carry_the_servers_message(generation, status, expected):
    body = {
        "403": b'{"message": "deployments.apps \\"web\\" is forbidden"}',
        "409": b'{"message": "conflict"}',
    }
    api = generation(_Response(status, body.get(str(status), b"{}")))
    client = KubeClient(api)
    if expected is None:
        assert client.get("reading Deployment shop/web", DEPLOYMENTS, "shop", "web") is None
        return
    with pytest.raises(ClientError) as caught:
        client.get("reading Deployment shop/web", DEPLOYMENTS, "shop", "web")
    assert str(caught.value) == expected
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("server_message", "request_", "expected"),
    [
        # The authorizer's own words, as kube-apiserver v1.36 sends them.
        (
            'deployments.apps "web" is forbidden: User "system:serviceaccount:shop:ci" cannot get resource '
            '"deployments" in API group "apps" in the namespace "shop"',
            ("GET", "/apis/apps/v1/namespaces/shop/deployments/web", None),
            "forbidden: needs get on deployments.apps in namespace shop (user system:serviceaccount:shop:ci)",
        ),
        (
            'pods "web-1" is forbidden: User "u" cannot get resource "pods/log" in API group "" in the namespace "shop"',
            ("GET", "/api/v1/namespaces/shop/pods/web-1/log", None),
            "forbidden: needs get on pods/log in namespace shop (user u)",
        ),
        (
            'jobs.batch is forbidden: User "u" cannot watch resource "jobs" in API group "batch" in the namespace "a"',
            ("GET", "/apis/batch/v1/namespaces/a/jobs", {"watch": True}),
            "forbidden: needs watch on jobs.batch in namespace a (user u)",
        ),
        (
            'deployments.apps "web" is forbidden: User "u" cannot patch resource "deployments/scale" in API '
            'group "apps" in the namespace "a"',
            None,
            "forbidden: needs patch on deployments.apps/scale in namespace a (user u)",
        ),
        (
            'forbidden: User "u" cannot get path "/version"',
            None,
            "forbidden: needs get on path /version (user u)",
        ),
        # Words the regex does not know: the verb and resource come from the request.
        (
            "access denied: cannot do that",
            ("DELETE", "/apis/batch/v1/namespaces/a/jobs/j", None),
            "forbidden: needs delete on jobs.batch in namespace a: access denied: cannot do that",
        ),
        # A 403 that is not RBAC's (a quota, an admission plugin): the server's message stays.
        (
            'pods "x" is forbidden: exceeded quota: q, requested: pods=1',
            ("POST", "/api/v1/namespaces/a/pods", None),
            None,
        ),
    ],
)
def test_forbidden_names_the_missing_permission(server_message, request_, expected):
    assert forbidden_message(server_message, *(request_ or ())) == expected


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/apis/apps/v1/namespaces/a/replicasets", None, ("list", "replicasets.apps", "a")),
        (
            "GET",
            "/apis/apps/v1/namespaces/a/replicasets",
            {"watch": True},
            ("watch", "replicasets.apps", "a"),
        ),
        ("GET", "/api/v1/namespaces/a/pods/p/log", None, ("get", "pods/log", "a")),
        ("POST", "/apis/batch/v1/namespaces/a/jobs", None, ("create", "jobs.batch", "a")),
        ("PATCH", "/apis/apps/v1/namespaces/a/deployments/d", None, ("patch", "deployments.apps", "a")),
        ("PUT", "/api/v1/namespaces/a/pods/p", None, ("update", "pods", "a")),
        ("DELETE", "/api/v1/namespaces/a/pods", None, ("deletecollection", "pods", "a")),
        ("GET", "/api/v1/namespaces/a", None, ("get", "namespaces", None)),
        ("GET", "/version", None, None),
    ],
)
def test_required_permission(method, path, query, expected):
    assert required_permission(method, path, query) == expected


@pytest.mark.parametrize("generation", [_OldApiClient, _NewApiClient])
def test_a_forbidden_list_says_which_permission_it_needs(generation):
    body = (
        b'{"kind": "Status", "code": 403, "reason": "Forbidden", "details": {"group": "apps", "kind": "replicasets"},'
        b' "message": "replicasets.apps is forbidden: User \\"system:serviceaccount:a:ci\\" cannot list resource'
        b' \\"replicasets\\" in API group \\"apps\\" in the namespace \\"a\\""}'
    )
    client = KubeClient(generation(_Response(403, body)))
    with pytest.raises(ClientError) as caught:
        client.list("listing the ReplicaSets of a/web", REPLICA_SETS, "a")
    assert str(caught.value) == (
        "listing the ReplicaSets of a/web: forbidden: needs list on replicasets.apps in namespace a"
        " (user system:serviceaccount:a:ci)"
    )
    assert caught.value.status == 403


class _ScriptedApiClient:
    """call_api of kubernetes 31-36 answering from a script: a _Response, or an exception to raise."""

    def __init__(self, *script: object) -> None:
        self.script, self.calls = list(script), 0

    def call_api(self, path, method, **kwargs):
        self.calls += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        return step


class _Clock:
    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _scripted_client(*script: object) -> tuple[KubeClient, _ScriptedApiClient, _Clock]:
    clock = _Clock()
    api = _ScriptedApiClient(*script)
    return KubeClient(api, clock=lambda: clock.now, sleep=clock.sleep), api, clock


_OK = _Response(200, b'{"metadata": {"name": "web"}}')


def test_a_server_never_reached_fails_at_once():
    client, api, clock = _scripted_client(ConnectionRefusedError(111, "Connection refused"))
    with pytest.raises(ClientError, match=r"^reading web: cannot reach the API server: .*Connection refused"):
        client.get("reading web", DEPLOYMENTS, "shop", "web")
    assert (api.calls, clock.slept) == (1, [])


def test_a_restarting_server_is_retried_with_back_off():
    refused = ConnectionRefusedError(111, "Connection refused")
    client, api, clock = _scripted_client(_OK, refused, _Response(503, b"{}"), refused, _OK)
    assert client.get("reading web", DEPLOYMENTS, "shop", "web") == {"metadata": {"name": "web"}}
    assert client.get("reading web", DEPLOYMENTS, "shop", "web") == {"metadata": {"name": "web"}}
    assert api.calls == 5
    assert clock.slept == [0.2, 0.5, 1.0]


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 0.2), (1, 0.5), (2, 1.0), (3, 2.0), (4, 2.0), (100, 2.0)]
)
def test_transient_failures_back_off_to_two_seconds(failures, delay):
    assert _transient_delay(failures) == delay


def test_a_watch_backs_off_like_a_request_and_times_out_instead_of_sleeping_past_its_deadline():
    clock = _Clock()
    client = KubeClient(None, clock=lambda: clock.now, sleep=clock.sleep)
    events: queue.Queue = queue.Queue()
    failures = 0
    for _attempt in range(4):
        failures = client._back_off_or_report("pods", failures, 5.0, 5.0, "web", "refused", events)
    assert (failures, clock.slept, events.empty()) == (4, [0.2, 0.5, 1.0, 2.0], True)
    # 3.7 s gone: the next pause (2 s) would end past the 5 s deadline
    assert client._back_off_or_report("pods", failures, 5.0, 5.0, "web", "refused", events) == 5
    assert clock.slept == [0.2, 0.5, 1.0, 2.0]
    name, timeout = events.get_nowait()
    assert name == "pods" and isinstance(timeout, WaitTimeout)
    assert str(timeout) == "timed out after 5s waiting for web (API unreachable: refused)"


def test_retrying_a_restart_stops_after_reconnect_seconds():
    client, _api, clock = _scripted_client(_OK, _Response(503, b'{"message": "apiserver is shutting down"}'))
    client.get("reading web", DEPLOYMENTS, "shop", "web")
    with pytest.raises(ClientError) as caught:
        client.patch("scaling web", DEPLOYMENTS, "shop", "web", {}, APPLY_PATCH)
    assert str(caught.value) == (
        "scaling web: 503 Reason: apiserver is shutting down (still failing after 60s)"
    )
    assert caught.value.status == 503
    assert 58 <= clock.now <= 60


@pytest.mark.parametrize(("method", "retried"), [("GET", True), ("PATCH", False)])
def test_a_500_is_retried_for_a_read_only(method, retried):
    client, api, _clock = _scripted_client(
        _OK, _Response(500, b'{"message": "etcdserver: request timed out"}'), _OK
    )
    client.get("reading web", DEPLOYMENTS, "shop", "web")
    if retried:
        assert client.send("reading web", method, DEPLOYMENTS.path("shop", "web")) is not None
    else:
        with pytest.raises(ClientError, match=r"500 Reason: etcdserver: request timed out$"):
            client.send("patching web", method, DEPLOYMENTS.path("shop", "web"), body={})
    assert api.calls == (3 if retried else 2)


def test_a_refusal_is_never_retried():
    client, api, _clock = _scripted_client(
        _OK, _Response(422, b'{"message": "spec.replicas: Invalid value: -1"}')
    )
    client.get("reading web", DEPLOYMENTS, "shop", "web")
    with pytest.raises(ClientError, match=r"422 Reason: spec\.replicas: Invalid value: -1$"):
        client.patch("scaling web", DEPLOYMENTS, "shop", "web", {}, APPLY_PATCH)
    assert api.calls == 2


def test_a_401_says_what_may_be_wrong_with_the_credentials():
    client = _scripted_client(_Response(401, b'{"message": "Unauthorized"}'))[0]
    with pytest.raises(ClientError) as caught:
        client.get("reading web", DEPLOYMENTS, "shop", "web")
    assert str(caught.value) == (
        "reading web: 401 Unauthorized: the API server did not accept the credentials"
        " (a wrong, expired or revoked token, client certificate or password)"
    )
    assert caught.value.status == 401


def test_connection_errors_in_one_line():
    pool = urllib3.HTTPSConnectionPool("127.0.0.1", 1)
    refused = urllib3.exceptions.NewConnectionError(pool, "Failed to establish a new connection: refused")
    assert connection_error_message(urllib3.exceptions.MaxRetryError(pool, "/api", refused)) == (
        "cannot reach the API server at https://127.0.0.1:1: Failed to establish a new connection: refused"
    )
    untrusted = urllib3.exceptions.SSLError(
        "certificate verify failed: unable to get local issuer certificate"
    )
    assert connection_error_message(urllib3.exceptions.MaxRetryError(pool, "/api", untrusted)) == (
        "TLS with the API server failed: certificate verify failed: unable to get local issuer certificate"
        " (verify the server with ca_cert, the cluster's CA; validate_certs: false turns verification off)"
    )


def test_no_server_at_all_says_what_to_give(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(
        ClientConfigError, match=r"^no Kubernetes API server: no kubeconfig .*give kubeconfig, or host"
    ):
        create_api_client(resolve_auth({}, {}))


def test_a_request_cannot_hang_forever():
    api = _OldApiClient(_Response(200, b"{}"))
    KubeClient(api).get("reading web", DEPLOYMENTS, "shop", "web")
    assert api.calls[0][2]["_request_timeout"] == 60


def test_conflicts_are_retried_with_a_growing_pause_until_the_write_goes_through():
    clock = _Clock()
    client = KubeClient(None, clock=lambda: clock.now, sleep=clock.sleep)
    outcomes = [ClientError("conflict", 409)] * 8 + ["written"]

    def write():
        outcome = outcomes.pop(0)
        if isinstance(outcome, ClientError):
            raise outcome
        return outcome

    assert client.retry_on_conflict(write, "patching") == "written"
    # A busy controller can make many guarded patches in a row conflict: more than a few tries.
    assert clock.slept == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_conflicts_give_up_after_their_time_budget_and_other_errors_at_once():
    clock = _Clock()
    client = KubeClient(None, clock=lambda: clock.now, sleep=clock.sleep)
    calls = []

    def always_conflicts():
        calls.append(clock.now)
        raise ClientError("conflict", 409)

    with pytest.raises(ClientError, match="conflict"):
        client.retry_on_conflict(always_conflicts, "patching")
    assert 29 <= clock.now <= 30
    assert len(calls) == len(clock.slept) + 1

    def forbidden():
        raise ClientError("forbidden", 403)

    clock.slept.clear()
    with pytest.raises(ClientError, match="forbidden"):
        client.retry_on_conflict(forbidden, "patching")
    assert clock.slept == []
