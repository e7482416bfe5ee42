#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: service_selector
short_description: Switch a Service to other pods by setting keys of its selector
version_added: 0.1.0
description:
  - Sets keys of the C(spec.selector) of an existing Service, the switch of a blue-green deployment.
    The keys given are merged into the selector. Keys not given keep their value, and a key given
    as V(null) is removed.
  - Before it writes, the module lists the pods that the new selector matches in the Service's
    namespace. When none of them is Ready, the Service would have no endpoint, so the module fails
    and leaves the selector as it is, unless O(require_ready_endpoints=false).
  - The write is a merge patch guarded by the resourceVersion it was computed from. A conflict is
    retried from a fresh read.
  - Nothing else of the Service changes. The module creates no Service. Create it with the
    selector of the live colour first, for example with M(kubernetes.core.k8s) or C(kubectl).
  - The C(openrollout.k8s.blue_green) role switches its Service with this module.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The patch is sent as a server dry run, after the same checks. Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The selector before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - A Service that has the selector already gives C(changed=false), and nothing is written.
options:
  name:
    description:
      - Name of the Service.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the Service, and of the pods it selects.
    type: str
    default: default
  selector:
    description:
      - "Label keys and values to set in the Service's selector, for example
        C({openrollout.k8s/color: green}). The other keys of the selector keep their value."
      - A key whose value is V(null) is removed from the selector.
      - Numbers are turned into strings, as label values are strings.
      - The selector after the change must keep at least one key.
    type: dict
    required: true
  require_ready_endpoints:
    description:
      - When the selector changes, fail unless at least one pod that matches the new selector is
        Ready (not being deleted, with the condition C(Ready=True)). These are the pods the Service's
        endpoints would list.
      - V(false) switches even to no pod, which stops the traffic.
      - This is only checked when the selector changes.
    type: bool
    default: true
notes:
  - The module only checks that pods are Ready. It does not wait for the EndpointSlices to be
    updated, which the EndpointSlice controller does right after the change.
seealso:
  - module: openrollout.k8s.httproute_weights
    description: Split traffic by weight between backends of a Gateway API HTTPRoute instead.
  - module: openrollout.k8s.rollout
    description: Roll out the idle colour's Deployment before switching to it.
"""

EXAMPLES = r"""
- name: Send the traffic of web to the green pods
  openrollout.k8s.service_selector:
    name: web
    namespace: shop
    selector:
      openrollout.k8s/color: green

- name: Show what would change, without changing it
  openrollout.k8s.service_selector:
    name: web
    namespace: shop
    selector:
      version: "2.1"
  check_mode: true
  diff: true
  register: switch

- name: Drop a key from the selector
  openrollout.k8s.service_selector:
    name: web
    namespace: shop
    selector:
      track: null

- name: Switch to pods that are not Ready yet (the Service has no endpoint until they are)
  openrollout.k8s.service_selector:
    name: web
    namespace: shop
    selector:
      openrollout.k8s/color: blue
    require_ready_endpoints: false
"""

RETURN = r"""
selector:
  description: The Service's selector after the task (in check mode, as it would be).
  returned: success, or when no ready pod matches
  type: dict
  sample: {app: web, openrollout.k8s/color: green}
previous_selector:
  description: The Service's selector before the task.
  returned: success, or when no ready pod matches
  type: dict
  sample: {app: web, openrollout.k8s/color: blue}
matched_pods:
  description: How many pods of the namespace match RV(selector).
  returned: success, or when no ready pod matches
  type: int
  sample: 4
ready_pods:
  description: The names of the pods that match RV(selector) and are Ready.
  returned: success, or when no ready pod matches
  type: list
  elements: str
  sample: [web-green-7d9c-2xk4q, web-green-7d9c-8fjw2]
service:
  description: The Service after the task, without C(managedFields). In check mode, as the server's dry run returns it.
  returned: success, or when no ready pod matches
  type: dict
diff:
  description: The selector before and after.
  returned: in diff mode
  type: dict
  sample: {before: {selector: {app: web, openrollout.k8s/color: blue}}, after: {selector: {app: web, openrollout.k8s/color: green}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._module import run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._traffic import (
    ServiceSelector,
    TrafficError,
    TrafficInputError,
)

SERVICE_SELECTOR_ARG_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "selector": {"type": "dict", "required": True},
    "require_ready_endpoints": {"type": "bool", "default": True},
}


def run(module, connect):
    return ServiceSelector(connect(), module.params, module.check_mode, module._diff).run()


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, SERVICE_SELECTOR_ARG_SPEC),
        supports_check_mode=True,
    )
    run_module(module, run, errors=(TrafficError, TrafficInputError))


if __name__ == "__main__":
    main()
