#!/usr/bin/env bash
# Builds the local engine and cluster toolchain from Go modules into a cache outside the repo:
#   pulumi (CLI, Node language host, dynamic-provider shim), pulumi-resource-kubernetes,
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy, etcd,
#   kwok (the simulated nodes' controller), and the real node's add-ons: CoreDNS, kube-router and
#   the pod sandbox's pause binary.
# Release downloads are unreachable here, so everything comes from the Go module proxy (and the
# shim from node_modules). Versions: toolchain/versions.env and package.json. Each group is built
# only when its stamp is missing, so a second run takes seconds. A `pulumi` of the right version
# already on PATH (with its language host) is used as is.
#
# Usage:
#   toolchain/toolchain.sh                 build what is missing, then print the env lines
#   toolchain/toolchain.sh --print-env     same, but print only `export ...` lines (eval-able)
#   toolchain/toolchain.sh --check         exit 0 when everything is built, 1 otherwise (builds nothing)
#   toolchain/toolchain.sh GROUP...        build only these groups: pulumi kubernetes k8s etcd kwok node
#                                        (and actionlint, built only when asked for)
# Cache: ${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}/toolchain
set -euo pipefail
{ # the whole script is one compound command: bash parses it completely before running it, so
  # editing this file while a long build runs cannot derail that build.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$repo/toolchain/versions.env"
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
T="$cache/toolchain"

mode=build
groups=()
for a in "$@"; do
  case "$a" in
    --print-env) mode="env" ;;
    --check) mode=check ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}"; exit 0 ;;
    pulumi|kubernetes|k8s|etcd|kwok|node|actionlint) groups+=("$a") ;;
    *) echo "toolchain: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#groups[@]} -gt 0 ] || groups=(pulumi kubernetes k8s etcd kwok node)

log() { echo "toolchain: $*" >&2; }

# Go builds: module and build caches live in the toolchain cache so CI on the same machine
# finds them warm. Fetched module source stays there, never in the repo.
export GOMODCACHE="$T/gomod" GOCACHE="$T/gocache" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
# The compiler and linker collect garbage 4 times less often: about a third less build time
# here, for more memory per compile (a few hundred MB; these machines have 24 GB).
export GOGC="${GOGC:-400}"
# The linker strips DWARF (-s -w), so the compiler does not generate it either: a smaller share
# of every compile, measured in docs/performance.md.
export GOFLAGS="-mod=mod -buildvcs=false -gcflags=all=-dwarf=false"

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
node_dir="$T/node-coredns-$COREDNS_VERSION-kube-router-$KUBE_ROUTER_VERSION"
pulumi_home="$T/pulumi-home"

done_stamp() { [ -f "$1/.built" ]; }

# The Kubernetes binaries, all from one wrapper module and built by one `go build`: kubelet and
# kube-proxy share nearly every package with the control plane, so they cost little on top.
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
k8s_built() {
  done_stamp "$k8s_dir" || return 1
  local c
  for c in "${K8S_CMDS[@]}"; do [ -x "$k8s_dir/bin/$c" ] || return 1; done
}

# Our own Go sources built by the node group; their checksum is part of its stamp.
node_sources() { cat "$repo/cluster/coredns/main.go" "$repo/cluster/pause/main.go" | cksum; }
node_built() { done_stamp "$node_dir" && [ "$(cat "$node_dir/.built")" = "$(node_sources)" ]; }

# Generates a wrapper module in $1/src with go.mod text $2 (own text, nothing copied), resolves
# the named packages ($3...) with `go get`, which records requirements and go.sum entries.
wrapper_module() {
  local dir=$1 gomod=$2; shift 2
  rm -rf "$dir/src"; mkdir -p "$dir/src"
  printf '%s\n' "$gomod" >"$dir/src/go.mod"
  (cd "$dir/src" && go get "$@" >"$dir/get.log" 2>&1) || { cat "$dir/get.log" >&2; return 1; }
}

