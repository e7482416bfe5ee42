# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The edge of the collection: the only module that imports `kubernetes`.
#
# - resolve_auth(): connection options with kubernetes.core's names and K8S_AUTH_* variables
#   (pure, so users' module_defaults and AWX credentials carry over unchanged).
# - create_api_client(): the one client factory (kubeconfig, context, host + token, in-cluster).
# - KubeClient.watch_until(): the one wait mechanism. List, then watch from the list's
#   resourceVersion; re-list on 410 Gone and on dropped connections, until a deadline.
#   Objects are plain JSON dicts (camelCase), the form the pure core reads.
import contextlib
import json
import os
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, TypeVar
from urllib.parse import quote

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR: Optional[str] = None
except ImportError as exc:  # reported by the module with missing_required_lib()
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = str(exc)

T = TypeVar("T")
JSONDict = Dict[str, Any]

# Option name -> the variable kubernetes.core reads for it (same names, so nothing changes
# for users who move a task from kubernetes.core.k8s to openrollout.k8s).
AUTH_ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "username": "K8S_AUTH_USERNAME",
    "password": "K8S_AUTH_PASSWORD",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "proxy": "K8S_AUTH_PROXY",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# Connection errors worth a re-list within the deadline (API server restarting, etc.).
RETRY_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0)
# The most one request of send() may take: an API server that accepts the connection and then
# hangs (frozen, overloaded) gives a timeout, retried like a dropped connection, not a task stuck forever.
REQUEST_SECONDS = 60
# How long send() keeps retrying a request to an API server that answered before (a restart).
RECONNECT_SECONDS = 60.0
# A pod's log: the API server asks the pod's kubelet; one that does not answer by then is reported.
LOG_SECONDS = 10
# One watch request lasts at most this long; the next resumes from the last resourceVersion.
WATCH_REQUEST_SECONDS = 60
# First wait before retrying a write that hit 409 Conflict (doubles each time).
CONFLICT_BACKOFF_SECONDS = 0.05
# ... up to this wait between two tries, and for this long in all. The controller writes a busy
# Deployment's status many times a second, and each write makes a guarded patch a 409: a few fixed
# tries ran out during a slow rollout on a loaded machine (seen in make bench).
CONFLICT_BACKOFF_MAX_SECONDS = 1.0
CONFLICT_RETRY_SECONDS = 30.0


def _transient_delay(failures: int) -> float:
    """The pause before the next try after ``failures`` transient failures in a row.

    RETRY_BACKOFF_SECONDS in turn, then its last value for good: 0 failures 0.2 s, 1 failure
    0.5 s, 2 failures 1 s, 3 or more 2 s. 409 Conflict has its own back-off (retry_on_conflict).
    """
    return RETRY_BACKOFF_SECONDS[min(failures, len(RETRY_BACKOFF_SECONDS) - 1)]


