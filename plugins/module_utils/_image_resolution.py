# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# A rollout with image_trigger: observe, resolve, then the usual rollout.
#
#   1. read the live workload (its containers' images are the previous digests, and in name mode
#      without images the tags to follow);
#   2. pick the followed containers (_image_trigger.targets; an unknown name is refused here);
#   3. ask each tag's registry for its digest (_registry.Registry; credentials from the task's
#      registries, its docker_config, then the pod template's imagePullSecrets, read only when a
#      registry answers 401);
#   4. hand the engine the same request with "repo:tag@sha256:..." in place of each image. Equal
#      to the live template: no change, no hook; otherwise a new revision through the strategy.
#
# Reads only, in check mode too. A registry that does not answer fails the task before anything
# is written, naming the image and the registry; no credential is ever part of a message.
import base64
import copy
import dataclasses
import json
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ._client import DAEMON_SETS, DEPLOYMENTS, SECRETS, STATEFUL_SETS, KubeClient
from ._engine import RolloutEngine, RolloutError
from ._image_trigger import (
    ImageTriggerInputError,
    Target,
    TriggerOptions,
    previous_digest,
    pull_secret_names,
    report,
    targets,
)
from ._registry import (
    Credentials,
    Endpoint,
    Registry,
    RegistryError,
    Transport,
    config_auths,
    default_endpoint,
    urllib_transport,
)
from ._rollout import RolloutRequest, set_images
from ._workload_engine import WorkloadRolloutEngine, engine_for

JSONDict = Dict[str, Any]
_RESOURCES = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFUL_SETS, "DaemonSet": DAEMON_SETS}
_DOCKERCONFIG_KEYS = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