# Downloads every module the packages ($2...) need, by loading them in the wrapper module $1.
download_deps() {
  local dir=$1; shift
  (cd "$dir/src" && go list -deps "$@" >/dev/null)
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

# --- k8s: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy --
k8s_pkgs() { local c; for c in "${K8S_CMDS[@]}"; do echo "k8s.io/kubernetes/cmd/$c"; done; }
fetch_k8s() {
  local v=$KUBE_VERSION dir=$k8s_dir
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
)" $(k8s_pkgs | sed "s/\$/@v$v/")
  download_deps "$dir" $(k8s_pkgs)
}
compile_k8s() {
  local v=$KUBE_VERSION dir=$k8s_dir minor ld="" p
  minor=$(echo "$v" | cut -d. -f2)
  log "building ${K8S_CMDS[*]} $v (k8s.io/kubernetes, one go build; cold build takes long)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  build_into "$dir" "$ld" $(k8s_pkgs)
  echo "${K8S_CMDS[*]}" >"$dir/.built"
}

# --- etcd --------------------------------------------------------------------------------------
fetch_etcd() {
  mkdir -p "$etcd_dir"
  wrapper_module "$etcd_dir" "module local.invalid/toolchain/etcd

go 1.26" "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  download_deps "$etcd_dir" go.etcd.io/etcd/server/v3
}
compile_etcd() {
  local dir=$etcd_dir
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
  build_into "$dir" "" go.etcd.io/etcd/server/v3
  mv "$dir/bin/v3" "$dir/bin/etcd" 2>/dev/null || mv "$dir/bin/server" "$dir/bin/etcd" 2>/dev/null || true
  [ -x "$dir/bin/etcd" ] || { log "etcd binary missing after build: $(ls "$dir/bin")"; return 1; }
  touch "$dir/.built"
}

# --- kwok: the controller that runs the simulated nodes -----------------------------------------
# Only the controller: cluster/cluster.sh starts the control plane itself, so kwokctl is not built.
fetch_kwok() {
  mkdir -p "$kwok_dir"
  wrapper_module "$kwok_dir" "module local.invalid/toolchain/kwok

go 1.26" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  download_deps "$kwok_dir" sigs.k8s.io/kwok/cmd/kwok
}
compile_kwok() {
  log "building kwok $KWOK_VERSION (sigs.k8s.io/kwok)"
  build_into "$kwok_dir" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBE_VERSION" \
    sigs.k8s.io/kwok/cmd/kwok
  touch "$kwok_dir/.built"
}

# --- node: CoreDNS, kube-router, pause (the real node's add-ons) -------------------------------
# One wrapper module and one `go build`, so client-go and the other shared packages compile once
# for both. CoreDNS is our own main with only the plugins the Corefile uses (cluster/coredns),
# so only those plugins' modules are fetched; kube-router is upstream's command, run with the
# firewall (NetworkPolicy) controller only.
KUBE_ROUTER_MOD=github.com/cloudnativelabs/kube-router/v2
fetch_node() {
  local dir=$node_dir
  mkdir -p "$dir"
  # kube-router requires a netlink commit the Go module proxy here refuses (403); the newest
  # release it serves compiles in its place (only kube-router's router and proxy, not run here, use it).
  wrapper_module "$dir" "module local.invalid/toolchain/node

go 1.26

replace github.com/vishvananda/netlink => github.com/vishvananda/netlink v$KUBE_ROUTER_NETLINK" \
    "github.com/coredns/coredns/coremain@v$COREDNS_VERSION" "$KUBE_ROUTER_MOD/cmd/kube-router@v$KUBE_ROUTER_VERSION"
  mkdir -p "$dir/src/coredns" "$dir/src/pause"
  cp -f "$repo/cluster/coredns/main.go" "$dir/src/coredns/main.go"
  cp -f "$repo/cluster/pause/main.go" "$dir/src/pause/main.go"
  download_deps "$dir" ./coredns ./pause "$KUBE_ROUTER_MOD/cmd/kube-router"
}
compile_node() {
  log "building CoreDNS $COREDNS_VERSION, kube-router $KUBE_ROUTER_VERSION and pause (one go build)"
  build_into "$node_dir" "-X $KUBE_ROUTER_MOD/pkg/version.Version=v$KUBE_ROUTER_VERSION -X $KUBE_ROUTER_MOD/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
    ./coredns ./pause "$KUBE_ROUTER_MOD/cmd/kube-router"
  node_sources >"$node_dir/.built"
}