class ClientError(Exception):
    """A failure talking to the API, with a message fit for Ansible's msg."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class ClientConfigError(ClientError):
    """The connection options do not give a usable client."""


class WaitTimeout(ClientError):
    """A wait reached its deadline; ``last`` is the last state seen (objects, or objects per source)."""

    def __init__(self, message: str, last: Any) -> None:
        super().__init__(message)
        self.last = last


def resolve_auth(params: Mapping[str, Any], environ: Mapping[str, str]) -> JSONDict:
    """Options given to the task win; unset ones come from K8S_AUTH_* variables.

    ``validate_certs`` defaults to True and accepts the usual boolean spellings from the
    environment; an unreadable one is an error rather than a silent False.
    """
    auth: JSONDict = {}
    for name, variable in AUTH_ENV.items():
        value = params.get(name)
        if value is None and environ.get(variable) not in (None, ""):
            value = environ[variable]
        auth[name] = value
    verify = auth["validate_certs"]
    if isinstance(verify, str):
        if verify.lower() in _TRUE:
            verify = True
        elif verify.lower() in _FALSE:
            verify = False
        else:
            raise ClientConfigError(
                f"{AUTH_ENV['validate_certs']}={verify!r} is not a boolean (use true or false)"
            )
    auth["validate_certs"] = True if verify is None else bool(verify)
    return auth


def create_api_client(auth: Mapping[str, Any]) -> Any:
    """The one client factory: a kubernetes.client.ApiClient for resolved ``auth``.

    Order, as kubernetes.core: an explicit kubeconfig (file path or dict) or, without ``host``,
    the default kubeconfig; else in-cluster service account; ``host`` and credentials given
    as options override what the kubeconfig says.
    """
    if not HAS_KUBERNETES:
        raise ClientConfigError(f"the kubernetes Python library is required: {KUBERNETES_IMPORT_ERROR}")
    configuration = k8s_client.Configuration()
    kubeconfig = auth.get("kubeconfig")
    try:
        if isinstance(kubeconfig, dict):
            k8s_config.load_kube_config_from_dict(
                kubeconfig, context=auth.get("context"), client_configuration=configuration
            )
        elif kubeconfig or not auth.get("host"):
            path = os.path.expanduser(kubeconfig) if kubeconfig else None
            if path and not os.path.exists(path):
                raise ClientConfigError(f"kubeconfig {kubeconfig} does not exist")
            if path is None and not _default_kubeconfig_exists():
                try:
                    k8s_config.load_incluster_config(client_configuration=configuration)
                except ConfigException:
                    raise ClientConfigError(
                        "no Kubernetes API server: no kubeconfig (KUBECONFIG, ~/.kube/config), not in a "
                        "pod, and no host given; give kubeconfig, or host and credentials"
                    ) from None
            else:
                k8s_config.load_kube_config(
                    config_file=path, context=auth.get("context"), client_configuration=configuration
                )
    except ConfigException as exc:
        raise ClientConfigError(f"cannot load the Kubernetes configuration: {exc}") from None
    if auth.get("host"):
        configuration.host = auth["host"]
        _keep_host(configuration, auth["host"])
    if auth.get("api_key"):
        _set_authorization(configuration, f"Bearer {auth['api_key']}")
    if auth.get("username") and auth.get("password"):
        configuration.username = auth["username"]
        configuration.password = auth["password"]
        _set_authorization(configuration, configuration.get_basic_auth_token() or "")
    for option, attribute in (
        ("ca_cert", "ssl_ca_cert"),
        ("client_cert", "cert_file"),
        ("client_key", "key_file"),
    ):
        if auth.get(option):
            setattr(configuration, attribute, os.path.expanduser(auth[option]))
    if auth.get("proxy"):
        configuration.proxy = auth["proxy"]
    if auth.get("validate_certs") is False:
        configuration.verify_ssl = False
    if not configuration.host:
        raise ClientConfigError("no Kubernetes API server: give host, a kubeconfig, or run in a cluster")
    return k8s_client.ApiClient(configuration)


def client_from_params(params: Mapping[str, Any], environ: Mapping[str, str]) -> KubeClient:
    """The KubeClient for a module's connection options (what every module calls)."""
    return KubeClient(create_api_client(resolve_auth(params, environ)))


def _keep_host(configuration: Any, host: str) -> None:
    """A kubeconfig's token refresh hook rewrites the whole configuration, server included:
    keep the refresh (exec and OIDC tokens need it) but put ``host`` back after it."""
    refresh = getattr(configuration, "refresh_api_key_hook", None)
    if refresh is None:
        return

    def refresh_keeping_host(config: Any) -> None:
        refresh(config)
        config.host = host

    configuration.refresh_api_key_hook = refresh_keeping_host


def _set_authorization(configuration: Any, value: str) -> None:
    """Credentials given as options replace the kubeconfig's, in every client version.

    Recent clients read ``api_key["BearerToken"]``, older ones ``api_key["authorization"]``,
    and a kubeconfig installs a refresh hook that would put its own token back.
    """
    configuration.api_key = {"BearerToken": value, "authorization": value}
    configuration.api_key_prefix = {}
    configuration.refresh_api_key_hook = None


