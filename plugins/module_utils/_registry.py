# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The edge to image registries: the only code that talks to one (the OCI distribution API, with
# ansible-core's open_url, urllib underneath). What it needs to know first is pure and tested by tables:
#
# - parse_reference(): an image reference as docker reads it. "nginx" is docker.io/library/nginx
#   with no tag (docker pulls :latest); "127.0.0.1:5000/app:v1" has a registry with a port (the
#   first part names a registry when it has a "." or a ":" or is "localhost");
#   "app:v1@sha256:<64 hex>" has both a tag and a digest, and the digest is what is pulled.
# - parse_challenge(): a WWW-Authenticate header, `Basic realm="x"` or
#   `Bearer realm="https://auth/token",service="registry",scope="repository:app:pull"`.
# - config_auths(): the `auths` of a docker config.json (or of a kubernetes.io/dockerconfigjson
#   Secret) as {registry host: Credentials}, keys such as "https://index.docker.io/v1/" made hosts.
#
# Registry.digest() then asks `HEAD /v2/<repository>/manifests/<tag>` for the
# Docker-Content-Digest header (GET when a HEAD answer lacks it): anonymous first, and on a 401
# with the challenge's scheme, basic credentials or a bearer token from the challenge's realm.
# Credentials are asked for only then, and never appear in a message.
import base64
import binascii
import hashlib
import json
import re
import urllib.error
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ansible.module_utils.urls import open_url  # type: ignore[import-untyped]

DEFAULT_REGISTRY = "docker.io"
# docker.io's registry API lives at another host than its name.
_API_HOSTS = {"docker.io": "registry-1.docker.io"}
# Names docker config.json files use for docker.io.
_DOCKER_IO_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io")

# Every manifest kind a tag may point to: an OCI index or manifest, a Docker manifest list or v2.
MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_HOST_RE = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


class ImageReferenceError(ValueError):
    """Not an image reference; the message says why."""