class ImageTriggerError(Exception):
    """The followed tags could not be resolved; nothing was written. ``result`` for fail_json."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


class CredentialSource:
    """Registry credentials by host, looked up in order: the task's registries entry, its
    docker_config file, the pod template's imagePullSecrets. Each source is read on first need."""

    def __init__(
        self,
        client: KubeClient,
        options: TriggerOptions,
        namespace: str,
        pull_secrets: List[str],
        warnings: List[str],
    ) -> None:
        self.client, self.options, self.namespace = client, options, namespace
        self.pull_secrets, self.warnings = pull_secrets, warnings
        self._docker_config: Optional[Dict[str, Credentials]] = None
        self._secrets: Optional[Dict[str, Credentials]] = None

    def __call__(self, host: str) -> Optional[Credentials]:
        for entry in self.options.registries:
            if entry.host == host and entry.username is not None and entry.password is not None:
                return Credentials(entry.username, entry.password, f"image_trigger.registries ({host})")
        if self.options.docker_config:
            if self._docker_config is None:
                self._docker_config = self._read_docker_config(self.options.docker_config)
            if host in self._docker_config:
                return self._docker_config[host]
        if self._secrets is None:
            self._secrets = self._read_pull_secrets()
        return self._secrets.get(host)

    def _read_docker_config(self, path: str) -> Dict[str, Credentials]:
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except OSError as exc:
            raise RegistryError(
                f"image_trigger.docker_config {path} cannot be read: {exc.strerror}"
            ) from None
        except ValueError:
            raise RegistryError(f"image_trigger.docker_config {path} is not JSON") from None
        return config_auths(config, f"docker_config {path}")

    def _read_pull_secrets(self) -> Dict[str, Credentials]:
        found: Dict[str, Credentials] = {}
        for name in self.pull_secrets:
            secret = self.client.get(
                f"reading the imagePullSecret {name} (get on secrets)", SECRETS, self.namespace, name
            )
            if secret is None:
                self.warnings.append(f"imagePullSecret {self.namespace}/{name} not found: skipped")
                continue
            key = _DOCKERCONFIG_KEYS.get(str(secret.get("type")))
            data = (secret.get("data") or {}).get(key) if key else None
            if not isinstance(data, str):
                continue
            try:
                config = json.loads(base64.b64decode(data).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.warnings.append(
                    f"imagePullSecret {self.namespace}/{name} holds no docker config: skipped"
                )
                continue
            for host, credentials in config_auths(config, f"imagePullSecret {name}").items():
                found.setdefault(host, credentials)
        return found


def _endpoint_for(options: TriggerOptions) -> Callable[[str], Endpoint]:
    given = {entry.host: Endpoint(entry.url, entry.insecure) for entry in options.registries}
    return lambda host: given.get(host) or default_endpoint(host)


def resolve(
    client: KubeClient,
    request: RolloutRequest,
    transport_for: Optional[Callable[[Endpoint], Transport]] = None,
) -> Tuple[RolloutRequest, List[JSONDict], List[str]]:
    """The request with each followed container pinned to its tag's digest, the result's
    image_trigger entries, and warnings. Raises ImageTriggerError (nothing written)."""
    options = request.image_trigger
    if options is None:
        return request, [], []
    what = f"{request.kind} {request.namespace}/{request.name}"
    live = client.get(f"reading {what}", _RESOURCES[request.kind], request.namespace, request.name)
    live_template = ((live or {}).get("spec") or {}).get("template")
    if request.body is not None:
        template = request.body["spec"].get("template")
    elif live is None:
        raise ImageTriggerError(
            client.not_found(what, request.namespace, "; give its definition to create it"),
            {"changed": False},
        )
    else:
        template = copy.deepcopy(live_template)
        set_images(template, request.images)
    try:
        followed = targets(template, options.containers, what)
    except ImageTriggerInputError as exc:
        raise ImageTriggerError(str(exc), {"changed": False}) from None
    warnings: List[str] = []
    if not followed:
        warnings.append(f"image_trigger: no container of {what} has an image with a tag to follow")
        return request, [], warnings
    credentials = CredentialSource(client, options, request.namespace, pull_secret_names(template), warnings)
    registry = Registry(
        _endpoint_for(options),
        credentials,
        transport_for or (lambda endpoint: urllib_transport(options.timeout, endpoint.insecure)),
    )
    entries: List[JSONDict] = []
    for target in followed:
        try:
            digest = registry.digest(target.reference)
        except RegistryError as exc:
            raise ImageTriggerError(
                f"image_trigger: {exc}. Nothing was changed", {"changed": False, "image_trigger": entries}
            ) from None
        entries.append(report(target, previous_digest(live_template, target), digest))
    return _pinned(request, followed, entries), entries, warnings


def _pinned(request: RolloutRequest, followed: List[Target], entries: List[JSONDict]) -> RolloutRequest:
    pins = {target.container: entry["image"] for target, entry in zip(followed, entries)}
    if request.body is not None:
        body = copy.deepcopy(request.body)
        set_images(body["spec"].get("template"), pins)
        return dataclasses.replace(request, body=body)
    return dataclasses.replace(request, images={**request.images, **pins})


def run_rollout(
    client: KubeClient,
    request: RolloutRequest,
    check_mode: bool = False,
    diff: bool = False,
    engine: Callable[..., Union[RolloutEngine, WorkloadRolloutEngine]] = engine_for,
) -> JSONDict:
    """The rollout module's run: the image triggers resolved first, then the engine for the kind.

    The result has ``image_trigger`` (a list of containers followed) when the task gives the option.
    """
    if request.image_trigger is None:
        return engine(client, request, check_mode, diff).run()
    pinned, entries, warnings = resolve(client, request)
    try:
        result = engine(client, pinned, check_mode, diff).run()
    except RolloutError as exc:
        exc.result["image_trigger"] = entries
        raise
    result["image_trigger"] = entries
    if warnings:
        result["warnings"] = [*warnings, *(result.get("warnings") or [])]
    return result


__all__ = ["CredentialSource", "ImageTriggerError", "resolve", "run_rollout"]
