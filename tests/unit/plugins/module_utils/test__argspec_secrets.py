# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import secret_values


def test_a_kubeconfig_dict_gives_up_its_credentials():
    kubeconfig = {
        "users": [
            {"name": "a", "user": {"token": "tok-1", "client-certificate-data": "public"}},
            {"name": "b", "user": {"username": "ci", "password": "pw-2", "client-key-data": "key-3"}},
            {
                "name": "c",
                "user": {
                    "auth-provider": {
                        "name": "oidc",
                        "config": {
                            "id-token": "id-4",
                            "refresh-token": "rt-5",
                            "client-secret": "cs-6",
                            "idp-issuer-url": "https://idp",
                        },
                    }
                },
            },
            {"name": "d", "user": None},
            "not a dict",
        ]
    }
    assert secret_values({"kubeconfig": kubeconfig}) == {"tok-1", "pw-2", "key-3", "id-4", "rt-5", "cs-6"}


@pytest.mark.parametrize(
    "kubeconfig", [None, "/home/me/.kube/config", {}, {"users": None}, {"users": [{"user": {"token": ""}}]}]
)
def test_nothing_to_hide(kubeconfig):
    assert secret_values({"kubeconfig": kubeconfig}) == set()
