# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openrollout.k8s.rollout on the controller: src and template found, read (and rendered) there,
as Ansible finds files, and given to the module as its definition (plugins/plugin_utils/)."""

from __future__ import annotations

from ansible_collections.openrollout.k8s.plugins.plugin_utils._definition_action import DefinitionAction


class ActionModule(DefinitionAction):
    pass
