# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Make `import ansible_collections.openrollout.k8s...` work from a plain checkout:
# build/ansible_collections/openrollout/k8s is a symlink to the repository root,
# and build/ goes first on sys.path. `pytest tests/unit` then runs from the repo root
# without installing the collection.
import contextlib
import os
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BUILD = os.path.join(_REPO, "build")
_LINK = os.path.join(_BUILD, "ansible_collections", "openrollout", "k8s")
# Under ansible-test the checkout already sits at .../ansible_collections/openrollout/k8s
# and that tree is importable: nothing to do then.
_INSTALLED = _REPO.replace(os.sep, "/").split("/")[-3:] == [
    "ansible_collections",
    "openrollout",
    "k8s",
]

if not _INSTALLED:
    if not os.path.lexists(_LINK):
        os.makedirs(os.path.dirname(_LINK), exist_ok=True)
        # Another pytest-xdist worker may make it first.
        with contextlib.suppress(FileExistsError):
            os.symlink(os.path.join("..", "..", ".."), _LINK)
    if _BUILD not in sys.path:
        sys.path.insert(0, _BUILD)