# --- fetching ahead ------------------------------------------------------------------------------
# Each group builds in two steps: fetch_<group> writes its wrapper module and downloads every
# module it compiles (network-bound), compile_<group> compiles (CPU-bound). The fetches of all the
# groups to build start together, so later groups' downloads overlap earlier groups' compiles.
needs_build() {
  case "$1" in
    k8s) ! k8s_built ;;
    etcd) ! done_stamp "$etcd_dir" ;;
    kwok) ! done_stamp "$kwok_dir" ;;
    node) ! node_built ;;
    pulumi) [ -z "${pulumi_external:-}" ] && ! done_stamp "$pulumi_dir" ;;
    kubernetes) [ -z "${pulumi_external:-}" ] && ! done_stamp "$kubernetes_dir" ;;
    *) return 1 ;; # a group without a fetch step builds on its own in run_group
  esac
}
declare -A fetch_pid=()
start_fetches() {
  local g
  mkdir -p "$T/logs"
  for g in "$@"; do
    declare -F "fetch_$g" >/dev/null && needs_build "$g" || continue
    log "fetching the modules of $g in the background ($T/logs/fetch-$g.log)"
    ( t=$SECONDS; "fetch_$g"; echo "fetched in $((SECONDS - t))s" ) >"$T/logs/fetch-$g.log" 2>&1 &
    fetch_pid[$g]=$!
  done
}
await_fetch() {
  local g=$1 t=$SECONDS
  [ -n "${fetch_pid[$g]:-}" ] || { "fetch_$g"; return; }
  wait "${fetch_pid[$g]}" || { log "fetching the modules of $g failed:"; tail -n 40 "$T/logs/fetch-$g.log" >&2; return 1; }
  unset "fetch_pid[$g]"
  [ $((SECONDS - t)) -lt 1 ] || log "waited $((SECONDS - t))s for $g's modules ($(tail -n1 "$T/logs/fetch-$g.log"))"
}
build_group() { # $1 = group, $2 = label for the timing log
  await_fetch "$1"
  timed "$2" "compile_$1"
}

# --- actionlint: the GitHub Actions workflow linter ------------------------------------------------
# Only on request (`toolchain/toolchain.sh actionlint`; toolchain/actionlint.sh runs it): the engine and
# the cluster do not need it. github.com/rhysd/actionlint has no replace directives, so the tagged
# release builds with go install as published.
actionlint_dir="$T/actionlint-$ACTIONLINT_VERSION"
build_actionlint() {
  local v=$ACTIONLINT_VERSION dir=$actionlint_dir
  log "building actionlint $v (github.com/rhysd/actionlint)"
  mkdir -p "$dir"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@v$v" || return 1
  touch "$dir/.built"
}

run_group() {
  case "$1" in
    k8s) k8s_built || build_group k8s "k8s-$KUBE_VERSION" ;;
    etcd) done_stamp "$etcd_dir" || build_group etcd "etcd-$ETCD_VERSION" ;;
    kwok) done_stamp "$kwok_dir" || build_group kwok "kwok-$KWOK_VERSION" ;;
    node) node_built || build_group node "node-coredns-$COREDNS_VERSION-kube-router-$KUBE_ROUTER_VERSION" ;;
    pulumi) ensure_pulumi ;;
    kubernetes) ensure_kubernetes ;;
    actionlint) done_stamp "$actionlint_dir" || timed "actionlint-$ACTIONLINT_VERSION" build_actionlint ;;
  esac
}

