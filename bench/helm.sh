#!/usr/bin/env bash
# Builds Helm for the benchmark from the Go module proxy into the cache and prints the binary's
# path on stdout (progress on stderr). Only `npm run bench` needs Helm: it is the tool a user
# would pick instead, measured side by side; it is not part of the project's toolchain or CI.
# Idempotent: a second call is instant. --path prints where it would be, building nothing.
#
# Environment: PROGRESSION_CACHE (default ~/.cache/env-progression), GO (default: go on PATH,
# then /usr/local/go/bin/go).
set -euo pipefail

module=helm.sh/helm/v4
version=v4.3.2
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
dir="$cache/bench/helm-$version"
bin="$dir/helm"

if [ "${1:-}" = "--path" ]; then echo "$bin"; exit 0; fi
if [ -x "$bin" ] && [ "$("$bin" version --template '{{.Version}}' 2>/dev/null)" = "$version" ]; then
  echo "$bin"; exit 0
fi

go=${GO:-$(command -v go || true)}
[ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
if [ -z "$go" ] || ! "$go" version >/dev/null 2>&1; then
  echo "helm.sh: a Go toolchain (>= 1.26) is needed to build Helm $version; install Go or set GO=/path/to/go" >&2
  exit 1
fi

# The toolchain's module and build caches when present: Helm shares most of its Kubernetes
# dependencies with what toolchain/toolchain.sh builds, so a warm toolchain makes this quick.
export GOMODCACHE="${GOMODCACHE_BENCH:-$cache/toolchain/gomod}" GOCACHE="${GOCACHE_BENCH:-$cache/toolchain/gocache}" GOFLAGS=-modcacherw
export GOTOOLCHAIN=local CGO_ENABLED=0 GO111MODULE=on GOBIN="$dir.tmp.$$"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$GOBIN"
trap 'rm -rf "$GOBIN"' EXIT

echo "helm.sh: building $module/cmd/helm@$version with $("$go" version) into $dir (cold: minutes)" >&2
start=$(date +%s)
# The version Helm reports (`helm version`) is a variable of its internal/version package, set at
# link time as Helm's own Makefile does; without it v4 reports its minor version only ("v4.3").
nice -n 10 "$go" install -trimpath -ldflags="-s -w -X $module/internal/version.version=$version" "$module/cmd/helm@$version" >&2
rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$GOBIN" "$dir"
echo "helm.sh: built in $(( $(date +%s) - start ))s: $bin" >&2
echo "$bin"
