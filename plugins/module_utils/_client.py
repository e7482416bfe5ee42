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
import json
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes import watch as k8s_watch
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


class ClientError(Exception):
    """A failure talking to the API, with a message fit for Ansible's msg."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class ClientConfigError(ClientError):
    """The connection options do not give a usable client."""


class WaitTimeout(ClientError):
    """watch_until reached its deadline; ``last`` is the last list of objects seen."""

    def __init__(self, message: str, last: List[JSONDict]) -> None:
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
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                k8s_config.load_kube_config(
                    config_file=path, context=auth.get("context"), client_configuration=configuration
                )
    except ConfigException as exc:
        raise ClientConfigError(f"cannot load the Kubernetes configuration: {exc}") from None
    if auth.get("host"):
        configuration.host = auth["host"]
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


def client_from_params(params: Mapping[str, Any], environ: Mapping[str, str]) -> "KubeClient":
    """The KubeClient for a module's connection options (what every module calls)."""
    return KubeClient(create_api_client(resolve_auth(params, environ)))


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


def api_error_message(exc: Exception) -> str:
    """One line for an API failure: the server's own message when it sent one."""
    if HAS_KUBERNETES and isinstance(exc, ApiException):
        try:
            body = json.loads(exc.body or "{}")
        except ValueError:
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        return f"{exc.status} {exc.reason}: {message or exc.body or ''}".strip()
    return f"{type(exc).__name__}: {exc}"


class KubeClient:
    """Thin wrapper over an ApiClient: raw JSON reads and the one watch-based wait."""

    def __init__(
        self,
        api_client: Any,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.apps = k8s_client.AppsV1Api(api_client)
        self.core = k8s_client.CoreV1Api(api_client)
        self.batch = k8s_client.BatchV1Api(api_client)
        self.clock = clock
        self.sleep = sleep

    def list_raw(self, list_fn: Callable[..., Any], **kwargs: Any) -> JSONDict:
        """Call a typed list function and return the JSON body as dicts (no model objects)."""
        response = list_fn(_preload_content=False, **kwargs)
        return dict(json.loads(response.data))

    def watch_until(
        self,
        list_fn: Callable[..., Any],
        check: Callable[[List[JSONDict]], Optional[T]],
        timeout: float,
        what: str,
        **selectors: Any,
    ) -> T:
        """Watch the objects ``list_fn`` lists until ``check(objects)`` returns non-None.

        ``check`` sees every object that matches the selectors (namespace, field_selector,
        label_selector) as it is now, after the first list and after every event. The deadline
        is ``timeout`` seconds from now; connection losses and 410 Gone lead to a fresh list
        and watch within it. Raises WaitTimeout with the last objects seen.
        """
        deadline = self.clock() + timeout
        objects: Dict[str, JSONDict] = {}
        failures = 0
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}", list(objects.values()))
            try:
                listed = self.list_raw(list_fn, _request_timeout=max(remaining, 1), **selectors)
                objects = {_key(item): item for item in listed.get("items", [])}
                failures = 0
                result = check(list(objects.values()))
                if result is not None:
                    return result
                version = listed.get("metadata", {}).get("resourceVersion")
                result = self._watch(list_fn, check, objects, version, deadline, selectors)
                if result is not None:
                    return result
            except ApiException as exc:
                if exc.status != 410 and not _retryable_status(exc.status):
                    raise ClientError(
                        f"while waiting for {what}: {api_error_message(exc)}", exc.status
                    ) from None
                if exc.status != 410:
                    failures = self._back_off(
                        failures, deadline, timeout, what, api_error_message(exc), objects
                    )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # API server restarting or connection dropped: back off a little, re-list.
                failures = self._back_off(failures, deadline, timeout, what, str(exc), objects)

    def _back_off(
        self,
        failures: int,
        deadline: float,
        timeout: float,
        what: str,
        error: str,
        objects: Dict[str, JSONDict],
    ) -> int:
        """Sleep before a re-list after a transient failure; WaitTimeout if the deadline comes first."""
        delay = RETRY_BACKOFF_SECONDS[min(failures, len(RETRY_BACKOFF_SECONDS) - 1)]
        if self.clock() + delay >= deadline:
            raise WaitTimeout(
                f"timed out after {timeout:g}s waiting for {what} (API unreachable: {error})",
                list(objects.values()),
            )
        self.sleep(delay)
        return failures + 1

    def _watch(
        self,
        list_fn: Callable[..., Any],
        check: Callable[[List[JSONDict]], Optional[T]],
        objects: Dict[str, JSONDict],
        version: Optional[str],
        deadline: float,
        selectors: Mapping[str, Any],
    ) -> Optional[T]:
        """One watch from ``version`` until the deadline; None when it ends without a result."""
        remaining = int(max(deadline - self.clock(), 1))
        stream = k8s_watch.Watch().stream(
            list_fn,
            resource_version=version,
            timeout_seconds=remaining,
            allow_watch_bookmarks=True,
            _request_timeout=remaining + 5,
            **selectors,
        )
        for event in stream:
            kind = event.get("type")
            raw = event.get("raw_object") or {}
            if kind == "ERROR":
                if raw.get("code") == 410:
                    return None  # too old: the caller re-lists
                raise ClientError(f"watch error: {raw.get('message', raw)}", raw.get("code"))
            if kind == "BOOKMARK":
                continue
            if kind == "DELETED":
                objects.pop(_key(raw), None)
            else:
                objects[_key(raw)] = raw
            result = check(list(objects.values()))
            if result is not None:
                return result
            if self.clock() >= deadline:
                return None
        return None


def _key(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


def _retryable_status(status: Optional[int]) -> bool:
    # 429 throttled, 5xx while an API server restarts: worth a re-list, not a failure.
    return status is not None and (status == 429 or 500 <= status < 600)
