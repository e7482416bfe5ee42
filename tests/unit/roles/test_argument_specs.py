# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each role's meta/argument_specs.yml mirrors its defaults/main.yml: the same names, the same defaults.

Ansible validates a role's variables against its argument spec when the role starts; a default that
differs from the spec's, or a variable missing from one of them, would make the documentation lie.
So would a variable shown as optional that the role's preflight requires, and an author ansible-doc
cannot name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


def test_every_role_has_an_argument_spec() -> None:
    assert sorted(p.name for p in ROLES.iterdir() if p.is_dir()) == ROLE_NAMES


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_argument_spec_mirrors_defaults(role: str) -> None:
    options = _load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = _load(ROLES / role / "defaults" / "main.yml")
    assert sorted(options) == sorted(defaults)
    for name, spec in options.items():
        assert name.startswith(f"{role}_"), f"{name}: public variables are prefixed with the role's name"
        if spec.get("required"):
            # no default in the spec; defaults/main.yml lists it empty, so that it is documented there too
            assert "default" not in spec, name
            assert defaults[name] in ("", [], {}), f"{name}: a required option's default is empty"
        else:
            assert spec.get("default") == defaults[name], name


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_name_is_documented_as_required(role: str) -> None:
    # `<role>_name` is what the preflight asserts first. It is `required: true`, or, where another
    # variable can stand in for it (deploy_definition's metadata.name), its description says so.
    spec = _load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]
    option = spec["options"].get(f"{role}_name")
    if option is None:
        pytest.skip(f"{role} has no {role}_name")
    description = option["description"]
    description = " ".join(description) if isinstance(description, list) else description
    assert option.get("required") or "B(Required)" in description, description


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_author_names_a_github_handle(role: str) -> None:
    spec = _load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]
    authors = spec["author"]
    for author in [authors] if isinstance(authors, str) else authors:
        assert re.match(r"^\w.*\(@[\w-]+\)$", author), author
