#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: httproute_weights
short_description: Set the backend weights of a Gateway API HTTPRoute rule
version_added: 0.1.0
description:
  - Sets the C(weight) of C(backendRefs) in one rule of an existing Gateway API C(HTTPRoute)
    (C(gateway.networking.k8s.io/v1)), the traffic split of a canary. The backends are named by
    their C(name), for example the stable and the canary Services.
  - Backends of the rule that O(weights) does not name keep their weight. A backendRef without a
    weight has weight 1, as the Gateway API says. A Gateway sends each backend the share
    C(weight / sum of the rule's weights) of the requests.
  - The write is a merge patch of C(spec.rules), guarded by the resourceVersion it was computed from.
    A conflict is retried from a fresh read. Nothing else of the route changes.
  - The module sets the weights in the object. Applying them is the job of the cluster's Gateway
    controller, which the module neither needs nor waits for.
  - When the cluster does not serve the Gateway API, the module says so.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The patch is sent as a server dry run, so the route's own validation runs. Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The weights of the rule's backends before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - A rule whose backends have the weights already gives C(changed=false), and nothing is written.
options:
  name:
    description:
      - Name of the HTTPRoute.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the HTTPRoute.
    type: str
    default: default
  rule:
    description:
      - The index of the rule in C(spec.rules), from 0.
    type: int
    default: 0
  weights:
    description:
      - "Backend names (the C(name) of C(backendRefs) entries) to their weights, from 0 to 1000000,
        for example C({web: 90, web-canary: 10})."
      - Every name must be a backend of the rule. A name listed several times in the rule (for
        example with different ports) gets the weight on each entry.
      - At least one backend of the rule must keep a weight above 0.
    type: dict
    required: true
seealso:
  - module: openrollout.k8s.service_selector
    description: Switch all the traffic of a Service at once instead (blue-green).
  - name: Gateway API traffic splitting
    description: How a Gateway splits requests by backendRef weight.
    link: https://gateway-api.sigs.k8s.io/guides/traffic-splitting/
"""

EXAMPLES = r"""
- name: Send 10% of the requests to the canary
  openrollout.k8s.httproute_weights:
    name: web
    namespace: shop
    weights:
      web: 90
      web-canary: 10

- name: Back to the stable only (the canary backend stays in the route, at 0)
  openrollout.k8s.httproute_weights:
    name: web
    namespace: shop
    weights:
      web: 100
      web-canary: 0

- name: The second rule of the route (for example /api), shown as a diff first
  openrollout.k8s.httproute_weights:
    name: web
    namespace: shop
    rule: 1
    weights:
      api-canary: 50
  check_mode: true
  diff: true
"""

RETURN = r"""
rule:
  description: The index of the rule.
  returned: success
  type: int
  sample: 0
weights:
  description: Every backend of the rule with its weight after the task (in check mode, as it would be).
  returned: success
  type: dict
  sample: {web: 90, web-canary: 10}
previous_weights:
  description: Every backend of the rule with its weight before the task.
  returned: success
  type: dict
  sample: {web: 100, web-canary: 0}
shares:
  description: Each backend's share of the requests in percent, from RV(weights).
  returned: success
  type: dict
  sample: {web: 90.0, web-canary: 10.0}
route:
  description: The HTTPRoute after the task, without C(managedFields). In check mode, as the server's dry run returns it.
  returned: success
  type: dict
diff:
  description: The weights of the rule's backends before and after.
  returned: in diff mode
  type: dict
  sample: {before: {rule: 0, weights: {web: 100, web-canary: 0}}, after: {rule: 0, weights: {web: 90, web-canary: 10}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._module import run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._traffic import (
    HTTPRouteWeights,
    TrafficInputError,
)

HTTPROUTE_WEIGHTS_ARG_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "rule": {"type": "int", "default": 0},
    "weights": {"type": "dict", "required": True},
}


def run(module, connect):
    return HTTPRouteWeights(connect(), module.params, module.check_mode, module._diff).run()


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, HTTPROUTE_WEIGHTS_ARG_SPEC),
        supports_check_mode=True,
    )
    run_module(module, run, errors=(TrafficInputError,))


if __name__ == "__main__":
    main()
