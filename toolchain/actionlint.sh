#!/usr/bin/env bash
# actionlint on the repository's workflows (or the files given), built once from the Go module by
# toolchain/toolchain.sh into the toolchain cache and reused.
#   toolchain/actionlint.sh [FILE...]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$repo/toolchain/versions.env"
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
"$repo/toolchain/toolchain.sh" actionlint
cd "$repo"
if [ $# -eq 0 ]; then set -- .github/workflows/*.yml; fi
exec "$cache/toolchain/actionlint-$ACTIONLINT_VERSION/bin/actionlint" "$@"
