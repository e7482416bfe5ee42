# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Image-change triggers at task time, the pure part: a DeploymentConfig's ImageChange trigger
# rolls out when its tag points to a new image; here the rollout module resolves each followed
# container's tag to the digest it points to now, and writes "repo:tag@sha256:<digest>" into the
# template. Same digest as the live container: the template is the same, nothing rolls out.
#
#   live    app: registry.example/web:latest@sha256:aaa...
#   task    image_trigger: {}            (definition image registry.example/web:latest, or none in name mode)
#   now     registry.example/web:latest -> sha256:bbb...
#   written app: registry.example/web:latest@sha256:bbb...  -> a new revision, its hooks
#
# The tag stays in the reference, so kubectl, `rollout history` and every revision show what it
# came from; Kubernetes and containerd pull by the digest. _image_resolution.py does the reading.
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ._registry import ImageReference, ImageReferenceError, parse_reference
from ._revisions import images_of

DEFAULT_TIMEOUT = 30


class ImageTriggerInputError(ValueError):
    """The image_trigger option is not valid; the message says which part and why."""


@dataclass(frozen=True)
class RegistryOption:
    """One entry of image_trigger.registries: where ``host`` (as image references name it) is reached."""

    host: str
    url: str
    insecure: bool = False
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class TriggerOptions:
    """The image_trigger option. ``containers`` None: every container whose image has a tag."""

    containers: Optional[Tuple[str, ...]]
    registries: Tuple[RegistryOption, ...] = ()
    docker_config: Optional[str] = None
    timeout: int = DEFAULT_TIMEOUT


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ImageTriggerInputError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def parse_options(raw: Any) -> Optional[TriggerOptions]:
    """The image_trigger option as TriggerOptions (None when not given).

    {} follows every tagged container; {"containers": ["app"], "registries": [{"host":
    "registry.example", "url": "http://127.0.0.1:5000"}]} follows app, reaching registry.example
    at 127.0.0.1:5000.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ImageTriggerInputError(f"image_trigger must be a dictionary, got {type(raw).__name__}")
    containers = raw.get("containers")
    if containers is not None:
        if not isinstance(containers, list) or not containers:
            raise ImageTriggerInputError(
                "image_trigger.containers must be a non-empty list of container names"
            )
        containers = tuple(_text(name, "image_trigger.containers[]") for name in containers)
    registries: List[RegistryOption] = []
    for index, entry in enumerate(raw.get("registries") or []):
        what = f"image_trigger.registries[{index}]"
        if not isinstance(entry, dict):
            raise ImageTriggerInputError(f"{what} must be a dictionary with host and url")
        host, url = _text(entry.get("host"), f"{what}.host"), _text(entry.get("url"), f"{what}.url")
        scheme, _sep, rest = url.partition("://")
        if scheme not in ("http", "https") or not rest.strip("/"):
            raise ImageTriggerInputError(
                f"{what}.url must be an http:// or https:// URL of the registry, got {url!r}"
            )
        username, password = entry.get("username"), entry.get("password")
        if (username is None) != (password is None):
            raise ImageTriggerInputError(f"{what}: give username and password together")
        registries.append(
            RegistryOption(
                host=host,
                url=url.rstrip("/"),
                insecure=bool(entry.get("insecure")),
                username=username,
                password=password,
            )
        )
    hosts = [entry.host for entry in registries]
    doubled = sorted({host for host in hosts if hosts.count(host) > 1})
    if doubled:
        raise ImageTriggerInputError(f"image_trigger.registries names {', '.join(doubled)} more than once")
    timeout = raw.get("timeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise ImageTriggerInputError(f"image_trigger.timeout must be more than 0 seconds, got {timeout!r}")
    return TriggerOptions(
        containers=containers,
        registries=tuple(registries),
        docker_config=raw.get("docker_config") or None,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Target:
    """A container whose tag is followed: its image as the task gives it, parsed."""

    container: str
    image: str
    reference: ImageReference


def targets(template: Any, containers: Optional[Tuple[str, ...]], what: str) -> List[Target]:
    """The containers (init containers too) of ``template`` whose tag is followed.

    ``containers`` None: those whose image names a tag ("web:latest", "web:1@sha256:..."); an
    image pinned by digest alone, or without a tag, is left as it is. Named containers: each must
    exist and have an image that is not pinned by digest alone ("web" follows web:latest, as
    docker pulls it). Refused before anything is read from a registry.
    """
    images = images_of(template if isinstance(template, dict) else {})
    if containers is not None:
        unknown = [name for name in containers if name not in images]
        if unknown:
            raise ImageTriggerInputError(
                f"image_trigger.containers names {', '.join(unknown)}, which {what} does not have; "
                f"containers: {', '.join(images) or 'none'}. Nothing was changed"
            )
    found: List[Target] = []
    for name, image in images.items():
        if containers is not None and name not in containers:
            continue
        try:
            reference = parse_reference(image)
        except ImageReferenceError as exc:
            if containers is None:
                continue
            raise ImageTriggerInputError(f"container {name} of {what}: {exc}") from None
        if reference.tag is None:
            if containers is None:
                continue
            if reference.digest is not None:
                raise ImageTriggerInputError(
                    f"container {name} of {what} has image {image}, pinned by digest without a tag: "
                    "there is no tag to follow; give the image with its tag (images: "
                    f"{{{name}: {reference.name}:<tag>}})"
                )
        found.append(Target(name, image, reference))
    return found


def previous_digest(live_template: Any, target: Target) -> Optional[str]:
    """The digest the live container runs when it follows the same tag ("web:latest@sha256:x" -> x)."""
    image = images_of(live_template if isinstance(live_template, dict) else {}).get(target.container)
    if not image:
        return None
    try:
        live = parse_reference(image)
    except ImageReferenceError:
        return None
    if live.digest is None or live.tagged() != target.reference.tagged():
        return None
    return live.digest


def report(target: Target, previous: Optional[str], digest: str) -> Dict[str, Any]:
    """One entry of the result's image_trigger."""
    return {
        "container": target.container,
        "reference": target.reference.tagged(),
        "registry": target.reference.registry,
        "previous_digest": previous,
        "digest": digest,
        "image": target.reference.pinned(digest),
        "moved": previous != digest,
    }


def pull_secret_names(template: Any) -> List[str]:
    spec = template.get("spec") if isinstance(template, dict) else None
    secrets = spec.get("imagePullSecrets") if isinstance(spec, dict) else None
    return [
        str(entry["name"])
        for entry in secrets or []
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]
    ]


__all__ = [
    "DEFAULT_TIMEOUT",
    "ImageTriggerInputError",
    "RegistryOption",
    "Target",
    "TriggerOptions",
    "parse_options",
    "previous_digest",
    "pull_secret_names",
    "report",
    "targets",
]
