# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._deploymentconfig import convert
from ansible_collections.openrollout.k8s.plugins.module_utils._image_resolution import (
    ImageTriggerError,
    resolve,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._image_trigger import (
    ImageTriggerInputError,
    RegistryOption,
    TriggerOptions,
    parse_options,
    previous_digest,
    pull_secret_names,
    report,
    targets,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._registry import parse_reference
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import RolloutInputError, build_request

OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64


def template(*containers, init=(), pull_secrets=()):
    spec = {"containers": [{"name": n, "image": i} for n, i in containers]}
    if init:
        spec["initContainers"] = [{"name": n, "image": i} for n, i in init]
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    return {"metadata": {"labels": {"app": "web"}}, "spec": spec}


def test_parse_options():
    assert parse_options(None) is None
    assert parse_options({}) == TriggerOptions(containers=None)
    options = parse_options(
        {
            "containers": ["app"],
            "registries": [
                {"host": "r.example", "url": "http://127.0.0.1:5000/", "username": "u", "password": "p"}
            ],
            "docker_config": "/x/config.json",
            "timeout": 5,
        }
    )
    assert options == TriggerOptions(
        containers=("app",),
        registries=(RegistryOption("r.example", "http://127.0.0.1:5000", False, "u", "p"),),
        docker_config="/x/config.json",
        timeout=5,
    )
    assert "p" not in repr(options.registries[0]).split("username")[1].replace("'u'", "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "image_trigger must be a dictionary"),
        ({"containers": []}, "non-empty list"),
        ({"containers": [""]}, r"image_trigger.containers\[\] must be a non-empty string"),
        ({"registries": [{"host": "h"}]}, r"image_trigger.registries\[0\].url must be a non-empty string"),
        ({"registries": [{"host": "h", "url": "127.0.0.1:5000"}]}, "must be an http:// or https:// URL"),
        (
            {"registries": [{"host": "h", "url": "http://x", "username": "u"}]},
            "username and password together",
        ),
        (
            {"registries": [{"host": "h", "url": "http://x"}, {"host": "h", "url": "http://y"}]},
            "names h more than once",
        ),
        ({"timeout": 0}, "more than 0 seconds"),
    ],
)
def test_parse_options_refuses(raw, message):
    with pytest.raises(ImageTriggerInputError, match=message):
        parse_options(raw)


def test_targets_default_to_tagged_images():
    tmpl = template(
        ("app", "r.example/web:latest"),
        ("pinned", f"r.example/side@{OLD}"),
        ("untagged", "busybox"),
        ("both", f"r.example/web:v1@{OLD}"),
        init=[("migrate", "r.example/migrate:latest")],
    )
    assert [(t.container, t.reference.tagged()) for t in targets(tmpl, None, "Deployment a/web")] == [
        ("app", "r.example/web:latest"),
        ("both", "r.example/web:v1"),
        ("migrate", "r.example/migrate:latest"),
    ]


def test_named_containers():
    tmpl = template(("app", "r.example/web"), ("side", f"r.example/side@{OLD}"))
    assert [t.reference.tagged() for t in targets(tmpl, ("app",), "x")] == ["r.example/web:latest"]
    with pytest.raises(
        ImageTriggerInputError,
        match="names nope, which Deployment a/web does not have; containers: app, side",
    ):
        targets(tmpl, ("nope",), "Deployment a/web")
    with pytest.raises(ImageTriggerInputError, match="pinned by digest without a tag"):
        targets(tmpl, ("side",), "x")


def test_previous_digest_only_for_the_same_tag():
    target = targets(template(("app", "r.example/web:latest")), None, "x")[0]
    assert previous_digest(template(("app", f"r.example/web:latest@{OLD}")), target) == OLD
    assert previous_digest(template(("app", f"r.example/web:v1@{OLD}")), target) is None
    assert previous_digest(template(("app", "r.example/web:latest")), target) is None
    assert previous_digest(None, target) is None
    entry = report(target, OLD, NEW)
    assert entry == {
        "container": "app",
        "reference": "r.example/web:latest",
        "registry": "r.example",
        "previous_digest": OLD,
        "digest": NEW,
        "image": f"r.example/web:latest@{NEW}",
        "moved": True,
    }
    assert report(target, NEW, NEW)["moved"] is False


def test_pull_secret_names():
    assert pull_secret_names(template(("a", "b:1"), pull_secrets=["one", "two"])) == ["one", "two"]
    assert pull_secret_names({}) == []


def deployment(image="r.example/web:latest", **spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(("app", image)), **spec},
    }


