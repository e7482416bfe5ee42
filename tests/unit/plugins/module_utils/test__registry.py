# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._registry import (
    MANIFEST_ACCEPT,
    Credentials,
    Endpoint,
    ImageReferenceError,
    Registry,
    RegistryError,
    config_auths,
    default_endpoint,
    parse_challenge,
    parse_reference,
    registry_host,
)

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "tagged"),
    [
        ("nginx", "docker.io", "library/nginx", None, None, "nginx:latest"),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None, "nginx:1.27"),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None, "bitnami/redis:7"),
        ("docker.io/nginx:1", "docker.io", "library/nginx", "1", None, "docker.io/nginx:1"),
        (
            "index.docker.io/library/nginx",
            "docker.io",
            "library/nginx",
            None,
            None,
            "index.docker.io/library/nginx:latest",
        ),
        ("quay.io/org/app:v1", "quay.io", "org/app", "v1", None, "quay.io/org/app:v1"),
        ("localhost/app:dev", "localhost", "app", "dev", None, "localhost/app:dev"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None, "127.0.0.1:5000/app:latest"),
        (
            "registry.example:5000/a/b/c:1.0-rc_1",
            "registry.example:5000",
            "a/b/c",
            "1.0-rc_1",
            None,
            "registry.example:5000/a/b/c:1.0-rc_1",
        ),
        (f"app@{DIGEST}", "docker.io", "library/app", None, DIGEST, "app:latest"),
        (
            f"registry.example/web:latest@{DIGEST}",
            "registry.example",
            "web",
            "latest",
            DIGEST,
            "registry.example/web:latest",
        ),
        (f"localhost:5000/web:v2@{DIGEST}", "localhost:5000", "web", "v2", DIGEST, "localhost:5000/web:v2"),
    ],
)
def test_parse_reference_like_docker(text, registry, repository, tag, digest, tagged):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest, ref.tagged()) == (
        registry,
        repository,
        tag,
        digest,
        tagged,
    )
    assert ref.pinned(OTHER) == f"{tagged}@{OTHER}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not an image reference"),
        (" nginx", "is not an image reference"),
        ("Nginx:1", "must be lowercase"),
        ("nginx:bad tag", "the tag 'bad tag' is malformed"),
        ("nginx@sha256:xyz", "the digest 'sha256:xyz' is malformed"),
        ("a..b.example/app", "the registry"),
    ],
)
def test_parse_reference_refuses(text, message):
    with pytest.raises(ImageReferenceError, match=message):
        parse_reference(text)


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/nginx:pull",
            },
        ),
        (
            'Bearer realm="https://r.example/token", scope="repository:a:pull,push", error="insufficient_scope"',
            "bearer",
            {
                "realm": "https://r.example/token",
                "scope": "repository:a:pull,push",
                "error": "insufficient_scope",
            },
        ),
        ('Basic realm="say \\"hi\\""', "basic", {"realm": 'say "hi"'}),
        (
            "Bearer realm=https://r.example/token,service=r",
            "bearer",
            {"realm": "https://r.example/token", "service": "r"},
        ),
        ("", "", {}),
    ],
)
def test_parse_challenge(header, scheme, params):
    assert parse_challenge(header) == (scheme, params)


def _auth(user, password):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_config_auths_hosts_and_forms():
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": _auth("hub", "p1")},
            "registry.example:5000": {"username": "u", "password": "p:with:colons"},
            "http://quay.io": {"auth": _auth("q", "p:2")},
            "token.example": {"identitytoken": "x"},
            "broken.example": {"auth": "%%%"},
        },
        "credsStore": "desktop",
    }
    found = config_auths(config, "docker_config /x")
    assert {host: (c.username, c.password) for host, c in found.items()} == {
        "docker.io": ("hub", "p1"),
        "registry.example:5000": ("u", "p:with:colons"),
        "quay.io": ("q", "p:2"),
    }
    assert found["docker.io"].source == "docker_config /x"
    assert "p1" not in repr(found["docker.io"])
    # A legacy .dockercfg has the auths at the top.
    assert set(config_auths({"registry.example": {"auth": _auth("a", "b")}}, "s")) == {"registry.example"}
    assert config_auths("nope", "s") == {}


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry.example/v2/", "registry.example"),
        ("h:5000", "h:5000"),
    ],
)
def test_registry_host(key, host):
    assert registry_host(key) == host


def test_default_endpoint():
    assert default_endpoint("docker.io") == Endpoint("https://registry-1.docker.io")
    assert default_endpoint("quay.io") == Endpoint("https://quay.io")


