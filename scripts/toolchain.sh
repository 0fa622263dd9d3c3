#!/usr/bin/env bash
# Builds the local engine and cluster toolchain from Go modules into a cache outside the repo:
#   pulumi (CLI, Node language host, dynamic-provider shim), pulumi-resource-kubernetes,
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl.
# Release downloads are unreachable here, so everything comes from the Go module proxy (and the
# shim from node_modules). Versions: scripts/versions.env and package.json. Each group is built
# only when its stamp is missing, so a second run takes seconds. A `pulumi` of the right version
# already on PATH (with its language host) is used as is.
#
# Usage:
#   scripts/toolchain.sh                 build what is missing, then print the env lines
#   scripts/toolchain.sh --print-env     same, but print only `export ...` lines (eval-able)
#   scripts/toolchain.sh --check         exit 0 when everything is built, 1 otherwise (builds nothing)
#   scripts/toolchain.sh GROUP...        build only these groups: pulumi kubernetes k8s etcd kwok
# Cache: ${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}/toolchain
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$repo/scripts/versions.env"
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
T="$cache/toolchain"

mode=build
groups=()
for a in "$@"; do
  case "$a" in
    --print-env) mode=env ;;
    --check) mode=check ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
    pulumi|kubernetes|k8s|etcd|kwok) groups+=("$a") ;;
    *) echo "toolchain: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#groups[@]} -gt 0 ] || groups=(pulumi kubernetes k8s etcd kwok)

log() { echo "toolchain: $*" >&2; }

# Go builds: module and build caches live in the toolchain cache so CI on the same machine
# finds them warm. Fetched module source stays there, never in the repo.
export GOMODCACHE="$T/gomod" GOCACHE="$T/gocache" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
export GOFLAGS="-mod=mod -buildvcs=false"

pkg_version() { # $1 = npm package name; prints the exact version pinned in package.json
  sed -n "s/^ *\"${1//\//\\/}\": *\"\([^\"]*\)\".*/\1/p" "$repo/package.json" | head -n1
}
K8S_PLUGIN_VERSION=$(pkg_version @pulumi/kubernetes)

# --- where each group lives -------------------------------------------------------------------
pulumi_dir="$T/pulumi-$PULUMI_VERSION"
kubernetes_dir="$T/pulumi-kubernetes-$K8S_PLUGIN_VERSION"
k8s_dir="$T/k8s-$KUBE_VERSION"
etcd_dir="$T/etcd-$ETCD_VERSION"
kwok_dir="$T/kwok-$KWOK_VERSION"
pulumi_home="$T/pulumi-home"

done_stamp() { [ -f "$1/.built" ]; }

# Generates a wrapper module in $1/src with go.mod text $2 (own text, nothing copied), resolves
# the named packages ($3...) with `go get`, which records requirements and go.sum entries.
wrapper_module() {
  local dir=$1 gomod=$2; shift 2
  rm -rf "$dir/src"; mkdir -p "$dir/src"
  printf '%s\n' "$gomod" >"$dir/src/go.mod"
  (cd "$dir/src" && go get "$@" >"$dir/get.log" 2>&1) || { cat "$dir/get.log" >&2; return 1; }
}

# go build of main packages ($3...) into $1/bin via a temp dir; $2 = ldflags.
build_into() {
  local dir=$1 ldflags=$2; shift 2
  rm -rf "$dir/bin.tmp"; mkdir -p "$dir/bin.tmp"
  (cd "$dir/src" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/bin.tmp/" "$@") || return 1
  mkdir -p "$dir/bin"
  cp -f "$dir/bin.tmp/"* "$dir/bin/"
  rm -rf "$dir/bin.tmp"
}

timed() { # $1 = group label; runs the rest, logs the elapsed time
  local label=$1 t0=$SECONDS; shift
  "$@"
  log "built $label in $((SECONDS - t0))s"
  echo "$(date -u +%FT%TZ) $label $((SECONDS - t0))s" >>"$T/build-times.log"
}

# --- k8s: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl --------------------
build_k8s() {
  local v=$KUBE_VERSION dir=$k8s_dir minor
  minor=$(echo "$v" | cut -d. -f2)
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $v (k8s.io/kubernetes; cold build takes long)"
  mkdir -p "$dir"
  # k8s.io/kubernetes replaces each k8s.io/* staging module with ./staging/...; as a dependency
  # those replaces are ignored, so the wrapper maps each one to its published v0.<minor>.<patch>.
  local kmod replaces godebug
  kmod=$(go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@v$v")
  replaces=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 v0.'"${v#*.}"'#p' "$kmod")
  [ -n "$replaces" ] || { log "no staging replaces found in $kmod"; return 1; }
  godebug=$(grep '^godebug ' "$kmod" || true)
  wrapper_module "$dir" "module local.invalid/toolchain/k8s

go 1.26
$godebug

require k8s.io/kubernetes v$v

replace (
$replaces
)" "k8s.io/kubernetes/cmd/kube-apiserver@v$v" "k8s.io/kubernetes/cmd/kube-controller-manager@v$v" \
    "k8s.io/kubernetes/cmd/kube-scheduler@v$v" "k8s.io/kubernetes/cmd/kubectl@v$v"
  local ld="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  build_into "$dir" "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  touch "$dir/.built"
}

# --- etcd --------------------------------------------------------------------------------------
build_etcd() {
  local v=$ETCD_VERSION dir=$etcd_dir
  log "building etcd $v (go.etcd.io/etcd/server/v3)"
  mkdir -p "$dir"
  wrapper_module "$dir" "module local.invalid/toolchain/etcd

go 1.26" "go.etcd.io/etcd/server/v3@v$v"
  build_into "$dir" "" go.etcd.io/etcd/server/v3
  mv "$dir/bin/v3" "$dir/bin/etcd" 2>/dev/null || mv "$dir/bin/server" "$dir/bin/etcd" 2>/dev/null || true
  [ -x "$dir/bin/etcd" ] || { log "etcd binary missing after build: $(ls "$dir/bin")"; return 1; }
  touch "$dir/.built"
}

# --- kwok, kwokctl ------------------------------------------------------------------------------
build_kwok() {
  local v=$KWOK_VERSION dir=$kwok_dir
  log "building kwok, kwokctl $v (sigs.k8s.io/kwok)"
  mkdir -p "$dir"
  wrapper_module "$dir" "module local.invalid/toolchain/kwok

go 1.26" "sigs.k8s.io/kwok/cmd/kwok@v$v" "sigs.k8s.io/kwok/cmd/kwokctl@v$v"
  build_into "$dir" "-X sigs.k8s.io/kwok/pkg/consts.Version=$v -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBE_VERSION" \
    sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
  touch "$dir/.built"
}

run_group() {
  case "$1" in
    k8s) done_stamp "$k8s_dir" || timed "k8s-$KUBE_VERSION" build_k8s ;;
    etcd) done_stamp "$etcd_dir" || timed "etcd-$ETCD_VERSION" build_etcd ;;
    kwok) done_stamp "$kwok_dir" || timed "kwok-$KWOK_VERSION" build_kwok ;;
    pulumi) ensure_pulumi ;;
    kubernetes) ensure_kubernetes ;;
  esac
}

ensure_pulumi() { :; }
ensure_kubernetes() { :; }

mkdir -p "$T"
for g in "${groups[@]}"; do run_group "$g"; done
