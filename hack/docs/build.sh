#!/usr/bin/env bash
# `make docs`: the collection's docs site in build/docs/html (not committed), offline.
#
# 1. antsibull-docs writes the RST of every module, role, filter and the collection's index from the
#    collection as ansible-core sees it (build/ansible_collections, --use-current), failing on any
#    documentation error.
# 2. The guides (docs/*.md and their pictures) are copied next to it and listed in the index under
#    "Guides". antsibull-docs' own extra docs (docs/docsite/extra-docs.yml) take RST files only; the
#    guides are Markdown, read on the repository's web view as well, so Sphinx reads them with
#    myst-parser instead.
# 3. Sphinx renders the HTML with the Ansible theme (hack/docs/conf.py), warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
venv="$repo/${VENV:-.venv}"
out=build/docs

rm -rf "$out"
# antsibull-docs wants its destination writable by its owner only
mkdir -p "$out"
mkdir -m 700 "$out/rst"
PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$repo/build" "$venv/bin/antsibull-docs" \
  collection --use-current --squash-hierarchy --fail-on-error --no-add-antsibull-docs-version \
  --dest-dir "$out/rst" openrollout.k8s

mkdir -p "$out/rst/guides"
cp docs/*.md docs/*.svg "$out/rst/guides/"
# docs/dev/ is for the project's developers, not for users of the collection
{
  printf '\n\nGuides\n------\n\n.. toctree::\n    :maxdepth: 1\n\n'
  # first the ones a user reads in this order, then any other guide
  first=(getting-started strategies-and-hooks rollout undo-and-controls roles deploymentconfig-migration
    troubleshooting)
  for guide in "${first[@]}"; do
    if [ -f "docs/$guide.md" ]; then printf '    guides/%s\n' "$guide"; fi
  done
  for path in docs/*.md; do
    guide="$(basename "$path" .md)"
    case " ${first[*]} " in *" $guide "*) ;; *) printf '    guides/%s\n' "$guide" ;; esac
  done
} >> "$out/rst/index.rst"

"$venv/bin/sphinx-build" -q -W --keep-going -b html -c hack/docs "$out/rst" "$out/html"
echo "The docs site: $out/html/index.html"