# --- pulumi: CLI, Node language host, dynamic-provider shim ------------------------------------
fetch_pulumi() {
  local v=$PULUMI_VERSION dir=$pulumi_dir
  mkdir -p "$dir"
  # pkg/v3's own go.mod replaces sdk/v3 with ../sdk and atotto/clipboard with a fork; as a
  # dependency those are ignored, so the wrapper pins sdk/v3 to the same release and mirrors the
  # clipboard replace (`go install pkg@version` refuses modules with replaces).
  local clip
  clip=$(sed -n 's#^replace github.com/atotto/clipboard => \(.*\)$#\1#p' "$(go list -m -f '{{.GoMod}}' "github.com/pulumi/pulumi/pkg/v3@v$v")")
  wrapper_module "$dir" "module local.invalid/toolchain/pulumi

go 1.26
${clip:+
replace github.com/atotto/clipboard => $clip}" \
    "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$v" "github.com/pulumi/pulumi/sdk/v3@v$v"
  mkdir -p "$dir/src/langhost"
  cp -f "$repo/toolchain/langhost/main.go" "$dir/src/langhost/main.go"
  download_deps "$dir" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./langhost
}
compile_pulumi() {
  log "building pulumi CLI $PULUMI_VERSION (github.com/pulumi/pulumi/pkg/v3; cold build takes long)"
  build_into "$pulumi_dir" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  touch "$pulumi_dir/.built"
}

# The Node language host and the dynamic resources' plugin: toolchain/langhost, our own Go module
# (the release's host module is untagged and not served by the Go module proxy reachable here; see
# docs/local-cluster.md). Its go.mod requires sdk/v3 at PULUMI_VERSION (its test checks that);
# built in place, with the module and build caches above. Rebuilt when their source changes.
#   pulumi-language-nodejs          the language host (main.go)
#   pulumi-resource-pulumi-nodejs   the dynamic resources' plugin (dynamic/main.go): it answers
#                                   what needs no JavaScript and starts the SDK's Node host for
#                                   the rest; the npm package's launcher would start Node (twice)
#                                   on every `up`.
build_langhost() {
  local dir=$pulumi_dir sum=$1 src="$repo/toolchain/langhost"
  grep -q "github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION\$" "$src/go.mod" || {
    log "toolchain/langhost/go.mod does not require github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION (toolchain/versions.env); run: cd toolchain/langhost && go get github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION && go mod tidy"
    return 1
  }
  log "building pulumi-language-nodejs and pulumi-resource-pulumi-nodejs (toolchain/langhost, sdk/v3 v$PULUMI_VERSION)"
  mkdir -p "$dir/bin"
  (cd "$src" && go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$dir/bin/pulumi-language-nodejs" . &&
    go build -trimpath -ldflags "-s -w -X main.version=$PULUMI_VERSION" \
      -o "$dir/bin/pulumi-resource-pulumi-nodejs" ./dynamic) || return 1
  echo "$sum" >"$dir/.langhost"
}

