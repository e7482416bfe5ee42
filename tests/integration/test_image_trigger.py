"""image_trigger: tags resolved to digests against the local cluster's real registry.

Each test has a repository of its own (openrollout/trig-<namespace>) whose `latest` it moves with
`openrollout-images tag` (hack/cluster/go/images/README.md), as a CI pipeline pushing a new build
would. The images are named registry.openrollout.test/..., the name containerd maps to the
registry on 127.0.0.1:<REGISTRY_PORT>; the module reaches it through image_trigger.registries.
Most pods are KWOK's (they pull nothing); one test runs the real node, whose containerd pulls by
the digest written. The basic-auth test starts registries of its own from the built binary.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _realnode import app_container, app_deployment, tools_dir
from _tasks import Task, run_tasks
from kubernetes import client
from test_hooks import hook, jobs
from test_rbac import Grants, documented_roles, without
from test_rollout import assert_ok, deployment, images, replica_sets

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_HOST = "registry.openrollout.test"


def registry_port() -> int:
    pairs = (line.split("=", 1) for line in (REPO_ROOT / ".cluster" / "ports.env").read_text().split())
    return int(dict(pairs)["REGISTRY_PORT"])


def tag(source: str, target: str, port: int | None = None) -> str:
    """Point ``target`` (repository:tag) at ``source``'s manifest; its digest."""
    out = subprocess.run(
        [
            str(tools_dir() / "openrollout-images"),
            "tag",
            "--registry",
            f"127.0.0.1:{port or registry_port()}",
            "--from",
            source,
            "--tag-as",
            target,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.split()[-1]


def registries(port: int | None = None, host: str = REGISTRY_HOST, **extra: Any) -> list[dict[str, Any]]:
    return [{"host": host, "url": f"http://127.0.0.1:{port or registry_port()}", **extra}]


def repository(namespace: str) -> str:
    return f"openrollout/trig-{namespace}"


def image(namespace: str) -> str:
    return f"{REGISTRY_HOST}/{repository(namespace)}:latest"


def moved(result: dict) -> list[tuple[str, str | None, str, bool]]:
    return [(e["container"], e["previous_digest"], e["digest"], e["moved"]) for e in result["image_trigger"]]


def test_latest_moves_rolls_out_once_per_new_digest(run_task, namespace, apps_v1, batch_v1):
    v1 = tag("openrollout/testapp:v1", f"{repository(namespace)}:latest")
    strategy = {"type": "Rolling", "rollingParams": {"pre": hook()}}
    args = {
        "definition": deployment(namespace, image=image(namespace), replicas=2),
        "strategy": strategy,
        "image_trigger": {"registries": registries()},
    }
    first = run_task("rollout", args)
    assert_ok(first, True)
    assert images(apps_v1, namespace) == [f"{image(namespace)}@{v1}"]
    assert moved(first) == [("app", None, v1, True)]
    assert first["image_trigger"][0]["reference"] == image(namespace)

    same = run_task("rollout", args)
    assert_ok(same, False)
    assert same["hooks"] == [] and moved(same) == [("app", v1, v1, False)]

    v2 = tag("openrollout/testapp:v2", f"{repository(namespace)}:latest")
    assert v2 != v1
    check = run_task("rollout", args, check=True, diff=True)
    assert_ok(check, True)
    assert moved(check) == [("app", v1, v2, True)]
    assert check["revision"] == 2
    after = check["diff"]["after"]["spec"]["template"]["spec"]["containers"][0]["image"]
    before = check["diff"]["before"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (before, after) == (f"{image(namespace)}@{v1}", f"{image(namespace)}@{v2}")
    assert images(apps_v1, namespace) == [f"{image(namespace)}@{v1}"]  # check mode wrote nothing

    second = run_task("rollout", args)
    assert_ok(second, True)
    assert second["revision"] == 2 and moved(second) == [("app", v1, v2, True)]
    assert [h["phase"] for h in second["hooks"]] == ["pre"]
    assert images(apps_v1, namespace) == [f"{image(namespace)}@{v2}"]
    assert "web-2-hook-pre" in jobs(batch_v1, namespace)

    third = run_task("rollout", args)
    assert_ok(third, False)
    assert third["hooks"] == [] and moved(third) == [("app", v2, v2, False)]
    assert len(replica_sets(apps_v1, namespace)) == 2


def test_name_mode_re_resolves_the_live_tag(run_task, namespace, apps_v1, kubectl):
    """The AWX-schedule case: no images, no definition; the live repo:tag@old is resolved again."""
    v1 = tag("openrollout/testapp:v1", f"{repository(namespace)}:latest")
    trigger = {"registries": registries()}
    created = run_task(
        "rollout",
        {"definition": deployment(namespace, image=image(namespace), replicas=2), "image_trigger": trigger},
    )
    assert_ok(created, True)

    by_name = {"name": "web", "namespace": namespace, "image_trigger": trigger}
    unchanged = run_task("rollout", by_name)
    assert_ok(unchanged, False)
    assert moved(unchanged) == [("app", v1, v1, False)]

    v3 = tag("openrollout/testapp:v3", f"{repository(namespace)}:latest")
    check = run_task("rollout", by_name, check=True)
    assert_ok(check, True)
    assert moved(check) == [("app", v1, v3, True)]
    rolled = run_task("rollout", by_name)
    assert_ok(rolled, True)
    assert rolled["revision"] == 2
    assert images(apps_v1, namespace) == [f"{image(namespace)}@{v3}"]
    assert_ok(run_task("rollout", by_name), False)
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace, "--revision", "2").stdout
    assert f"{image(namespace)}@{v3}" in history  # the tag is kept in the revision

    # images with a tag, in name mode: that tag is followed
    tag("openrollout/testapp:v1", f"{repository(namespace)}:stable")
    stable = run_task(
        "rollout", {**by_name, "images": {"app": f"{REGISTRY_HOST}/{repository(namespace)}:stable"}}
    )
    assert_ok(stable, True)
    assert images(apps_v1, namespace) == [f"{REGISTRY_HOST}/{repository(namespace)}:stable@{v1}"]


def test_registry_down_or_tag_missing_is_a_clear_error_and_nothing_changes(run_task, namespace, apps_v1):
    tag("openrollout/testapp:v1", f"{repository(namespace)}:latest")
    args = {
        "definition": deployment(namespace, image=image(namespace)),
        "image_trigger": {"registries": registries()},
    }
    assert_ok(run_task("rollout", args), True)
    before = apps_v1.read_namespaced_deployment("web", namespace).metadata.resource_version

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    down = run_task("rollout", {**args, "image_trigger": {"registries": registries(closed), "timeout": 5}})
    assert down["failed"] and down["changed"] is False
    assert down["msg"] == (
        f"image_trigger: image {image(namespace)}: registry {REGISTRY_HOST} at http://127.0.0.1:{closed}: "
        "not reachable ([Errno 111] Connection refused). Nothing was changed"
    )

    missing = run_task(
        "rollout",
        {**args, "definition": deployment(namespace, image=f"{REGISTRY_HOST}/{repository(namespace)}:nope")},
    )
    assert missing["failed"] and missing["changed"] is False
    assert f"registry {REGISTRY_HOST} at http://127.0.0.1:{registry_port()}: 404" in missing["msg"]
    assert f"{repository(namespace)}:nope" in missing["msg"]

    unknown = run_task(
        "rollout", {**args, "image_trigger": {"containers": ["nope"], "registries": registries()}}
    )
    assert unknown["failed"]
    assert unknown["msg"].startswith(
        f"image_trigger.containers names nope, which Deployment {namespace}/web does not have"
    )
    assert apps_v1.read_namespaced_deployment("web", namespace).metadata.resource_version == before


# --- a registry with basic auth (htpasswd) ------------------------------------------------

USER, PASSWORD = "trigger", "s3cret-registry-pw"
AUTH_HOST = "auth.openrollout.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bcrypt(password: str) -> str:
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # the standard library's, on Python < 3.13: libxcrypt's bcrypt
    except ImportError:
        pytest.skip("no bcrypt for the htpasswd file (Python's crypt module is gone)")
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    assert hashed and hashed.startswith("$2"), "crypt has no bcrypt here"
    return hashed


def _start_registry(tmp: Path, name: str, storage: Path, auth: str | None) -> tuple[subprocess.Popen, int]:
    """A registry serving ``storage``; ``auth`` its auth block (YAML flow), None for anonymous access."""
    port = _free_port()
    config = tmp / f"{name}.yml"
    lines = [
        "version: 0.1",
        "log: {level: warn, accesslog: {disabled: true}}",
        f"storage: {{filesystem: {{rootdirectory: {storage}}}}}",
        f"http: {{addr: '127.0.0.1:{port}', secret: openrollout-test-{name}}}",
    ]
    if auth is not None:
        lines.append(f"auth: {auth}")
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [str(tools_dir() / "registry"), "serve", str(config)],
        env={"OTEL_TRACES_EXPORTER": "none", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=(tmp / f"{name}.log").open("w"),
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                break
            raise
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(
                    f"registry {name} did not start: {(tmp / f'{name}.log').read_text()}"
                ) from None
            time.sleep(0.1)
    return process, port


@contextlib.contextmanager
def _secured_registry(tmp_path: Path, auth: str) -> Iterator[tuple[int, str]]:
    """A registry with ``auth`` holding openrollout/trig:latest (v1): its port, and v1's digest.

    openrollout-images pushes anonymously, so a second registry without auth, on the same storage,
    takes the push; the one with auth serves it."""
    storage = tmp_path / "storage"
    storage.mkdir()
    started = []
    try:
        plain, plain_port = _start_registry(tmp_path, "plain", storage, None)
        started.append(plain)
        # the source manifest has to be in this storage first: copy testapp:v1 over from the cluster's registry
        subprocess.run(
            [
                str(tools_dir() / "openrollout-images"),
                "push",
                "--registry",
                f"127.0.0.1:{plain_port}",
                "--binary",
                str(tools_dir() / "openrollout-testapp"),
                "--only",
                "v1",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digest = tag("openrollout/testapp:v1", "openrollout/trig:latest", plain_port)
        secured, port = _start_registry(tmp_path, "auth", storage, auth)
        started.append(secured)
        yield port, digest
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def auth_registry(tmp_path, namespace):
    """A registry with basic auth (htpasswd, bcrypt) holding trig:latest (v1): its port, and v1's digest."""
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    with _secured_registry(tmp_path, f"{{htpasswd: {{realm: openrollout-test, path: {htpasswd}}}}}") as found:
        yield found


def test_registry_with_basic_auth(run_task, namespace, apps_v1, core_v1, tmp_path, auth_registry):
    port, digest = auth_registry
    reference = f"{AUTH_HOST}/openrollout/trig:latest"
    body = deployment(namespace, image=reference)

    anonymous = run_task(
        "rollout", {"definition": body, "image_trigger": {"registries": registries(port, AUTH_HOST)}}
    )
    assert anonymous["failed"]
    assert (
        f"registry {AUTH_HOST} at http://127.0.0.1:{port}: 401 Unauthorized, and no credentials"
        in anonymous["msg"]
    )

    wrong = run_task(
        "rollout",
        {
            "definition": body,
            "image_trigger": {
                "registries": registries(port, AUTH_HOST, username=USER, password="not-" + PASSWORD)
            },
        },
    )
    assert wrong["failed"] and wrong["changed"] is False
    assert wrong["msg"] == (
        f"image_trigger: image {reference}: registry {AUTH_HOST} at http://127.0.0.1:{port}: 401 Unauthorized: "
        f"the credentials from image_trigger.registries ({AUTH_HOST}) refused. Nothing was changed"
    )
    assert PASSWORD not in wrong["_stdout"]
    with pytest.raises(client.ApiException):
        apps_v1.read_namespaced_deployment("web", namespace)

    given = run_task(
        "rollout",
        {
            "definition": body,
            "image_trigger": {"registries": registries(port, AUTH_HOST, username=USER, password=PASSWORD)},
        },
        diff=True,
    )
    assert_ok(given, True)
    assert images(apps_v1, namespace) == [f"{reference}@{digest}"]
    assert PASSWORD not in json.dumps(given)

    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {f"https://{AUTH_HOST}": {"auth": pair}}}))
    from_config = run_task(
        "rollout",
        {
            "definition": body,
            "image_trigger": {"registries": registries(port, AUTH_HOST), "docker_config": str(config)},
        },
    )
    assert_ok(from_config, False)
    assert from_config["image_trigger"][0]["digest"] == digest

    # the pod template's imagePullSecrets (kubernetes.io/dockerconfigjson)
    core_v1.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "pull"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {
                ".dockerconfigjson": base64.b64encode(
                    json.dumps({"auths": {AUTH_HOST: {"username": USER, "password": PASSWORD}}}).encode()
                ).decode()
            },
        },
    )
    with_secret = deployment(namespace, image=reference)
    with_secret["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "pull"}]
    from_secret = run_task(
        "rollout",
        {"definition": with_secret, "image_trigger": {"registries": registries(port, AUTH_HOST)}},
        diff=True,
    )
    assert_ok(from_secret, True)  # the template gained imagePullSecrets; the digest is the same
    assert from_secret["image_trigger"][0]["moved"] is False
    assert PASSWORD not in json.dumps(from_secret) and pair not in json.dumps(from_secret)


# --- a registry with token (Bearer) auth --------------------------------------------------

TOKEN_SERVICE, TOKEN_ISSUER = "openrollout-test-registry", "openrollout-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _TokenService:
    """A docker token service (the distribution token spec), as a registry's auth server: it checks
    Basic credentials and answers a JWT for the scope asked, signed ES256 by a self-signed
    certificate whose chain (x5c) the registry checks against its rootcertbundle."""

    def __init__(self, tmp: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openrollout test token service")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = tmp / "token-root.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.asked: list[tuple[str, dict[str, list[str]]]] = []  # (Authorization, query)
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                given = self.headers.get("Authorization", "")
                service.asked.append((given, query))
                pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if given != f"Basic {pair}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": service.token(query)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, query: dict[str, list[str]]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": USER,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def auth(self) -> str:
        return (
            f"{{token: {{realm: '{self.realm}', service: {TOKEN_SERVICE}, issuer: {TOKEN_ISSUER}, "
            f"rootcertbundle: {self.bundle}}}}}"
        )


def test_registry_with_token_auth(run_task, namespace, apps_v1, tmp_path):
    """Bearer: the registry's 401 names its token service; the module gets a token there (with the
    credentials, or none) and asks again with it, as docker pull does."""
    pytest.importorskip("cryptography")
    tokens = _TokenService(tmp_path)
    try:
        with _secured_registry(tmp_path, tokens.auth()) as (port, digest):
            reference = f"{AUTH_HOST}/openrollout/trig:latest"
            body = deployment(namespace, image=reference)
            # The registry checks the tokens: one it did not get from its service is refused.
            forged = urllib.request.Request(
                f"http://127.0.0.1:{port}/v2/openrollout/trig/manifests/latest",
                headers={"Authorization": "Bearer " + _b64url(b"{}") + "." + _b64url(b"{}") + ".x"},
                method="HEAD",
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(forged, timeout=5)
            assert refused.value.code == 401

            anonymous = run_task(
                "rollout", {"definition": body, "image_trigger": {"registries": registries(port, AUTH_HOST)}}
            )
            assert anonymous["failed"] and anonymous["changed"] is False
            assert anonymous["msg"] == (
                f"image_trigger: image {reference}: registry {AUTH_HOST} at http://127.0.0.1:{port}: "
                f"401 from its token service {tokens.realm}: anonymous access refused. Nothing was changed"
            )
            assert tokens.asked[-1] == (
                "",
                {"scope": ["repository:openrollout/trig:pull"], "service": [TOKEN_SERVICE]},
            )

            given = run_task(
                "rollout",
                {
                    "definition": body,
                    "image_trigger": {
                        "registries": registries(port, AUTH_HOST, username=USER, password=PASSWORD)
                    },
                },
            )
            assert_ok(given, True)
            assert given["image_trigger"][0]["digest"] == digest
            assert images(apps_v1, namespace) == [f"{reference}@{digest}"]
            assert tokens.asked[-1][0].startswith("Basic ")
            assert PASSWORD not in json.dumps(given)
    finally:
        tokens.server.shutdown()
        tokens.server.server_close()


def test_the_documented_role_reads_pull_secrets(auth_registry, k8s_api, cluster, namespace, core_v1, apps_v1):
    """docs/rbac.md's rollout-image-trigger Role, as test_rbac proves the others: it is enough, and
    without get on secrets the task fails naming it, before anything is written."""
    port, digest = auth_registry
    grants = Grants(k8s_api, namespace)
    rules = documented_roles()["rollout-image-trigger"]
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = {
        "host": kubeconfig["clusters"][0]["cluster"]["server"],
        "ca_cert": str(Path(cluster.kubeconfig).parent / "pki" / "ca.crt"),
    }
    pull = json.dumps({"auths": {AUTH_HOST: {"username": USER, "password": PASSWORD}}}).encode()
    core_v1.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "pull"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(pull).decode()},
        },
    )
    reference = f"{AUTH_HOST}/openrollout/trig:latest"
    body = deployment(namespace, image=reference)
    body["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "pull"}]
    args = {
        "namespace": namespace,
        **server,
        "definition": body,
        "image_trigger": {"registries": registries(port, AUTH_HOST)},
    }
    no_get = "image-trigger-no-get-secrets"
    run = run_tasks(
        [
            Task("rollout", {**args, "api_key": grants.token(no_get, without(rules, "secrets", "get"))}),
            Task("rollout", {**args, "api_key": grants.token("image-trigger", rules)}),
        ]
    )
    refused, rolled = run.results
    assert refused["failed"] and refused["changed"] is False
    assert (
        f"forbidden: needs get on secrets in namespace {namespace} "
        f"(user system:serviceaccount:{namespace}:{no_get})" in refused["msg"]
    ), refused["msg"]
    assert "imagePullSecret pull" in refused["msg"]
    assert not rolled.get("failed"), rolled.get("msg")
    assert rolled["changed"] is True and rolled["image_trigger"][0]["digest"] == digest
    assert images(apps_v1, namespace) == [f"{reference}@{digest}"]
    assert PASSWORD not in run.output


def test_the_real_node_pulls_the_digest(run_task, namespace, core_v1, apps_v1, real_node):
    v1 = tag("openrollout/testapp:v1", f"{repository(namespace)}:latest")
    container = app_container(image=image(namespace))
    args = {
        "definition": app_deployment(namespace, replicas=1, container=container),
        "image_trigger": {"registries": registries()},
        "wait_timeout": 180,
    }
    assert_ok(run_task("rollout", args), True)
    v2 = tag("openrollout/testapp:v2", f"{repository(namespace)}:latest")
    rolled = run_task("rollout", args)
    assert_ok(rolled, True)
    assert moved(rolled) == [("app", v1, v2, True)]
    pods = [
        pod
        for pod in core_v1.list_namespaced_pod(namespace, label_selector="app=web").items
        if pod.metadata.deletion_timestamp is None and pod.status.phase == "Running"
    ]
    assert [pod.spec.containers[0].image for pod in pods] == [f"{image(namespace)}@{v2}"]
    statuses = pods[0].status.container_statuses
    assert statuses[0].ready and statuses[0].image_id.endswith(f"@{v2}"), statuses[0].image_id


# --- playbooks/image_trigger.yml as an AWX schedule runs it -------------------------------


def _run_schedule(tmp_path: Path, cluster: Any, extravars: dict[str, Any]) -> Any:
    """One scheduled job: ansible-runner with extra vars only, the cluster from K8S_AUTH_KUBECONFIG (as
    test_ansible_runner does for deploy.yml)."""
    ansible_runner = pytest.importorskip("ansible_runner")
    job_dir = tmp_path / f"job{len(list(tmp_path.glob('job*')))}"
    job_dir.mkdir()
    return ansible_runner.run(
        private_data_dir=str(job_dir),
        project_dir=str(REPO_ROOT / "playbooks"),
        playbook="image_trigger.yml",
        extravars=extravars,
        envvars={
            "K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "build"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        },
        quiet=True,
        timeout=600,
    )


def _job_result(job: Any) -> tuple[dict[str, Any], str]:
    """The rollout task's result and the message of the report task."""
    assert (job.status, job.rc) == ("successful", 0), "\n".join(job.stdout.read().splitlines()[-40:])
    ok = [e["event_data"] for e in job.events if e.get("event") == "runner_on_ok"]
    [rollout] = [e["res"] for e in ok if e.get("task_action") == "openrollout.k8s.rollout"]
    [report] = [e["res"]["msg"] for e in ok if e.get("task") == "Say which tag moved"]
    return rollout, report


def test_the_awx_schedule_playbook_rolls_out_when_latest_moves(
    run_task, namespace, apps_v1, cluster, tmp_path, monkeypatch
):
    # ansible-runner runs the ansible-playbook it finds on PATH: the venv's, as in an execution environment.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    v1 = tag("openrollout/testapp:v1", f"{repository(namespace)}:latest")
    created = run_task(
        "rollout",
        {
            "definition": deployment(namespace, image=image(namespace)),
            "image_trigger": {"registries": registries()},
        },
    )
    assert_ok(created, True)
    extravars = {
        "image_trigger_name": "web",
        "image_trigger_namespace": namespace,
        "image_trigger_registries": registries(),
    }

    rollout, report = _job_result(_run_schedule(tmp_path, cluster, extravars))
    assert rollout["changed"] is False and moved(rollout) == [("app", v1, v1, False)]
    assert report == f"{namespace}/web: no tag moved; revision 1"

    v2 = tag("openrollout/testapp:v2", f"{repository(namespace)}:latest")
    rollout, report = _job_result(
        _run_schedule(tmp_path, cluster, {**extravars, "image_trigger_check": True})
    )
    assert rollout["changed"] is True and moved(rollout) == [("app", v1, v2, True)]
    assert report == f"{namespace}/web: {image(namespace)} moved from {v1} to {v2}; revision 2 (check mode)"
    assert images(apps_v1, namespace) == [f"{image(namespace)}@{v1}"]  # check mode wrote nothing

    rollout, report = _job_result(_run_schedule(tmp_path, cluster, extravars))
    assert rollout["changed"] is True and rollout["revision"] == 2
    assert report == f"{namespace}/web: {image(namespace)} moved from {v1} to {v2}; revision 2"
    assert images(apps_v1, namespace) == [f"{image(namespace)}@{v2}"]

    job = _run_schedule(tmp_path, cluster, extravars)
    rollout, report = _job_result(job)
    assert job.stats["changed"] == {} and report == f"{namespace}/web: no tag moved; revision 2"

    # A schedule without the Deployment's name fails before anything is asked.
    missing = _run_schedule(tmp_path, cluster, {"image_trigger_namespace": namespace})
    assert (missing.status, missing.rc) == ("failed", 2)