def _default_kubeconfig_exists() -> bool:
    paths = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    return any(os.path.exists(os.path.expanduser(p)) for p in paths.split(os.pathsep) if p)


def api_error_message(
    exc: Exception,
    method: Optional[str] = None,
    path: Optional[str] = None,
    query: Optional[Mapping[str, Any]] = None,
) -> str:
    """One line for an API failure: the server's own message when it sent one.

    A 403 from the authorizer says what permission is missing, as RBAC words:
    ``forbidden: needs list on replicasets.apps in namespace shop (user system:serviceaccount:shop:ci)``.
    The verb and resource come from the server's message, else from the request (``method``,
    ``path``, ``query``). Other 403s (a quota, an admission plugin) keep the server's message.
    """
    if HAS_KUBERNETES and isinstance(exc, ApiException):
        try:
            body = json.loads(exc.body or "{}")
        except ValueError:
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        if exc.status == 403:
            needed = forbidden_message(str(message or exc.body or ""), method, path, query)
            if needed:
                return needed
        if exc.status == 401:
            # The server says no more than "Unauthorized", whatever the cause.
            return (
                "401 Unauthorized: the API server did not accept the credentials "
                "(a wrong, expired or revoked token, client certificate or password)"
            )
        return f"{exc.status} {exc.reason}: {message or exc.body or ''}".strip()
    return f"{type(exc).__name__}: {exc}"


def connection_error_message(exc: BaseException) -> str:
    """A failed connection in one line: TLS verification apart (it is not the network), and
    urllib3's "Max retries exceeded with url ..." wrapping reduced to its cause."""
    reason = getattr(exc, "reason", None) or exc
    if HAS_KUBERNETES and isinstance(reason, urllib3.exceptions.SSLError):
        return (
            f"TLS with the API server failed: {reason} (verify the server with ca_cert, the cluster's "
            "CA; validate_certs: false turns verification off)"
        )
    pool = getattr(exc, "pool", None)
    where = f" at {pool.scheme}://{pool.host}:{pool.port}" if pool is not None else ""
    if isinstance(reason, urllib3.exceptions.NewConnectionError) and ": " in str(reason):
        reason = str(reason).split(": ", 1)[1]  # drop the HTTPSConnection(...) repr
    return f"cannot reach the API server{where}: {reason}"


# The authorizer's words (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.ForbiddenStatus):
#   deployments.apps "web" is forbidden: User "u" cannot get resource "deployments" in API group
#   "apps" in the namespace "shop"            (core group: no `in API group` part)
#   forbidden: User "u" cannot get path "/version"
_FORBIDDEN_RESOURCE = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>[a-z]+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<namespace>[^"]*)")?'
)
_FORBIDDEN_PATH = re.compile(r'User "(?P<user>[^"]*)" cannot (?P<verb>[a-z]+) path "(?P<path>[^"]+)"')
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def forbidden_message(
    server_message: str,
    method: Optional[str] = None,
    path: Optional[str] = None,
    query: Optional[Mapping[str, Any]] = None,
) -> Optional[str]:
    """``forbidden: needs <verb> on <resource>[ in namespace <ns>] (user <user>)`` for an RBAC denial.

    None when the 403 is not the authorizer's ("exceeded quota", a webhook's refusal ...): the
    server's message says more then.
    """
    found = _FORBIDDEN_RESOURCE.search(server_message)
    if found:
        group = found.group("group")
        resource = found.group("resource")
        if group:
            plural, _slash, sub = resource.partition("/")
            resource = f"{plural}.{group}" + (f"/{sub}" if sub else "")
        where = f" in namespace {found.group('namespace')}" if found.group("namespace") else ""
        return f"forbidden: needs {found.group('verb')} on {resource}{where} (user {found.group('user')})"
    found = _FORBIDDEN_PATH.search(server_message)
    if found:
        verb, user = found.group("verb"), found.group("user")
        return f"forbidden: needs {verb} on path {found.group('path')} (user {user})"
    if "cannot" not in server_message or not method or not path:
        return None
    needed = required_permission(method, path, query)
    if needed is None:
        return None
    verb, resource, namespace = needed
    where = f" in namespace {namespace}" if namespace else ""
    return f"forbidden: needs {verb} on {resource}{where}: {server_message}"