# An installed pulumi of the right version with its Node language host and the kubernetes plugin
# of the pinned version is used as is.
external_pulumi() {
  local p dir
  p=$(command -v pulumi 2>/dev/null) || return 1
  case "$p" in "$T"/*) return 1 ;; esac
  [ "$("$p" version 2>/dev/null)" = "v$PULUMI_VERSION" ] || return 1
  dir=$(dirname "$p")
  [ -x "$dir/pulumi-language-nodejs" ] || command -v pulumi-language-nodejs >/dev/null || return 1
  "$p" plugin ls 2>/dev/null | grep -Eq "^kubernetes +resource +$K8S_PLUGIN_VERSION " || return 1
  echo "$dir"
}

ensure_pulumi() {
  if [ -n "${pulumi_external:-}" ]; then
    log "using the installed pulumi v$PULUMI_VERSION in $pulumi_bin_dir (building nothing for it)"
    return 0
  fi
  done_stamp "$pulumi_dir" || build_group pulumi "pulumi-$PULUMI_VERSION"
  local sum
  sum=$(cat "$repo/toolchain/langhost/main.go" "$repo/toolchain/langhost/dynamic/main.go" | cksum)
  [ -x "$pulumi_dir/bin/pulumi-language-nodejs" ] && [ -x "$pulumi_dir/bin/pulumi-resource-pulumi-nodejs" ] &&
    [ "$(cat "$pulumi_dir/.langhost" 2>/dev/null)" = "$sum" ] ||
    timed "pulumi-language-nodejs" build_langhost "$sum"
}

# --- pulumi-resource-kubernetes at exactly the @pulumi/kubernetes version ------------------------
provider_mod=github.com/pulumi/pulumi-kubernetes/provider/v4
provider_pseudo() { local var="PULUMI_KUBERNETES_PSEUDO_${K8S_PLUGIN_VERSION//./_}"; echo "${!var:-}"; }
fetch_kubernetes() {
  local v=$K8S_PLUGIN_VERSION dir=$kubernetes_dir pseudo
  pseudo=$(provider_pseudo)
  if [ -z "$pseudo" ]; then
    log "package.json pins @pulumi/kubernetes $v, but toolchain/versions.env has no PULUMI_KUBERNETES_PSEUDO_${v//./_}:"
    log "the provider module $provider_mod is untagged; add the pseudo-version"
    log "of the v$v release commit there (or pin @pulumi/kubernetes to a version listed there)"
    return 1
  fi
  mkdir -p "$dir"
  wrapper_module "$dir" "module local.invalid/toolchain/pulumi-kubernetes

go 1.26" "$provider_mod/pkg/provider@$pseudo"
  download_deps "$dir" "$provider_mod/pkg/provider" "$provider_mod/pkg/version" github.com/pulumi/pulumi/pkg/v3/codegen/schema
}
compile_kubernetes() {
  local v=$K8S_PLUGIN_VERSION dir=$kubernetes_dir mod=$provider_mod src
  log "building pulumi-resource-kubernetes $v ($mod@$(provider_pseudo); cold build takes long)"
  src=$(cd "$dir/src" && go list -m -f '{{.Dir}}' "$mod")/cmd/pulumi-resource-kubernetes
  # Upstream's main //go:embeds schema-embed.json and terraform-mapping-embed.json, generated from
  # schema.json (with `version` set) and terraform-mapping.json, which the module zip carries. This
  # wrapper does the same with its own generator and main.
  grep -q 'func Serve(providerName, version string, pulumiSchema, terraformMapping \[\]byte)' \
    "$(dirname "$src")/../pkg/provider/serve.go" || {
    log "provider.Serve of $mod@$(provider_pseudo) has a signature this wrapper does not know (4.31+ added an argument)"; return 1; }
  mkdir -p "$dir/src/gen"
  cat >"$dir/src/gen/main.go" <<'GO'
// Generated by toolchain/toolchain.sh: writes the two files the provider binary embeds.
// Usage: gen SRC_DIR OUT_DIR VERSION
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	src, out, version := os.Args[1], os.Args[2], os.Args[3]
	var spec schema.PackageSpec
	must(json.Unmarshal(read(filepath.Join(src, "schema.json")), &spec))
	spec.Version = version
	write(filepath.Join(out, "schema-embed.json"), spec)
	var mapping any
	must(json.Unmarshal(read(filepath.Join(src, "terraform-mapping.json")), &mapping))
	write(filepath.Join(out, "terraform-mapping-embed.json"), mapping)
}

func read(p string) []byte { b, err := os.ReadFile(p); must(err); return b }

func write(p string, v any) { b, err := json.Marshal(v); must(err); must(os.WriteFile(p, b, 0o644)) }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
GO
  cat >"$dir/src/main.go" <<'GO'
// Generated by toolchain/toolchain.sh: the pulumi-resource-kubernetes entry point.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() { provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping) }
GO
  (cd "$dir/src" && go run ./gen "$src" . "$v") || return 1
  build_into "$dir" "-X $mod/pkg/version.Version=$v" .
  mv "$dir/bin/pulumi-kubernetes" "$dir/bin/pulumi-resource-kubernetes"
  touch "$dir/.built"
}

ensure_kubernetes() {
  [ -z "${pulumi_external:-}" ] || return 0
  done_stamp "$kubernetes_dir" || build_group kubernetes "pulumi-kubernetes-$K8S_PLUGIN_VERSION"
  # The engine finds exact plugin versions under $PULUMI_HOME/plugins.
  if [ ! -x "$pulumi_home/plugins/resource-kubernetes-v$K8S_PLUGIN_VERSION/pulumi-resource-kubernetes" ]; then
    [ -x "$pulumi_dir/bin/pulumi" ] || { log "pulumi is not built yet: run toolchain/toolchain.sh pulumi first"; return 1; }
    log "installing plugin resource kubernetes $K8S_PLUGIN_VERSION into $pulumi_home"
    PULUMI_HOME="$pulumi_home" PULUMI_SKIP_UPDATE_CHECK=true "$pulumi_dir/bin/pulumi" plugin install \
      resource kubernetes "$K8S_PLUGIN_VERSION" --file "$kubernetes_dir/bin/pulumi-resource-kubernetes" >&2
  fi
}

check_all() {
  local ok=0
  if ! external_pulumi >/dev/null; then
    done_stamp "$pulumi_dir" && [ -x "$pulumi_dir/bin/pulumi-language-nodejs" ] || { log "missing: pulumi $PULUMI_VERSION"; ok=1; }
    [ -x "$pulumi_home/plugins/resource-kubernetes-v$K8S_PLUGIN_VERSION/pulumi-resource-kubernetes" ] ||
      { log "missing: plugin kubernetes $K8S_PLUGIN_VERSION"; ok=1; }
  fi
  k8s_built || { log "missing: kubernetes $KUBE_VERSION binaries"; ok=1; }
  done_stamp "$etcd_dir" || { log "missing: etcd $ETCD_VERSION"; ok=1; }
  done_stamp "$kwok_dir" || { log "missing: kwok $KWOK_VERSION"; ok=1; }
  node_built || { log "missing: CoreDNS $COREDNS_VERSION, kube-router $KUBE_ROUTER_VERSION, pause"; ok=1; }
  return $ok
}

# Lines to eval: PATH with Node >= 22, pulumi and its bundled plugins, the cluster binaries.
emit_env() {
  local nodebin path
  nodebin=$("$repo/toolchain/node.sh")
  path="$nodebin"
  [ -n "${pulumi_external:-}" ] || path+=":$pulumi_dir/bin"
  path+=":$k8s_dir/bin:$etcd_dir/bin:$kwok_dir/bin:$node_dir/bin"
  echo "export PATH=\"$path:\$PATH\""
  [ -n "${pulumi_external:-}" ] || echo "export PULUMI_HOME=\"$pulumi_home\""
  echo "export PULUMI_SKIP_UPDATE_CHECK=true"
  # V8 keeps the code it compiled for each module here, keyed by file and content: the engine's
  # Node processes (the program, the dynamic provider host) skip parsing and compiling the SDKs
  # after the first run. A folder of this user's own cache, never a shared temporary one.
  echo "export NODE_COMPILE_CACHE=\"$cache/node-compile-cache\""
  echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
}

mkdir -p "$T"
if [ "$mode" = check ]; then check_all; exit; fi
# One build at a time: concurrent runs (a test suite and a demo, say) wait for each other instead
# of building the same wrapper module twice.
exec 9>"$T/.lock"
if ! flock -n 9; then
  log "another toolchain.sh is building; waiting for it"
  flock 9
fi
t0=$SECONDS
case " ${groups[*]} " in
  *" pulumi "*|*" kubernetes "*) if pulumi_bin_dir=$(external_pulumi); then pulumi_external=1; fi ;;
esac
start_fetches "${groups[@]}"
for g in "${groups[@]}"; do run_group "$g"; done
if [ $# -eq 0 ] || [ "$mode" = env ]; then
  emit_env >"$T/env.sh"
  log "ready in $((SECONDS - t0))s; env: $T/env.sh (eval \"\$(toolchain/toolchain.sh --print-env)\")"
  if [ "$mode" = env ]; then cat "$T/env.sh"; else cat "$T/env.sh" >&2; fi
fi
exit
}
