# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sphinx configuration of `make docs` (hack/docs/build.sh).

What `antsibull-docs sphinx-init` generates, less intersphinx (offline: no inventory is fetched),
plus myst-parser for the guides written in Markdown (docs/*.md).
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes

project = "openrollout.k8s"
copyright = "openrollout.k8s contributors"
title = "openrollout.k8s"
html_short_title = "openrollout.k8s"

extensions = ["sphinx_antsibull_ext", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# Headings of the guides get anchors, for the links between them (rollout.md#running-one-hook-on-its-own).
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
# The guides link to files of the repository (README.md, roles/*/README.md, plugins/...): on the site
# they are plain text, not a warning each.
suppress_warnings = ["myst.xref_missing"]

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
html_theme_options = {"collapse_navigation": False}

default_role = "any"


# What intersphinx would resolve from docs.ansible.com's inventory, resolved here without fetching it:
# the generated pages refer to a few labels of the Ansible docsite and to other collections' plugins.
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
ANSIBLE_LABELS = {
    "common_return_values": "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
}
PLUGIN_LABEL = re.compile(r"^ansible_collections\.(\w+)\.(\w+)\.(\w+)_(\w+)$")


def resolve_ansible_label(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    target = node.get("reftarget", "")
    if target in ANSIBLE_LABELS:
        uri = ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    elif (match := PLUGIN_LABEL.match(target)) and match.group(1, 2) != ("openrollout", "k8s"):
        namespace, name, plugin, plugin_type = match.groups()
        uri = f"{ANSIBLE_DOCS}collections/{namespace}/{name}/{plugin}_{plugin_type}.html"
    else:
        return None  # a broken reference inside this site stays a warning, and -W makes it an error
    reference = nodes.reference("", "", internal=False, refuri=uri)
    reference += contnode
    return reference


def setup(app: Any) -> None:
    app.connect("missing-reference", resolve_ansible_label)