def test_build_request_takes_image_trigger_alone_in_name_mode():
    request = build_request({"name": "web", "namespace": "shop", "image_trigger": {}})
    assert request.image_trigger == TriggerOptions(containers=None)
    with pytest.raises(RolloutInputError, match="give images, replicas, strategy"):
        build_request({"name": "web", "namespace": "shop"})
    with pytest.raises(RolloutInputError, match=r"image_trigger\.timeout"):
        build_request({"name": "web", "image_trigger": {"timeout": -1}})


def dc(triggers, image=" "):
    pods = template(("web", image), ("side", "r.example/side:1"))
    pods["metadata"]["labels"]["deploymentconfig"] = "web"  # as oc new-app writes it: no pod-label warning
    return {
        "apiVersion": "apps.openshift.io/v1",
        "kind": "DeploymentConfig",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "template": pods, "triggers": triggers},
    }


DOCKER_TRIGGER = {
    "type": "ImageChange",
    "imageChangeParams": {
        "containerNames": ["web"],
        "from": {"kind": "DockerImage", "name": "r.example/web:latest"},
    },
}
STREAM_TRIGGER = {
    "type": "ImageChange",
    "imageChangeParams": {
        "containerNames": ["web"],
        "from": {"kind": "ImageStreamTag", "name": "web:latest"},
    },
}


def test_dc_docker_image_trigger_is_kept_apart():
    converted = convert(dc([DOCKER_TRIGGER]))
    assert converted.docker_image_triggers == [("r.example/web:latest", ["web"])]
    assert converted.image_triggers == []