class FakeRegistry:
    """A scripted registry: answers by (method, url prefix); records what was asked."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = []

    def __call__(self, method, url, headers):
        self.asked.append((method, url, dict(headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def registry(fake, credentials=None):
    return Registry(
        lambda host: Endpoint("http://127.0.0.1:5000"), lambda host: credentials, lambda endpoint: fake
    )


REF = parse_reference("registry.example/web:latest")
CREDS = Credentials("alice", "s3cret", "image_trigger.registries (registry.example)")


def test_anonymous_head_gives_the_digest():
    fake = FakeRegistry([(200, {"Docker-Content-Digest": DIGEST}, b"")])
    assert registry(fake).digest(REF) == DIGEST
    method, url, headers = fake.asked[0]
    assert (method, url) == ("HEAD", "http://127.0.0.1:5000/v2/web/manifests/latest")
    assert headers == {"Accept": MANIFEST_ACCEPT}


def test_get_when_head_lacks_the_digest_header():
    body = json.dumps({"schemaVersion": 2}).encode()
    fake = FakeRegistry([(200, {}, b""), (200, {"docker-content-digest": DIGEST}, body)])
    assert registry(fake).digest(REF) == DIGEST
    fake = FakeRegistry([(200, {}, b""), (200, {}, b"manifest")])
    import hashlib

    assert registry(fake).digest(REF) == "sha256:" + hashlib.sha256(b"manifest").hexdigest()


def test_basic_challenge_is_answered_with_the_credentials():
    fake = FakeRegistry(
        [(401, {"WWW-Authenticate": 'Basic realm="r"'}, b""), (200, {"Docker-Content-Digest": DIGEST}, b"")]
    )
    assert registry(fake, CREDS).digest(REF) == DIGEST
    assert fake.asked[1][2]["Authorization"] == "Basic " + _auth("alice", "s3cret")


def test_bearer_challenge_gets_a_token_from_the_realm():
    fake = FakeRegistry(
        [
            (401, {"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="reg"'}, b""),
            (200, {}, json.dumps({"token": "tok"}).encode()),
            (200, {"Docker-Content-Digest": DIGEST}, b""),
        ]
    )
    assert registry(fake, CREDS).digest(REF) == DIGEST
    method, url, headers = fake.asked[1]
    assert method == "GET"
    assert url == "https://auth.example/token?scope=repository%3Aweb%3Apull&service=reg"
    assert headers["Authorization"] == "Basic " + _auth("alice", "s3cret")
    assert fake.asked[2][2]["Authorization"] == "Bearer tok"


def test_bearer_anonymous_token():
    fake = FakeRegistry(
        [
            (
                401,
                {"www-authenticate": 'Bearer realm="https://auth.example/token",scope="repository:web:pull"'},
                b"",
            ),
            (200, {}, json.dumps({"access_token": "anon"}).encode()),
            (200, {"Docker-Content-Digest": DIGEST}, b""),
        ]
    )
    assert registry(fake).digest(REF) == DIGEST
    assert "Authorization" not in fake.asked[1][2]


@pytest.mark.parametrize(
    ("answers", "credentials", "message", "status"),
    [
        (
            [OSError("[Errno 111] Connection refused")],
            None,
            "at http://127.0.0.1:5000: not reachable ([Errno 111] Connection refused)",
            None,
        ),
        ([(404, {}, b"")], None, "404, no such tag or repository (web)", 404),
        (
            [(401, {"WWW-Authenticate": 'Basic realm="r"'}, b"")],
            None,
            "401 Unauthorized, and no credentials for registry.example",
            401,
        ),
        (
            [
                (401, {"WWW-Authenticate": 'Basic realm="r"'}, b""),
                (401, {"WWW-Authenticate": 'Basic realm="r"'}, b""),
            ],
            CREDS,
            "401 Unauthorized: the credentials from image_trigger.registries (registry.example) refused",
            401,
        ),
        (
            [(401, {"WWW-Authenticate": 'Bearer realm="https://a/t"'}, b""), (401, {}, b"")],
            CREDS,
            "401 from its token service https://a/t: the credentials from image_trigger.registries",
            401,
        ),
        ([(401, {"WWW-Authenticate": "Negotiate"}, b"")], None, "unknown challenge 'negotiate'", 401),
        ([(500, {}, b"")], None, "unexpected HTTP status 500", 500),
        ([(200, {"Docker-Content-Digest": "md5:x"}, b"")], None, "is not a digest", None),
    ],
)
def test_failures_name_the_image_and_registry_and_never_the_password(answers, credentials, message, status):
    with pytest.raises(RegistryError) as raised:
        registry(FakeRegistry(answers), credentials).digest(REF)
    text = str(raised.value)
    assert text.startswith("image registry.example/web:latest: registry registry.example")
    assert message in text
    assert raised.value.status == status
    assert "s3cret" not in text and _auth("alice", "s3cret") not in text
