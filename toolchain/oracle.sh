#!/usr/bin/env bash
# Builds the independent NetworkPolicy oracle, cyclonus, from the Go module proxy into the cache and
# prints the binary's path on stdout (progress goes to stderr). Idempotent: a second call is instant.
#
# Why cyclonus (and not np-guard's netpol-analyzer): its `analyze --mode query-traffic` judges
# exactly the connections we hand it (labels, namespace labels, IPs, resolved port and port name,
# protocol) offline, and it matches ipBlocks against pod IPs as the upstream e2e suite expects;
# netpol-analyzer never lets an ipBlock select a pod, so it would disagree by design on every
# pod-to-pod cell an ipBlock touches. Known cyclonus deviations are fenced in tests/oracle/.
#
# Environment: PROGRESSION_CACHE (default ~/.cache/env-progression), GO (default: go on PATH, then
# /usr/local/go/bin/go).
set -euo pipefail

module=github.com/mattfenwick/cyclonus
version=v0.5.6
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
root="$cache/oracle"
dir="$root/$version"
bin="$dir/cyclonus"

if [ "${1:-}" = "--path" ]; then echo "$bin"; exit 0; fi

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"; exit 0
fi

go=${GO:-$(command -v go || true)}
[ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
if [ -z "$go" ] || ! "$go" version >/dev/null 2>&1; then
  echo "oracle.sh: a Go toolchain (>= 1.22) is needed to build cyclonus $version; install Go or set GO=/path/to/go" >&2
  exit 1
fi

# Module and build caches live beside the binary, apart from the machine's own Go caches, so the
# whole oracle goes with one `rm -rf` (-modcacherw makes the module cache deletable).
export GOMODCACHE="$root/gomod" GOCACHE="$root/gocache" GOFLAGS=-modcacherw
export GOTOOLCHAIN=local CGO_ENABLED=0 GO111MODULE=on GOBIN="$dir.tmp.$$"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$GOBIN"
trap 'rm -rf "$GOBIN"' EXIT

echo "oracle.sh: building $module/cmd/cyclonus@$version with $("$go" version) into $dir (cold: minutes)" >&2
start=$(date +%s)
# nice: the machine is shared with other builds; the oracle is never on anyone's critical path.
nice -n 10 "$go" install -trimpath -ldflags="-s -w -X $module/pkg/cli.version=$version" "$module/cmd/cyclonus@$version" >&2
rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$GOBIN" "$dir"
# The build cache (~500 MB) only speeds up a rebuild of this same binary, which the check above
# makes unnecessary; the module cache stays, so even a rebuild downloads nothing.
"$go" clean -cache >/dev/null 2>&1 || true
echo "oracle.sh: built in $(( $(date +%s) - start ))s: $bin" >&2
echo "$bin"