def required_permission(
    method: str, path: str, query: Optional[Mapping[str, Any]] = None
) -> Optional[Tuple[str, str, Optional[str]]]:
    """The RBAC (verb, resource, namespace) a request needs; None for a path that is not a resource.

    GET on a collection is list (watch with ``watch``), on an object get; POST create, PUT
    update, PATCH patch, DELETE delete (deletecollection on a collection). Resources are
    named as in RBAC and ``kubectl auth can-i``: ``pods``, ``pods/log``, ``deployments.apps``.
    """
    parts = [segment for segment in path.split("?")[0].split("/") if segment]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    resource = f"{plural}.{group}" if group else plural
    if sub:
        resource += f"/{sub}"
    method = method.upper()
    if method == "GET":
        verb = "get" if name else ("watch" if (query or {}).get("watch") else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return verb, resource, namespace


@dataclass(frozen=True)
class Resource:
    """A namespaced resource type, addressed by its REST path.

    Calls go by path rather than through the typed API classes (AppsV1Api ...): importing those
    costs more than a second per module run, and the collection reads and writes plain JSON anyway.
    """

    group_version: str  # "v1" for the core group, else "group/version"
    plural: str
    kind: str

    def path(self, namespace: str, name: Optional[str] = None, subresource: Optional[str] = None) -> str:
        root = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        parts = [root, "namespaces", quote(namespace, safe=""), self.plural]
        if name is not None:
            parts.append(quote(name, safe=""))
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)


DEPLOYMENTS = Resource("apps/v1", "deployments", "Deployment")
REPLICA_SETS = Resource("apps/v1", "replicasets", "ReplicaSet")
STATEFUL_SETS = Resource("apps/v1", "statefulsets", "StatefulSet")
DAEMON_SETS = Resource("apps/v1", "daemonsets", "DaemonSet")
CONTROLLER_REVISIONS = Resource("apps/v1", "controllerrevisions", "ControllerRevision")
PODS = Resource("v1", "pods", "Pod")
SERVICES = Resource("v1", "services", "Service")
SERVICE_ACCOUNTS = Resource("v1", "serviceaccounts", "ServiceAccount")
# Read only: the pod template's imagePullSecrets, for image_trigger's registry credentials.
SECRETS = Resource("v1", "secrets", "Secret")
JOBS = Resource("batch/v1", "jobs", "Job")
EVENTS = Resource("v1", "events", "Event")
ROLES = Resource("rbac.authorization.k8s.io/v1", "roles", "Role")
ROLE_BINDINGS = Resource("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding")
# Gateway API (a CRD, served only where it is installed): the canary's traffic weights.
HTTP_ROUTES = Resource("gateway.networking.k8s.io/v1", "httproutes", "HTTPRoute")
RESOURCES_BY_KIND = {
    resource.kind: resource
    for resource in (
        DEPLOYMENTS,
        REPLICA_SETS,
        STATEFUL_SETS,
        DAEMON_SETS,
        CONTROLLER_REVISIONS,
        PODS,
        SERVICES,
        SERVICE_ACCOUNTS,
        JOBS,
        ROLES,
        ROLE_BINDINGS,
        HTTP_ROUTES,
    )
}

# How the API server is to read a patch body.
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _whole(obj: JSONDict) -> JSONDict:
    return obj


