#!/usr/bin/env bash
# The local Kubernetes cluster: a real control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, run as local processes by `kwokctl --runtime binary`) with simulated nodes run by
# kwok. Pods are simulated: the scheduler places them and kwok marks them Running and Ready, but no
# container ever runs. Everything listens on 127.0.0.1. Binaries come from scripts/toolchain.sh.
#
# Usage: scripts/cluster.sh up | down | status
#   up      create (or restart) the cluster, add the simulated nodes, write .local/kubeconfig
#   down    delete the cluster (nothing to do when there is none)
#   status  print whether it is up, its nodes and the kubeconfig path; exit 1 when it is not up
# Env: PROGRESSION_CLUSTER (cluster name, default env-progression; the kubeconfig context is
#      kwok-<name>), PROGRESSION_KUBECONFIG (default .local/kubeconfig), CLUSTER_NODES (default 3),
#      PROGRESSION_CACHE (toolchain and cluster files live under it). Several clusters with
#      different names can run at once: each gets its own free ports.
set -euo pipefail
{ # parsed whole before it runs (see toolchain.sh)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$repo/scripts/versions.env"
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
T="$cache/toolchain"
name=${PROGRESSION_CLUSTER:-env-progression}
context="kwok-$name"
nodes=${CLUSTER_NODES:-3}
kubeconfig=${PROGRESSION_KUBECONFIG:-$repo/.local/kubeconfig}

log() { echo "cluster: $*" >&2; }

k8s_bin="$T/k8s-$KUBE_VERSION/bin"
etcd_bin="$T/etcd-$ETCD_VERSION/bin"
kwok_bin="$T/kwok-$KWOK_VERSION/bin"

# kwokctl keeps each cluster's files (pki, logs, pids, etcd data) under its workdir: outside the repo.
export KWOK_WORKDIR="$cache/kwok"
# Pin every binary kwokctl could otherwise try to download, and tell it which versions they are.
export KWOK_KUBE_VERSION="v$KUBE_VERSION" KWOK_ETCD_VERSION="$ETCD_VERSION"
export KWOK_KUBECTL_BINARY="$k8s_bin/kubectl"
export KWOK_KUBE_APISERVER_BINARY="$k8s_bin/kube-apiserver"
export KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$k8s_bin/kube-controller-manager"
export KWOK_KUBE_SCHEDULER_BINARY="$k8s_bin/kube-scheduler"
export KWOK_CONTROLLER_BINARY="$kwok_bin/kwok"
export KWOK_ETCD_BINARY="$etcd_bin/etcd"
export KWOK_RUNTIME=binary
# kwokctl also runs a bare `kubectl` for some checks: make it ours, not another one on PATH.
export PATH="$k8s_bin:$PATH"
# kwokctl logs a JSON line per step; keep them in a file and show them only when it fails.
kwokctl() {
  local out="$KWOK_WORKDIR/$name-kwokctl.log"
  mkdir -p "$KWOK_WORKDIR"
  "$kwok_bin/kwokctl" --name "$name" "$@" >>"$out" 2>&1 && return 0
  local rc=$?
  log "kwokctl $1 $2 failed (exit $rc); its last lines ($out):"
  tail -n 30 "$out" >&2
  return "$rc"
}
kubectl() { "$k8s_bin/kubectl" --kubeconfig "$kubeconfig" --context "$context" "$@"; }

ensure_binaries() {
  "$repo/scripts/toolchain.sh" --check >/dev/null 2>&1 && return 0
  local b
  for b in "$KWOK_KUBECTL_BINARY" "$KWOK_KUBE_APISERVER_BINARY" "$KWOK_KUBE_CONTROLLER_MANAGER_BINARY" \
    "$KWOK_KUBE_SCHEDULER_BINARY" "$KWOK_CONTROLLER_BINARY" "$KWOK_ETCD_BINARY" "$kwok_bin/kwokctl"; do
    [ -x "$b" ] || { log "building the cluster binaries first"; "$repo/scripts/toolchain.sh" k8s etcd kwok; return; }
  done
}

exists() { [ -d "$KWOK_WORKDIR/clusters/$name" ]; }

# kwokctl decides a component is running from its pid file alone. After the processes were killed
# (a session or CI run ends), a pid may be a zombie or reused by another program: forget those.
forget_stale_pids() {
  local f pid comp
  for f in "$KWOK_WORKDIR/clusters/$name/pids/"*.pid; do
    [ -f "$f" ] || continue
    pid=$(tr -dc '0-9' <"$f"); comp=$(basename "$f" .pid); comp=${comp%-controller}
    if [ -z "$pid" ] || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$comp" ||
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
      rm -f "$f"
    fi
  done
}
healthy() { [ -f "$kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1; }

# kwokctl's own defaults bind every component to 0.0.0.0: this configuration keeps them on loopback.
write_config() {
  mkdir -p "$KWOK_WORKDIR"
  cat >"$KWOK_WORKDIR/$name.yaml" <<'YAML'
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
YAML
}

wait_nodes() {
  local i ready
  for i in $(seq 1 120); do
    ready=$(kubectl get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
    [ "$ready" -ge "$nodes" ] && return 0
    sleep 1
  done
  log "only $ready of $nodes nodes became Ready"; kubectl get nodes >&2 || true; return 1
}

up() {
  local t0=$SECONDS
  ensure_binaries
  write_config
  mkdir -p "$(dirname "$kubeconfig")"
  if exists && healthy; then
    log "already up"
  elif exists && forget_stale_pids && kwokctl start cluster --timeout 60s --wait 60s >&2 && healthy; then
    log "restarted the stopped cluster"
  else
    if exists; then
      log "the cluster's files are there but it does not answer: recreating it"
      kwokctl delete cluster --kubeconfig "$kubeconfig" >&2 || true
    fi
    rm -f "$kubeconfig"
    log "creating cluster $name (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION) on 127.0.0.1"
    kwokctl --config "$KWOK_WORKDIR/$name.yaml" create cluster --runtime binary \
      --kube-authorization=true --kube-admission=true \
      --kubeconfig "$kubeconfig" --timeout 180s --wait 120s >&2
  fi
  # Simulated nodes (kwok's default node: 32 CPU, 256Gi, 110 pods each; prod runs 50 replicas).
  local have
  have=$(kubectl get nodes -l type=kwok --no-headers 2>/dev/null | wc -l)
  if [ "$have" -ne "$nodes" ]; then
    log "scaling simulated nodes: $have -> $nodes"
    kwokctl scale node --replicas "$nodes" >&2
  fi
  wait_nodes
  chmod 600 "$kubeconfig"
  log "up in $((SECONDS - t0))s: kubeconfig $kubeconfig (context $context), $nodes simulated nodes"
}

down() {
  if ! exists; then
    log "no cluster $name: nothing to do"
  else
    log "deleting cluster $name"
    kwokctl delete cluster --kubeconfig "$kubeconfig" >&2
  fi
  rm -f "$kubeconfig"
}

status() {
  if ! exists; then echo "cluster $name: absent"; return 1; fi
  if ! healthy; then echo "cluster $name: present but not answering (run: npm run cluster:up)"; return 1; fi
  echo "cluster $name: up"
  echo "kubeconfig: $kubeconfig (context $context)"
  kubectl get nodes
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up|down|status" >&2; exit 2 ;;
esac
exit
}
