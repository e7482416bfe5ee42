# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Shared argument specs, one per doc fragment (plugins/doc_fragments/). Modules merge them
# with their own options through argument_spec(); nothing here imports ansible or kubernetes.
import copy
from typing import Any, Dict

ArgSpec = Dict[str, Dict[str, Any]]

# Mirrors plugins/doc_fragments/auth.py. No defaults here: _client.resolve_auth() fills unset
# options from the K8S_AUTH_* variables, then defaults validate_certs to true.
AUTH_ARG_SPEC: ArgSpec = {
    "kubeconfig": {"type": "raw"},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False},
    "proxy": {"type": "str"},
}


def argument_spec(*specs: ArgSpec) -> ArgSpec:
    """The union of ``specs``, deep-copied so a module may adjust its own copy."""
    merged: ArgSpec = {}
    for spec in specs:
        for name, option in spec.items():
            if name in merged:
                raise ValueError(f"option {name} is defined twice")
            merged[name] = copy.deepcopy(option)
    return merged


# Keys of a kubeconfig's user entry (and of its auth-provider config) that hold credentials.
_KUBECONFIG_SECRET_KEYS = (
    "token",
    "password",
    "client-key-data",
    "id-token",
    "refresh-token",
    "client-secret",
)


def secret_values(params: Dict[str, Any]) -> set[str]:
    """Credentials inside the options that Ansible does not know to hide: those of a kubeconfig
    given as a dictionary (its users' tokens, passwords, client keys). A module adds them to
    AnsibleModule.no_log_values, so that the invocation shown at -vvv and every result mask them,
    as they mask api_key and password (no_log options)."""
    kubeconfig = params.get("kubeconfig")
    found: set[str] = set()
    if not isinstance(kubeconfig, dict):
        return found
    for entry in kubeconfig.get("users") or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        provider = user.get("auth-provider")
        config = provider.get("config") if isinstance(provider, dict) else None
        for source in (user, config if isinstance(config, dict) else {}):
            for key in _KUBECONFIG_SECRET_KEYS:
                value = source.get(key)
                if isinstance(value, str) and value:
                    found.add(value)
    return found