def test_dc_docker_image_trigger_maps_to_image_trigger():
    request = build_request({"definition": dc([DOCKER_TRIGGER]), "image_trigger": {}})
    assert request.image_trigger.containers == ("web",)
    containers = request.body["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "r.example/web:latest"
    assert request.creation_warnings == ()
    # images wins over the trigger's reference
    request = build_request(
        {"definition": dc([DOCKER_TRIGGER]), "image_trigger": {}, "images": {"web": "r.example/web:v9"}}
    )
    assert request.body["spec"]["template"]["spec"]["containers"][0]["image"] == "r.example/web:v9"
    # the task's containers win over the trigger's
    request = build_request({"definition": dc([DOCKER_TRIGGER]), "image_trigger": {"containers": ["side"]}})
    assert request.image_trigger.containers == ("side",)


def test_dc_docker_image_trigger_without_image_trigger_warns():
    request = build_request({"definition": dc([DOCKER_TRIGGER], image="r.example/web:1")})
    assert request.image_trigger is None
    assert len(request.creation_warnings) == 1
    assert "is followed only with the image_trigger option" in request.creation_warnings[0]


def test_dc_image_stream_tag_trigger_stays_unsupported_with_the_way_out():
    request = build_request(
        {"definition": dc([STREAM_TRIGGER], image="r.example/web:1"), "image_trigger": {}}
    )
    assert request.image_trigger.containers is None
    (warning,) = request.creation_warnings
    assert warning.startswith("ImageChange trigger (web:latest -> web) is not supported")
    assert "image_trigger: {} with images: {web: <registry>/<repository>:latest}" in warning
    request = build_request(
        {"definition": dc([STREAM_TRIGGER]), "image_trigger": {}, "images": {"web": "r.example/web:latest"}}
    )
    assert request.creation_warnings == ()
    assert request.image_trigger.containers == ("web",)


class FakeClient:
    def __init__(self, objects):
        self.objects = objects
        self.reads = []

    def get(self, what, resource, namespace, name):
        self.reads.append((resource.plural, name))
        return self.objects.get((resource.plural, name))

    def not_found(self, what, namespace, hint=""):
        return f"{what} not found{hint}"


class Answers:
    """A transport: the digest per repository path, or 401 without the right Basic credentials."""

    def __init__(self, digests, password=None):
        self.digests, self.password = digests, password
        self.asked = []

    def __call__(self, endpoint):
        def send(method, url, headers):
            self.asked.append((endpoint.url, url))
            if self.password is not None:
                wanted = "Basic " + base64.b64encode(f"u:{self.password}".encode()).decode()
                if headers.get("Authorization") != wanted:
                    return 401, {"WWW-Authenticate": 'Basic realm="r"'}, b""
            for path, digest in self.digests.items():
                if url.endswith(path):
                    return 200, {"Docker-Content-Digest": digest}, b""
            return 404, {}, b""

        return send


def live(image):
    return {("deployments", "web"): deployment(image)}


def test_resolve_definition_mode_pins_and_reports():
    request = build_request({"definition": deployment(), "image_trigger": {}})
    client = FakeClient(live(f"r.example/web:latest@{OLD}"))
    pinned, entries, warnings = resolve(client, request, Answers({"/v2/web/manifests/latest": NEW}))
    assert pinned.body["spec"]["template"]["spec"]["containers"][0]["image"] == f"r.example/web:latest@{NEW}"
    assert (
        request.body["spec"]["template"]["spec"]["containers"][0]["image"] == "r.example/web:latest"
    )  # not mutated
    assert [(e["previous_digest"], e["digest"], e["moved"]) for e in entries] == [(OLD, NEW, True)]
    assert warnings == []


def test_resolve_name_mode_follows_the_live_tag():
    request = build_request({"name": "web", "namespace": "shop", "image_trigger": {}})
    client = FakeClient(live(f"r.example/web:latest@{OLD}"))
    pinned, entries, _warnings = resolve(client, request, Answers({"/v2/web/manifests/latest": OLD}))
    assert pinned.images == {"app": f"r.example/web:latest@{OLD}"}
    assert entries[0]["moved"] is False


def test_resolve_name_mode_missing_workload():
    request = build_request({"name": "web", "namespace": "shop", "image_trigger": {}})
    with pytest.raises(ImageTriggerError, match="Deployment shop/web not found; give its definition"):
        resolve(FakeClient({}), request, Answers({}))


def test_resolve_refuses_unknown_container_before_any_registry():
    request = build_request({"name": "web", "namespace": "shop", "image_trigger": {"containers": ["nope"]}})
    answers = Answers({})
    with pytest.raises(ImageTriggerError, match="names nope, which Deployment shop/web does not have"):
        resolve(FakeClient(live("r.example/web:latest")), request, answers)
    assert answers.asked == []


def test_resolve_uses_registries_url_and_pull_secrets():
    secret = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {
            ".dockerconfigjson": base64.b64encode(
                json.dumps({"auths": {"r.example": {"username": "u", "password": "pw"}}}).encode()
            ).decode()
        },
    }
    body = deployment()
    body["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "pull"}, {"name": "gone"}]
    request = build_request(
        {
            "definition": body,
            "image_trigger": {"registries": [{"host": "r.example", "url": "http://127.0.0.1:9"}]},
        }
    )
    client = FakeClient({("secrets", "pull"): secret})
    answers = Answers({"/v2/web/manifests/latest": NEW}, password="pw")
    _pinned, entries, warnings = resolve(client, request, answers)
    assert entries[0]["digest"] == NEW and entries[0]["previous_digest"] is None
    assert {asked[0] for asked in answers.asked} == {"http://127.0.0.1:9"}
    assert ("secrets", "pull") in client.reads
    assert warnings == ["imagePullSecret shop/gone not found: skipped"]


def test_resolve_pull_secrets_read_only_on_401():
    body = deployment()
    body["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "pull"}]
    request = build_request({"definition": body, "image_trigger": {}})
    client = FakeClient({})
    resolve(client, request, Answers({"/v2/web/manifests/latest": NEW}))
    assert client.reads == [("deployments", "web")]


def test_resolve_wrong_password_never_in_the_message(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"auths": {"r.example": {"auth": base64.b64encode(b"u:wrong-pw").decode()}}})
    )
    request = build_request({"definition": deployment(), "image_trigger": {"docker_config": str(config)}})
    with pytest.raises(ImageTriggerError) as raised:
        resolve(FakeClient({}), request, Answers({"/v2/web/manifests/latest": NEW}, password="pw"))
    message = str(raised.value)
    assert "401 Unauthorized: the credentials from docker_config" in message
    assert message.endswith("Nothing was changed")
    assert "wrong-pw" not in message and raised.value.result["changed"] is False


def test_resolve_nothing_to_follow_warns():
    request = build_request({"definition": deployment(f"r.example/web@{OLD}"), "image_trigger": {}})
    pinned, entries, warnings = resolve(FakeClient({}), request, Answers({}))
    assert pinned is request and entries == []
    assert warnings == [
        "image_trigger: no container of Deployment shop/web has an image with a tag to follow"
    ]


def test_parse_reference_of_written_image_roundtrips():
    ref = parse_reference(f"r.example/web:latest@{NEW}")
    assert ref.pinned(NEW) == f"r.example/web:latest@{NEW}"
