# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    AUTH_ENV,
    ClientConfigError,
    create_api_client,
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
