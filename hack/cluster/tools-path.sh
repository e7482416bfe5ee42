#!/usr/bin/env bash
# Print the folder of the real node's own tools (openrollout-testapp, openrollout-images, registry),
# built by build.sh into the cache under a key of their sources.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
echo "$TOOLS_BIN_DIR"
if [ ! -x "$TOOLS_BIN_DIR/openrollout-testapp" ]; then
  echo "tools-path: $TOOLS_BIN_DIR/openrollout-testapp is not built yet: run make cluster-build" >&2
  exit 1
fi