class RegistryError(Exception):
    """A registry could not say what a tag points to: unreachable, 401, 404 ... (no credentials in it)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ImageReference:
    """An image reference: ``name`` as written (without tag and digest), and its parts.

    ``registry`` "docker.io", ``repository`` "library/nginx" for "nginx"; ``tag`` None when the
    reference has none (docker's default is "latest", see ``tag_or_latest``).
    """

    name: str
    registry: str
    repository: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def tag_or_latest(self) -> str:
        return self.tag or "latest"

    def tagged(self) -> str:
        """The name with its tag, without any digest: what a trigger follows ("app:latest")."""
        return f"{self.name}:{self.tag_or_latest}"

    def pinned(self, digest: str) -> str:
        """The reference pulled by ``digest`` with its tag kept in sight: "app:latest@sha256:..."."""
        return f"{self.tagged()}@{digest}"


def parse_reference(text: str) -> ImageReference:
    """An image reference, read as docker reads one (distribution/reference's normalized names).

    "nginx" -> docker.io, library/nginx, no tag; "quay.io/org/app:1.2" -> quay.io, org/app, 1.2;
    "localhost:5000/app@sha256:..." -> localhost:5000, app, digest; "app:v1@sha256:..." -> both.
    """
    if not isinstance(text, str) or not text or text != text.strip():
        raise ImageReferenceError(f"{text!r} is not an image reference")
    rest, _sep, digest = text.partition("@")
    if digest and not _DIGEST_RE.match(digest):
        raise ImageReferenceError(f"{text!r} is not an image reference: the digest {digest!r} is malformed")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag: Optional[str] = None
    name = rest
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise ImageReferenceError(f"{text!r} is not an image reference: the tag {tag!r} is malformed")
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, remainder
        if not _HOST_RE.match(registry):
            raise ImageReferenceError(
                f"{text!r} is not an image reference: the registry {registry!r} is malformed"
            )
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    if not _REPOSITORY_RE.match(repository):
        raise ImageReferenceError(
            f"{text!r} is not an image reference: the repository {repository!r} must be lowercase "
            "letters, digits and separators"
        )
    return ImageReference(name=name, registry=registry, repository=repository, tag=tag, digest=digest or None)


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """A WWW-Authenticate header as (scheme in lowercase, parameters).

    'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"'
    -> ("bearer", {"realm": ..., "service": ..., "scope": ...}); 'Basic realm="Registry"' ->
    ("basic", {"realm": "Registry"}). Quoted values may hold commas and escaped quotes.
    """
    header = (header or "").strip()
    scheme, _sep, rest = header.partition(" ")
    params: Dict[str, str] = {}
    for match in re.finditer(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?', rest):
        value = match.group(2)
        params[match.group(1).lower()] = (
            re.sub(r"\\(.)", r"\1", value) if value is not None else match.group(3) or ""
        )
    return scheme.lower(), params


@dataclass(frozen=True)
class Credentials:
    """A user name and password for a registry, and where they came from (said in errors)."""

    username: str
    password: str
    source: str

    def __repr__(self) -> str:  # never the password, in any traceback
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def registry_host(key: str) -> str:
    """A docker config ``auths`` key as a registry host: "https://index.docker.io/v1/" -> "docker.io"."""
    host = key.strip()
    if "://" in host:
        host = urllib.parse.urlsplit(host).netloc or host
    host = host.split("/", 1)[0]
    return DEFAULT_REGISTRY if host in _DOCKER_IO_ALIASES else host


def config_auths(config: Any, source: str) -> Dict[str, Credentials]:
    """The credentials of a docker config.json (``{"auths": {...}}``), or of a legacy .dockercfg
    (the auths at the top), by registry host. An entry has ``auth`` (base64 "user:password") or
    ``username`` and ``password``; an entry with neither (an identity token, a credential helper's
    placeholder) is left out.
    """
    if not isinstance(config, dict):
        return {}
    auths: Dict[str, Any] = config["auths"] if isinstance(config.get("auths"), dict) else config
    found: Dict[str, Credentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict) or not isinstance(key, str):
            continue
        username, password = entry.get("username"), entry.get("password")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            username, _sep, password = decoded.partition(":")
        if isinstance(username, str) and isinstance(password, str) and username:
            found.setdefault(registry_host(key), Credentials(username, password, source))
    return found


@dataclass(frozen=True)
class Endpoint:
    """Where a registry host is reached: ``url`` ("https://quay.io", "http://127.0.0.1:5000")."""

    url: str
    insecure: bool = False


def default_endpoint(registry: str) -> Endpoint:
    return Endpoint(f"https://{_API_HOSTS.get(registry, registry)}")


# One HTTP exchange: (status, headers, body) for (method, url, headers); raises OSError when the
# registry is not reached. Injected in unit tests.
Transport = Callable[[str, str, Mapping[str, str]], Tuple[int, Mapping[str, str], bytes]]


def urllib_transport(timeout: float, insecure: bool = False) -> Transport:
    """HTTP with ansible-core's open_url (urllib underneath, the proxy variables honoured)."""

    def send(method: str, url: str, headers: Mapping[str, str]) -> Tuple[int, Mapping[str, str], bytes]:
        try:
            answer = open_url(
                url,
                method=method,
                headers=dict(headers),
                timeout=timeout,
                validate_certs=not insecure,
            )
            with answer:
                body = answer.read() if method != "HEAD" else b""
                return answer.status, dict(answer.headers.items()), body
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), b""

    return send


def _basic(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # plain dicts (tests) are case-sensitive; an HTTPMessage is not
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return str(value or "")


class Registry:
    """Resolves tags to digests. ``credentials(host)`` is called only when a registry asks for them."""

    def __init__(
        self,
        endpoint_for: Callable[[str], Endpoint],
        credentials: Callable[[str], Optional[Credentials]],
        transport_for: Callable[[Endpoint], Transport],
    ) -> None:
        self.endpoint_for = endpoint_for
        self.credentials = credentials
        self.transport_for = transport_for

    def digest(self, ref: ImageReference) -> str:
        """The digest ``ref``'s tag points to now (``sha256:...``); RegistryError otherwise."""
        endpoint = self.endpoint_for(ref.registry)
        where = f"image {ref.tagged()}: registry {ref.registry}"
        if endpoint.url.rstrip("/") != f"https://{ref.registry}":
            where += f" at {endpoint.url}"
        send = self.transport_for(endpoint)
        url = (
            f"{endpoint.url.rstrip('/')}/v2/{urllib.parse.quote(ref.repository)}/manifests/"
            f"{urllib.parse.quote(ref.tag_or_latest)}"
        )
        headers = {"Accept": MANIFEST_ACCEPT}

        def exchange(method: str, extra: Mapping[str, str]) -> Tuple[int, Mapping[str, str], bytes]:
            try:
                return send(method, url, {**headers, **extra})
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise RegistryError(f"{where}: not reachable ({reason})") from None

        status, answer, _body = exchange("HEAD", {})
        auth: Dict[str, str] = {}
        used: Optional[Credentials] = None
        if status == 401:
            scheme, params = parse_challenge(_header(answer, "WWW-Authenticate"))
            used = self.credentials(ref.registry)
            if scheme == "basic":
                if used is None:
                    raise RegistryError(
                        f"{where}: 401 Unauthorized, and no credentials for {ref.registry} (give "
                        "image_trigger.registries username and password, docker_config, or an "
                        "imagePullSecret of the pod template)",
                        401,
                    )
                auth = {"Authorization": _basic(used)}
            elif scheme == "bearer":
                auth = {"Authorization": "Bearer " + self._token(ref, params, used, where, send)}
            else:
                raise RegistryError(f"{where}: 401 Unauthorized with an unknown challenge {scheme!r}", 401)
            status, answer, _body = exchange("HEAD", auth)
        if status == 405 or (status == 200 and not _header(answer, "Docker-Content-Digest")):
            status, answer, body = exchange("GET", auth)
            if status == 200 and not _header(answer, "Docker-Content-Digest"):
                return "sha256:" + hashlib.sha256(body).hexdigest()
        if status in (401, 403):
            whose = f"the credentials from {used.source}" if used else "anonymous access"
            raise RegistryError(
                f"{where}: {status} {'Unauthorized' if status == 401 else 'Forbidden'}: {whose} refused",
                status,
            )
        if status == 404:
            raise RegistryError(f"{where}: 404, no such tag or repository ({ref.repository})", 404)
        if status != 200:
            raise RegistryError(f"{where}: unexpected HTTP status {status}", status)
        digest = _header(answer, "Docker-Content-Digest")
        if not _DIGEST_RE.match(digest):
            raise RegistryError(f"{where}: the Docker-Content-Digest {digest!r} is not a digest")
        return digest

    def _token(
        self,
        ref: ImageReference,
        params: Dict[str, str],
        credentials: Optional[Credentials],
        where: str,
        send: Transport,
    ) -> str:
        realm = params.get("realm")
        if not realm or urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{where}: 401 Unauthorized with a bearer challenge without a realm", 401)
        query = {"scope": params.get("scope") or f"repository:{ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": _basic(credentials)} if credentials else {}
        try:
            status, _headers, body = send("GET", url, headers)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise RegistryError(f"{where}: its token service {realm} is not reachable ({reason})") from None
        if status in (401, 403):
            whose = f"the credentials from {credentials.source}" if credentials else "anonymous access"
            raise RegistryError(f"{where}: {status} from its token service {realm}: {whose} refused", status)
        try:
            answer = json.loads(body.decode("utf-8"))
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, UnicodeDecodeError, AttributeError):
            token = None
        if status != 200 or not isinstance(token, str) or not token:
            raise RegistryError(f"{where}: its token service {realm} gave no token (HTTP {status})", status)
        return token


__all__ = [
    "DEFAULT_REGISTRY",
    "MANIFEST_ACCEPT",
    "Credentials",
    "Endpoint",
    "ImageReference",
    "ImageReferenceError",
    "Registry",
    "RegistryError",
    "config_auths",
    "default_endpoint",
    "parse_challenge",
    "parse_reference",
    "registry_host",
    "urllib_transport",
]