@dataclass(frozen=True)
class Source:
    """One list of objects to keep current: a resource type in a namespace, and selectors.

    ``keep`` is applied to each object as it arrives and the wait keeps only what it returns
    (the whole object by default): a big rollout holds thousands of pods, and most of each pod is
    of no use to the wait. ``optional``: a 403 leaves it empty instead of ending the wait.
    """

    resource: Resource
    namespace: str
    selectors: Mapping[str, Any]
    keep: Callable[[JSONDict], JSONDict] = _whole
    # A source the wait can do without: refused (403), it stays empty and the wait goes on.
    optional: bool = False


class KubeClient:
    """Thin wrapper over an ApiClient: raw JSON reads and writes, and the one watch-based wait."""

    def __init__(
        self,
        api_client: Any,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.clock = clock
        self.sleep = sleep
        # Whether the API server has answered a request of send(): from then on a failed
        # connection is taken for a restart and retried (see send()).
        self.reached = False

    # --- reads and writes, as JSON dicts ------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        content_type: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Send one request; the urllib3 response, its body not read yet (watches stream it).

        Raises ApiException for a status outside 2xx, whichever client generation is installed.
        """
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        params = [
            (_camel(key), _query_value(value)) for key, value in (query or {}).items() if value is not None
        ]
        api = self.api_client
        if hasattr(api, "param_serialize"):  # kubernetes >= 37 (pydantic generation)
            method, url, headers, body, post = api.param_serialize(
                method=method,
                resource_path=path,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(
                method, url, header_params=headers, body=body, post_params=post, _request_timeout=timeout
            ).response
        else:  # kubernetes 31-36
            response = api.call_api(
                path,
                method,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
        if not 200 <= response.status <= 299:
            raise ApiException(status=response.status, reason=response.reason, body=_text(response.data))
        return response

    def send(
        self,
        what: str,
        method: str,
        path: str,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        content_type: Optional[str] = None,
    ) -> Optional[JSONDict]:
        """One request, its JSON body; None for 404. ClientError (with ``what``) otherwise.

        Once the API server has answered this client, a dropped connection or a 429/502/503/504
        (500 too, for a read) is taken for a restart: the request is sent again, with back-off,
        for up to RECONNECT_SECONDS. A server never reached fails at once (a wrong host, a
        closed port). Writes are safe to resend: they are guarded by resourceVersion, or are
        server-side applies, creates of fixed names or deletes, whose second try gives 409 or 404.
        """
        failures = 0
        give_up: Optional[float] = None
        while True:
            try:
                response = self.request(method, path, query, body, content_type, timeout=REQUEST_SECONDS)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                transient = exc.status in (429, 502, 503, 504) or (exc.status == 500 and method == "GET")
                error = api_error_message(exc, method, path, query)
                if not (transient and self.reached):
                    raise ClientError(f"{what}: {error}", exc.status) from None
                status: Optional[int] = exc.status
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = connection_error_message(exc)
                if not self.reached:
                    raise ClientError(f"{what}: {error}") from None
                status = None
            else:
                self.reached = True
                return dict(json.loads(response.data or b"{}"))
            now = self.clock()
            give_up = now + RECONNECT_SECONDS if give_up is None else give_up
            delay = _transient_delay(failures)
            if now + delay > give_up:
                raise ClientError(f"{what}: {error} (still failing after {RECONNECT_SECONDS:g}s)", status)
            self.sleep(delay)
            failures += 1

    def get(self, what: str, resource: Resource, namespace: str, name: str) -> Optional[JSONDict]:
        """The object, or None when it does not exist."""
        return self.send(what, "GET", resource.path(namespace, name))

    def namespace_missing(self, namespace: str) -> bool:
        """Is there no namespace ``namespace``? For a "not found" to say which is missing.

        False when it exists, and when the API does not say (no ``get`` on namespaces, which a
        namespaced Role cannot grant): the answer is a hint, never a failure of its own.
        """
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}"
        try:
            return self.send(f"reading namespace {namespace}", "GET", path) is None
        except ClientError:
            return False

    def not_found(self, what: str, namespace: str, hint: str = "") -> str:
        """The message for ``what`` (``Deployment shop/web``) not found: its namespace's, if that is missing.

        ``namespace nu-bda not found (so neither is Deployment nu-bda/web)``, else
        ``Deployment shop/web not found`` + ``hint``.
        """
        if self.namespace_missing(namespace):
            return f"namespace {namespace} not found (so neither is {what})"
        return f"{what} not found{hint}"

    def list(self, what: str, resource: Resource, namespace: str, **selectors: Any) -> List[JSONDict]:
        """The objects of a namespace that match ``selectors`` (label_selector, field_selector)."""
        listed = self.send(what, "GET", resource.path(namespace), selectors)
        return list((listed or {}).get("items") or [])

    def create(self, what: str, resource: Resource, namespace: str, body: JSONDict, **query: Any) -> JSONDict:
        """Create an object (``dry_run="All"`` to only validate it); ClientError on 409 and the rest."""
        created = self.send(what, "POST", resource.path(namespace), query, body)
        if created is None:
            raise ClientError(f"{what}: namespace {namespace} not found", 404)
        return created

    def patch(
        self,
        what: str,
        resource: Resource,
        namespace: str,
        name: str,
        body: Any,
        content_type: str,
        **query: Any,
    ) -> Optional[JSONDict]:
        """Patch an object (``content_type``: one of the *_PATCH types above); None when it is gone."""
        return self.send(what, "PATCH", resource.path(namespace, name), query, body, content_type)

    def delete(
        self,
        what: str,
        resource: Resource,
        namespace: str,
        name: str,
        body: Optional[JSONDict] = None,
        **query: Any,
    ) -> bool:
        """Delete an object (``body``: DeleteOptions, e.g. preconditions); False when already gone."""
        return self.send(what, "DELETE", resource.path(namespace, name), query, body) is not None

    def pod_log(self, what: str, namespace: str, name: str, **query: Any) -> str:
        """A pod's log as text (``container``, ``tail_lines`` ...); ClientError (with ``what``) if unread.

        One try, unlike ``send``: the API server fetches a log from the pod's kubelet, and a kubelet
        it cannot reach answers 5xx for as long as it stays unreachable; the caller says why the log
        is missing rather than holding the task for RECONNECT_SECONDS.
        """
        path = PODS.path(namespace, name, "log")
        try:
            response = self.request("GET", path, query, timeout=LOG_SECONDS)
        except ApiException as exc:
            raise ClientError(f"{what}: {api_error_message(exc, 'GET', path, query)}", exc.status) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClientError(f"{what}: {connection_error_message(exc)}") from None
        return _text(response.data)

    def retry_on_conflict(self, action: Callable[[], T], what: str) -> T:
        """Run ``action`` (which re-reads what it writes) again after a 409 Conflict.

        Tries again with a growing pause (0.05 s doubling, at most 1 s) for CONFLICT_RETRY_SECONDS;
        the last 409 is raised after that.
        """
        deadline = self.clock() + CONFLICT_RETRY_SECONDS
        delay = CONFLICT_BACKOFF_SECONDS
        while True:
            try:
                return action()
            except ClientError as exc:
                if exc.status != 409 or self.clock() + delay > deadline:
                    raise
            self.sleep(delay)
            delay = min(delay * 2, CONFLICT_BACKOFF_MAX_SECONDS)

    # --- the one wait ------------------------------------------------------------------

    def watch_until(
        self,
        resource: Resource,
        namespace: str,
        check: Callable[[List[JSONDict]], Optional[T]],
        timeout: float,
        what: str,
        **selectors: Any,
    ) -> T:
        """Watch the ``resource`` objects of ``namespace`` until ``check(objects)`` returns non-None.

        The one-source form of watch_sources; WaitTimeout.last is that source's objects.
        """
        try:
            return self.watch_sources(
                {"objects": Source(resource, namespace, selectors)},
                lambda state, _now: check(state["objects"]),
                timeout,
                what,
            )
        except WaitTimeout as exc:
            last = exc.last.get("objects", []) if isinstance(exc.last, dict) else exc.last
            raise WaitTimeout(str(exc), last) from None

    def watch_sources(
        self,
        sources: Mapping[str, Source],
        check: Callable[[Dict[str, List[JSONDict]], float], Optional[T]],
        timeout: float,
        what: str,
        tick: float = 1.0,
        wake: Optional[Callable[[], Optional[float]]] = None,
    ) -> T:
        """Keep every source's objects current and return the first non-None ``check(state, now)``.

        ``state`` maps each source's name to its objects as they are now: a list first, then a
        watch from the list's resourceVersion, so no change is missed in between (one thread per
        source). ``check`` runs after every change once each source has been listed, and at least
        every ``tick`` seconds, so that it can act on time passing (a stalled rollout) without
        any extra API call, and at the time ``wake()`` gives (client clock; None: no need), for
        work due then (the rollout's analysis measures on time). Dropped connections and 410
        Gone lead to a new watch or list within the deadline (``timeout`` seconds from now).
        Raises WaitTimeout with the last state, or ClientError for an API error that waiting will
        not cure (401, 403, 404 ...).
        """
        deadline = self.clock() + timeout
        events: queue.Queue[Tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        open_streams: Dict[str, Any] = {}
        state: Dict[str, List[JSONDict]] = {}
        for name, source in sources.items():
            threading.Thread(
                target=self._follow,
                args=(name, source, deadline, what, timeout, events, stop, open_streams),
                name=f"watch-{name}",
                daemon=True,
            ).start()
        try:
            while True:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}", dict(state))
                wait = min(tick, remaining)
                wake_at = wake() if wake is not None else None
                if wake_at is not None:
                    wait = min(wait, max(wake_at - self.clock(), 0.01))
                try:
                    batch = [events.get(timeout=wait)]
                except queue.Empty:
                    batch = []
                # Everything already queued goes in before one check: a big rollout sends events
                # faster than check() can look at every intermediate state, and only the latest counts.
                while batch and not events.empty():
                    batch.append(events.get_nowait())
                for name, payload in batch:
                    if isinstance(payload, BaseException):
                        if isinstance(payload, WaitTimeout):
                            raise WaitTimeout(str(payload), dict(state))
                        raise payload
                    state[name] = payload
                if len(state) == len(sources):
                    result = check(dict(state), self.clock())
                    if result is not None:
                        return result
        finally:
            stop.set()
            for response in list(open_streams.values()):
                _close(response)

    def _follow(
        self,
        name: str,
        source: Source,
        deadline: float,
        what: str,
        timeout: float,
        events: queue.Queue[Tuple[str, Any]],
        stop: threading.Event,
        open_streams: Dict[str, Any],
    ) -> None:
        """One source's loop (a thread of watch_sources): list, watch, re-watch, re-list."""
        objects: Dict[str, JSONDict] = {}
        version: Optional[str] = None
        failures = 0
        while not stop.is_set():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            try:
                if version is None:
                    response = self.request(
                        "GET",
                        source.resource.path(source.namespace),
                        source.selectors,
                        timeout=max(remaining, 1),
                    )
                    listed = dict(json.loads(response.data or b"{}"))
                    objects = {_key(item): source.keep(item) for item in listed.get("items", [])}
                    version = listed.get("metadata", {}).get("resourceVersion")
                    events.put((name, list(objects.values())))
                version = self._stream(name, source, objects, version, deadline, events, stop, open_streams)
                failures = 0
            except ApiException as exc:
                if stop.is_set():
                    return
                if exc.status == 403 and source.optional:
                    events.put((name, []))
                    return
                if exc.status != 410 and not _retryable_status(exc.status):
                    message = api_error_message(
                        exc, "GET", source.resource.path(source.namespace), {"watch": version is not None}
                    )
                    events.put((name, ClientError(f"while waiting for {what}: {message}", exc.status)))
                    return
                version = None
                if exc.status != 410:
                    failures = self._back_off_or_report(
                        name, failures, deadline, timeout, what, api_error_message(exc), events
                    )
            except ClientError as exc:
                events.put((name, exc))
                return
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                # API server restarting, connection dropped, or a stream cut mid-line.
                if stop.is_set():
                    return
                failures = self._back_off_or_report(name, failures, deadline, timeout, what, str(exc), events)
                version = None
            except Exception as exc:  # a bug must reach the caller, not die in a thread
                events.put((name, exc))
                return

    def _back_off_or_report(
        self,
        name: str,
        failures: int,
        deadline: float,
        timeout: float,
        what: str,
        error: str,
        events: queue.Queue[Tuple[str, Any]],
    ) -> int:
        """Sleep before a new list after a transient failure; WaitTimeout if the deadline comes first."""
        delay = _transient_delay(failures)
        if self.clock() + delay >= deadline:
            events.put(
                (
                    name,
                    WaitTimeout(
                        f"timed out after {timeout:g}s waiting for {what} (API unreachable: {error})", []
                    ),
                )
            )
            return failures + 1
        self.sleep(delay)
        return failures + 1

    def _stream(
        self,
        name: str,
        source: Source,
        objects: Dict[str, JSONDict],
        version: Optional[str],
        deadline: float,
        events: queue.Queue[Tuple[str, Any]],
        stop: threading.Event,
        open_streams: Dict[str, Any],
    ) -> Optional[str]:
        """One watch request from ``version``; returns the version to watch from next (None: re-list).

        Events are read straight off the HTTP stream as JSON (no model objects); the server
        ends the request after WATCH_REQUEST_SECONDS at most, and the next one resumes from the
        last resourceVersion seen (bookmarks keep it fresh), so a stopped wait frees its
        connection quickly even if closing it from the other thread were to fail.
        """
        seconds = int(max(1, min(deadline - self.clock(), WATCH_REQUEST_SECONDS)))
        query = dict(
            source.selectors,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=seconds,
        )
        response = self.request("GET", source.resource.path(source.namespace), query, timeout=seconds + 10)
        open_streams[name] = response
        try:
            for event in _events(response):
                if stop.is_set():
                    return version
                kind = event.get("type")
                raw = event.get("object") or {}
                if kind == "ERROR":
                    if raw.get("code") == 410:
                        return None  # too old: list again
                    # As a failed watch request: a 429 or 5xx (an API server overloaded or
                    # restarting, etcd timing out) is backed off and listed again; any other
                    # code ends the wait with the server's message.
                    raise ApiException(status=raw.get("code"), reason=raw.get("reason"), body=json.dumps(raw))
                version = (raw.get("metadata") or {}).get("resourceVersion") or version
                if kind == "BOOKMARK":
                    continue
                if kind == "DELETED":
                    objects.pop(_key(raw), None)
                else:
                    objects[_key(raw)] = source.keep(raw)
                events.put((name, list(objects.values())))
        finally:
            open_streams.pop(name, None)
            with contextlib.suppress(Exception):
                response.release_conn()
        return version


def _events(response: Any) -> Iterator[JSONDict]:
    """The watch events of a streaming response, one JSON object per line."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield dict(json.loads(line))
    if pending.strip():
        yield dict(json.loads(pending))


def _close(response: Any) -> None:
    """End a watch stream now, even while another thread is blocked reading it.

    HTTPResponse.close() waits for that reader, so the socket is shut down instead: the
    reader's recv returns at once and its thread ends.
    """
    connection = getattr(response, "connection", None) or getattr(response, "_connection", None)
    sock = getattr(connection, "sock", None)
    # An already broken stream has nothing left to free.
    with contextlib.suppress(Exception):
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        else:
            response.close()


def _camel(name: str) -> str:
    """label_selector -> labelSelector: the API's query parameter for a Python-style name."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return "" if data is None else str(data)


def _key(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


def _retryable_status(status: Optional[int]) -> bool:
    # 429 throttled, 5xx while an API server restarts: worth a re-list, not a failure.
    return status is not None and (status == 429 or 500 <= status < 600)
