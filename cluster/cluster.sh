#!/usr/bin/env bash
# The local Kubernetes cluster: a real control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) run as local processes, with either
#   - one real node (--real): kubelet, kube-proxy (iptables), containerd + runc, the CNI bridge,
#     CoreDNS as kube-dns and kube-router enforcing NetworkPolicies, on the pod network
#     198.18.0.0/16 and services 198.19.0.0/16 (cluster/node.sh); or
#   - simulated nodes (--simulated): kwok marks pods Running and Ready, no container runs.
# Binaries come from toolchain/toolchain.sh; the node's images are built by cluster/images.sh.
#
# Usage: cluster/cluster.sh up [--real|--simulated] | down [--purge] | status
#   up      create the cluster, or start whatever of it is not running; write the kubeconfig. Run
#           as root where the node's Debian packages are missing, it installs them with apt-get
#           (not with --simulated)
#   down    stop every process, undo the node's changes to the machine, delete the cluster's files;
#           --purge also removes the node's data (containerd's images and content)
#   status  each part and whether it runs; exit 1 when a part is down (with how to start it)
# Every failure ends with one line that says what failed and how to fix it.
# Authentication: etcd serves TLS to clients and peers holding a certificate of its own CA (only the
# API server's); the API server and kubelet accept client certificates and tokens, never anonymous
# requests; kubelet's read-only port is closed.
# Env: PROGRESSION_CLUSTER (name, default env-progression, [a-z0-9][a-z0-9-]{0,49}; the kubeconfig
#      context is local-<name>),
#      PROGRESSION_KUBECONFIG (default .local/kubeconfig), PROGRESSION_NODES (real | simulated |
#      auto, the default: real when this machine can run the node, else simulated, saying why),
#      CLUSTER_NODES (simulated nodes, default 3), PROGRESSION_CACHE (toolchain and cluster files).
# Several clusters can run at once, each on its own ports; the real node serves one at a time.
set -eEuo pipefail
{ # parsed whole before it runs (see toolchain.sh)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../toolchain/versions.env
. "$repo/toolchain/versions.env"
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
T="$cache/toolchain"
name=${PROGRESSION_CLUSTER:-env-progression}
context="local-$name"
nodes=${CLUSTER_NODES:-3}
kubeconfig=${PROGRESSION_KUBECONFIG:-$repo/.local/kubeconfig}
dir="$cache/clusters/$name"
verb=${1:-}

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }
# A command that fails where no check of ours caught it: one line naming it, and the fix.
# shellcheck disable=SC2317 # run by the ERR trap
on_error() { # $1 = its status, $2 = the command, $3 = line
  [ "$BASH_SUBSHELL" -eq 0 ] || exit "$1"
  log "'$2' failed (status $1, cluster.sh:$3 or the file it sources); fix: correct what the lines above say, then run cluster/cluster.sh $verb again"
  exit "$1"
}
trap 'on_error $? "$BASH_COMMAND" "$LINENO"' ERR
# A part that stopped or never served: the last line of its log, and the fix, on one line.
die_log() { # $1 = component, $2 = what happened, $3 = fix
  local last
  last=$(grep -v '^===' "$dir/logs/$1.log" 2>/dev/null | tail -n 1 | cut -c1-300) || true
  die "$2 (log $dir/logs/$1.log${last:+, last line: $last}); fix: $3"
}
valid_name() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,49}$ ]]; }
valid_name "$name" || die "PROGRESSION_CLUSTER='$name' is not a cluster name; allowed: lowercase letters, digits and '-', 1-50 characters, starting with a letter or digit; fix: export PROGRESSION_CLUSTER=env-progression"
case "$cache" in
  /?*) [[ $cache != *"/../"* && $cache != *"/./"* && $cache != */.. ]] || die "PROGRESSION_CACHE='$cache' has '.' or '..' parts; fix: give it as a plain absolute path" ;;
  *) die "PROGRESSION_CACHE='$cache' is not an absolute path; fix: give it as one (e.g. \$HOME/.cache/env-progression)" ;;
esac

# rm -rf of one of the cluster's own directories only (validated), never crossing into another
# filesystem: a mount left under it stays, and the removal fails with the fix.
remove_tree() { # $1 = path
  local p=$1
  case "$p" in
    "$cache"/clusters/?* | "$NODE_RUN" | "$NODE_LIB" | "$NODE_LIB"/?*) ;;
    *) die "refusing to remove '$p': not a directory of the cluster's; fix: remove it by hand if it should go" ;;
  esac
  [[ $p != *"/../"* && $p != */.. && $p != *"/./"* && $p != *//* && $p != *" "* ]] ||
    die "refusing to remove '$p': the path is not plain; fix: remove it by hand if it should go"
  [ -e "$p" ] || return 0
  rm -rf --one-file-system -- "$p" 2>/dev/null ||
    die "could not remove $p: something is still mounted under it (findmnt -R $p); fix: umount it, then run cluster/cluster.sh down again"
}

k8s_bin="$T/k8s-$KUBE_VERSION/bin"
etcd_bin="$T/etcd-$ETCD_VERSION/bin"
kwok_bin="$T/kwok-$KWOK_VERSION/bin"
node_bin="$T/node-coredns-$COREDNS_VERSION-kube-router-$KUBE_ROUTER_VERSION/bin"

# The network plan (real node). All of it inside 198.18.0.0/15, a range reserved for benchmarking
# that nothing on the machine or its network uses.
NODE_ADDR=198.18.0.1          # the node: the pod bridge's address (pods' gateway)
POD_CIDR=198.18.0.0/24        # this node's pods
CLUSTER_CIDR=198.18.0.0/16
SERVICE_CIDR=198.19.0.0/16
DNS_SERVICE_IP=198.19.0.10    # kube-dns
INGRESS_SERVICE_IP=198.19.0.80 # the in-cluster ingress proxy the smoke checks go through
export NODE_ADDR POD_CIDR CLUSTER_CIDR SERVICE_CIDR DNS_SERVICE_IP INGRESS_SERVICE_IP

kubectl() { "$k8s_bin/kubectl" --kubeconfig "$kubeconfig" --context "$context" "$@"; }

# --- processes --------------------------------------------------------------------------------
# Every daemon runs detached (its own session, without the lock's file descriptor), logs to
# logs/<name>.log and has pids/<name>.pid.
alive() { [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_of() { # $1 = pid file; prints the pid when that process is alive and is the named binary
  local f=$1 pid comm
  [ -f "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [ -n "$pid" ] && alive "$pid" || return 1
  comm=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")
  case "$comm" in *"$(basename "$f" .pid)"*) echo "$pid" ;; *) return 1 ;; esac
}
running() { pid_of "$1" >/dev/null; }
start_daemon() { # $1 = pid file, $2 = log file, rest = command (its basename must name the pid file)
  local pidf=$1 logf=$2; shift 2
  mkdir -p "$(dirname "$pidf")" "$(dirname "$logf")"
  echo "=== $(date -u +%FT%TZ) $*" >>"$logf"
  setsid "$@" >>"$logf" 2>&1 </dev/null 9>&- &
  echo $! >"$pidf"
  disown "$!" # its death is reported by the checks, not by the shell
}
stop_daemon() { # $1 = pid file, $2 = grace in tenths of a second (default 100): TERM, then KILL
  local pid i grace=${2:-100}
  pid=$(pid_of "$1") || { rm -f "$1"; return 0; }
  [ "$grace" -eq 0 ] || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 "$grace"); do alive "$pid" || break; sleep 0.1; done
  ! alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  rm -f "$1"
}

free_port() { # a TCP port nothing listens on, from a range away from the usual services
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  die "no free TCP port found in 20000-39999 after 200 tries; fix: free some ports, or stop other local clusters (cluster/cluster.sh down)"
}

# --- binaries ---------------------------------------------------------------------------------
ensure_binaries() { # $1 = mode
  local missing=()
  [ -x "$etcd_bin/etcd" ] || missing+=(etcd)
  if [ "$1" = real ]; then
    [ -x "$k8s_bin/kubelet" ] && [ -x "$k8s_bin/kube-proxy" ] || missing+=(k8s)
    [ -x "$node_bin/coredns" ] && [ -x "$node_bin/kube-router" ] || missing+=(node)
  else
    [ -x "$k8s_bin/kube-apiserver" ] || missing+=(k8s)
    [ -x "$kwok_bin/kwok" ] || missing+=(kwok)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  log "building the cluster binaries first (${missing[*]})"
  "$repo/toolchain/toolchain.sh" "${missing[@]}" ||
    die "building ${missing[*]} failed (the lines above say why); fix: correct that, then run toolchain/toolchain.sh ${missing[*]}"
}

# --- PKI --------------------------------------------------------------------------------------
# One CA signs the API server's serving certificate and a client certificate per component, so
# each talks to the API server as itself (RBAC and the Node authorizer apply). ECDSA P-256.
openssl_quiet() { openssl "$@" 2>/dev/null; }
leaf() { # $1 = file stem, $2 = subject, $3 = extendedKeyUsage, $4 = subjectAltName (or ""), $5 = CA stem (default ca)
  local stem="$dir/pki/$1" ca="$dir/pki/${5:-ca}"
  [ -f "$stem.crt" ] && return 0
  openssl_quiet ecparam -name prime256v1 -genkey -noout -out "$stem.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -z "$4" ] || echo "subjectAltName=$4"
  } >"$stem.ext"
  openssl_quiet req -new -key "$stem.key" -subj "$2" |
    openssl_quiet x509 -req -CA "$ca.crt" -CAkey "$ca.key" -days 3650 \
      -set_serial "0x$(openssl rand -hex 16)" -extfile "$stem.ext" -out "$stem.crt"
  rm -f "$stem.ext"
  chmod 600 "$stem.key"
}
make_ca() { # $1 = stem, $2 = common name
  [ -f "$dir/pki/$1.crt" ] && return 0
  openssl_quiet ecparam -name prime256v1 -genkey -noout -out "$dir/pki/$1.key"
  chmod 600 "$dir/pki/$1.key"
  openssl_quiet req -x509 -new -key "$dir/pki/$1.key" -subj "/CN=$2" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/pki/$1.crt"
}
make_pki() {
  mkdir -p "$dir/pki"; chmod 700 "$dir/pki"
  make_ca ca "env-progression-$name"
  # etcd trusts its own CA, which signs only its serving certificate and the API server's client
  # certificate: no other component's certificate opens it.
  make_ca etcd-ca "env-progression-$name-etcd"
  leaf etcd-server "/CN=etcd" serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1" etcd-ca
  leaf apiserver-etcd-client "/CN=kube-apiserver-etcd-client" clientAuth "" etcd-ca
  # The API server answers on loopback, on the node address (for pods) and as the kubernetes Service.
  leaf apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$NODE_ADDR,IP:${SERVICE_CIDR%.0/16}.1"
  leaf admin "/O=system:masters/CN=progression-admin" clientAuth ""
  leaf controller-manager "/CN=system:kube-controller-manager" clientAuth ""
  leaf scheduler "/CN=system:kube-scheduler" clientAuth ""
  leaf apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" clientAuth ""
  leaf kubelet "/O=system:nodes/CN=system:node:$(node_name)" clientAuth ""
  leaf kubelet-serving "/O=system:nodes/CN=system:node:$(node_name)" serverAuth "DNS:$(node_name),IP:$NODE_ADDR"
  leaf kube-proxy "/CN=system:kube-proxy" clientAuth ""
  leaf kube-router "/CN=system:kube-router" clientAuth ""
  leaf kwok "/O=system:masters/CN=kwok-controller" clientAuth ""
  if [ ! -f "$dir/pki/sa.key" ]; then
    openssl_quiet ecparam -name prime256v1 -genkey -noout -out "$dir/pki/sa.key"
    openssl_quiet ec -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub"
    chmod 600 "$dir/pki/sa.key"
  fi
}
node_name() { echo "$name-node" | cut -c1-63; }

component_kubeconfig() { # $1 = component (pki stem); server from the current api address
  local f="$dir/kubeconfigs/$1.kubeconfig"
  mkdir -p "$dir/kubeconfigs"
  cat >"$f" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster: { server: "https://$api_addr:$API_PORT", certificate-authority: "$dir/pki/ca.crt" }
users:
- name: $1
  user: { client-certificate: "$dir/pki/$1.crt", client-key: "$dir/pki/$1.key" }
contexts:
- name: $1
  context: { cluster: $name, user: $1 }
current-context: $1
YAML
  chmod 600 "$f"
}
# The user's kubeconfig carries the certificates inline, so it works wherever it is copied.
user_kubeconfig() {
  mkdir -p "$(dirname "$kubeconfig")"
  local b64='base64 -w0'
  cat >"$kubeconfig.tmp" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: $context
  cluster:
    server: https://$api_addr:$API_PORT
    certificate-authority-data: $($b64 <"$dir/pki/ca.crt")
users:
- name: $context
  user:
    client-certificate-data: $($b64 <"$dir/pki/admin.crt")
    client-key-data: $($b64 <"$dir/pki/admin.key")
contexts:
- name: $context
  context: { cluster: $context, user: $context }
current-context: $context
YAML
  chmod 600 "$kubeconfig.tmp"
  mv "$kubeconfig.tmp" "$kubeconfig"
}

# --- control plane ----------------------------------------------------------------------------
load_ports() {
  if [ ! -f "$dir/ports.env" ]; then
    { echo "ETCD_PORT=$(free_port)"; echo "ETCD_PEER_PORT=$(free_port)"; echo "API_PORT=$(free_port)"; } >"$dir/ports.env"
  fi
  # shellcheck disable=SC1091
  . "$dir/ports.env"
}

# A daemon started by an earlier version of this script, without a flag it needs now, is stopped
# so that it starts again with its current command line.
restart_if_lacking() { # $1 = pid file, $2 = flag
  local pid
  pid=$(pid_of "$1") || return 0
  case " $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) " in *" $2"*) return 0 ;; esac
  log "restarting $(basename "$1" .pid): it runs without $2"
  stop_daemon "$1"
}

start_etcd() {
  restart_if_lacking "$dir/pids/etcd.pid" --client-cert-auth
  running "$dir/pids/etcd.pid" && return 0
  # A throwaway cluster: skipping fsync makes every write several times faster on a busy disk.
  # Clients and peers alike present a certificate of etcd's CA.
  local tls=(--cert-file "$dir/pki/etcd-server.crt" --key-file "$dir/pki/etcd-server.key"
    --trusted-ca-file "$dir/pki/etcd-ca.crt" --client-cert-auth
    --peer-cert-file "$dir/pki/etcd-server.crt" --peer-key-file "$dir/pki/etcd-server.key"
    --peer-trusted-ca-file "$dir/pki/etcd-ca.crt" --peer-client-cert-auth)
  start_daemon "$dir/pids/etcd.pid" "$dir/logs/etcd.log" "$etcd_bin/etcd" --name progression \
    --data-dir "$dir/etcd" --log-level warn --unsafe-no-fsync "${tls[@]}" \
    --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "progression=https://127.0.0.1:$ETCD_PEER_PORT"
}

start_apiserver() {
  restart_if_lacking "$dir/pids/kube-apiserver.pid" --anonymous-auth=false
  running "$dir/pids/kube-apiserver.pid" && return 0
  # Admission: the defaults (PodSecurity among them) plus NodeRestriction for the real node.
  start_daemon "$dir/pids/kube-apiserver.pid" "$dir/logs/kube-apiserver.log" "$k8s_bin/kube-apiserver" \
    "--bind-address=$api_addr" "--advertise-address=$api_addr" "--secure-port=$API_PORT" \
    "--etcd-servers=https://127.0.0.1:$ETCD_PORT" "--etcd-cafile=$dir/pki/etcd-ca.crt" \
    "--etcd-certfile=$dir/pki/apiserver-etcd-client.crt" "--etcd-keyfile=$dir/pki/apiserver-etcd-client.key" \
    "--anonymous-auth=false" \
    "--tls-cert-file=$dir/pki/apiserver.crt" "--tls-private-key-file=$dir/pki/apiserver.key" \
    "--client-ca-file=$dir/pki/ca.crt" \
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local" \
    "--service-account-key-file=$dir/pki/sa.pub" "--service-account-signing-key-file=$dir/pki/sa.key" \
    "--service-cluster-ip-range=$SERVICE_CIDR" \
    "--authorization-mode=Node,RBAC" "--enable-admission-plugins=NodeRestriction" \
    "--allow-privileged=true" "--profiling=false" \
    "--kubelet-client-certificate=$dir/pki/apiserver-kubelet-client.crt" \
    "--kubelet-client-key=$dir/pki/apiserver-kubelet-client.key" \
    "--kubelet-preferred-address-types=InternalIP"
}

start_controllers() {
  component_kubeconfig controller-manager
  component_kubeconfig scheduler
  local cm="$dir/kubeconfigs/controller-manager.kubeconfig" sc="$dir/kubeconfigs/scheduler.kubeconfig"
  running "$dir/pids/kube-controller-manager.pid" ||
    start_daemon "$dir/pids/kube-controller-manager.pid" "$dir/logs/kube-controller-manager.log" \
      "$k8s_bin/kube-controller-manager" --kubeconfig "$cm" --authentication-kubeconfig "$cm" \
      --authorization-kubeconfig "$cm" --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
      --use-service-account-credentials=true --service-account-private-key-file "$dir/pki/sa.key" \
      --root-ca-file "$dir/pki/ca.crt" --service-cluster-ip-range "$SERVICE_CIDR" \
      --kube-api-qps 100 --kube-api-burst 200
  running "$dir/pids/kube-scheduler.pid" ||
    start_daemon "$dir/pids/kube-scheduler.pid" "$dir/logs/kube-scheduler.log" "$k8s_bin/kube-scheduler" \
      --kubeconfig "$sc" --authentication-kubeconfig "$sc" --authorization-kubeconfig "$sc" \
      --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
}

wait_apiserver() {
  local i
  for i in $(seq 1 120); do
    kubectl get --raw /readyz >/dev/null 2>&1 && return 0
    running "$dir/pids/etcd.pid" || die_log etcd "etcd exited" "correct what its log says, then run cluster/cluster.sh up again; if its data is damaged, delete the cluster (cluster/cluster.sh down)"
    running "$dir/pids/kube-apiserver.pid" || die_log kube-apiserver "kube-apiserver exited" "correct what its log says, then run cluster/cluster.sh up again"
    sleep 0.5
  done
  die_log kube-apiserver "kube-apiserver did not become ready within 60 s" "correct what its log says, then run cluster/cluster.sh up again"
}

# --- simulated nodes (kwok) -------------------------------------------------------------------
start_simulated() {
  component_kubeconfig kwok
  running "$dir/pids/kwok.pid" ||
    start_daemon "$dir/pids/kwok.pid" "$dir/logs/kwok.log" "$kwok_bin/kwok" \
      --kubeconfig "$dir/kubeconfigs/kwok.kubeconfig" --config "$repo/cluster/simulated-stages.yaml" \
      --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-lease-duration-seconds 40 \
      --cidr 10.0.0.1/16 --node-ip 10.0.0.1
  local i have
  have=$(kubectl get nodes -l type=kwok --no-headers 2>/dev/null | wc -l)
  if [ "$have" -lt "$nodes" ]; then
    log "adding simulated nodes: $have -> $nodes"
    for i in $(seq "$have" $((nodes - 1))); do
      # kwok's default node shape: 32 CPU, 256Gi, 110 pods.
      kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels: { type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64 }
status:
  capacity: { cpu: "32", memory: 256Gi, pods: "110" }
  allocatable: { cpu: "32", memory: 256Gi, pods: "110" }
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: v$KUBE_VERSION
    containerRuntimeVersion: simulated://kwok-$KWOK_VERSION
    kernelVersion: simulated
    osImage: simulated (no container runs)
YAML
    done
  fi
}
wait_nodes() { # $1 = label selector, $2 = count
  local i ready=0
  for i in $(seq 1 240); do
    ready=$(kubectl get nodes -l "$1" --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
    [ "$ready" -ge "$2" ] && return 0
    sleep 0.5
  done
  die "only $ready of $2 nodes ($1) became Ready within 120 s; fix: see kubectl --kubeconfig $kubeconfig describe nodes$([ "$1" = type=kwok ] || echo " and $dir/logs/kubelet.log"), then run cluster/cluster.sh up again"
}
# --- mode -------------------------------------------------------------------------------------
# shellcheck source=node.sh
. "$repo/cluster/node.sh"

want_mode() { # prints real or simulated; explains an automatic fallback
  local asked=${mode_flag:-${PROGRESSION_NODES:-auto}} why
  case "$asked" in
    simulated) echo simulated ;;
    real|auto)
      # As root on a machine with apt-get, the missing Debian packages are installed (one line says so).
      if [ "$(id -u)" -eq 0 ] && [ -n "$(node_missing_packages)" ] && command -v apt-get >/dev/null; then
        node_install_packages "$dir/logs/apt.log" || log "apt-get could not install the node's packages (log $dir/logs/apt.log)"
      fi
      [ "$(id -u)" -ne 0 ] || node_load_br_netfilter
      if ! why=$(node_unavailable "$name" "$dir"); then echo real
      elif [ "$asked" = real ]; then die "the real node cannot run here: $why"
      else
        log "real node unavailable ($why); using simulated nodes, where no container runs. Choose with --real or --simulated"
        echo simulated
      fi ;;
    *) die "PROGRESSION_NODES='$asked' is not a mode; allowed: real, simulated, auto" ;;
  esac
}

# Stops every process of the cluster, undoes the node's changes, deletes its files.
delete_cluster() {
  if node_owned_by "$name" "$dir"; then node_down "$name" "$dir"; fi
  # Its data goes too, so nothing needs a graceful stop.
  local c
  for c in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_daemon "$dir/pids/$c.pid" 0; done
  remove_tree "$dir"
}

up() {
  local t0=$SECONDS mode previous=""
  mode=$(want_mode) || exit 1
  ensure_binaries "$mode"
  [ -f "$dir/mode" ] && previous=$(cat "$dir/mode")
  if [ -n "$previous" ] && [ "$previous" != "$mode" ]; then
    # Its objects were made for the other kind of node (images, requests, pod addresses).
    log "switching from $previous to $mode nodes: recreating cluster $name"
    delete_cluster
  fi
  mkdir -p "$dir/logs" "$dir/pids"
  load_ports
  make_pki
  if [ "$mode" = real ]; then
    node_claim "$name" "$dir"
    node_network_up   # the node address must exist before the API server binds it
    api_addr=$NODE_ADDR
  else
    api_addr=127.0.0.1
  fi
  echo "$mode" >"$dir/mode"
  start_etcd
  start_apiserver
  user_kubeconfig
  wait_apiserver
  start_controllers
  if [ "$mode" = real ]; then
    node_up "$name" "$dir"
    wait_nodes "progression.dev/node=real" 1
    node_addons "$name" "$dir"
    node_still_running
    log "up in $((SECONDS - t0))s: kubeconfig $kubeconfig (context $context), real node $(node_name) on $NODE_ADDR"
  else
    start_simulated
    wait_nodes type=kwok "$nodes"
    log "up in $((SECONDS - t0))s: kubeconfig $kubeconfig (context $context), $nodes simulated nodes"
  fi
}

down() { # $1 = 1 to purge the node's data too
  local owner="" owner_dir=""
  if [ -d "$dir" ] || node_owned_by "$name" "$dir"; then
    log "deleting cluster $name"
    delete_cluster
  else
    log "no cluster $name: nothing to do"
  fi
  # The node left by a cluster whose files are gone (deleted while the node ran) is cleaned up too.
  if node_owner owner owner_dir && [ ! -d "$owner_dir" ]; then
    log "the real node was left by cluster '$owner', which is gone: cleaning it up"
    node_down "$owner" "$owner_dir"
  fi
  if [ "${1:-0}" = 1 ]; then
    if node_owner owner owner_dir; then
      die "not purging $NODE_LIB: the real node serves cluster '$owner'; fix: PROGRESSION_CLUSTER=$owner cluster/cluster.sh down --purge"
    fi
    remove_tree "$NODE_LIB"
    log "purged the node's data ($NODE_LIB: containerd's images and content, kubelet's files)"
  fi
  rm -f "$kubeconfig"
}

status() {
  if [ ! -d "$dir" ]; then echo "cluster $name: absent (start it: cluster/cluster.sh up)"; return 1; fi
  local mode c bad=0
  mode=$(cat "$dir/mode" 2>/dev/null || echo simulated)
  echo "cluster $name: $mode nodes; kubeconfig $kubeconfig (context $context)"
  local parts=(etcd kube-apiserver kube-controller-manager kube-scheduler)
  [ "$mode" = real ] || parts+=(kwok)
  for c in "${parts[@]}"; do
    if running "$dir/pids/$c.pid"; then echo "  $c: running (pid $(pid_of "$dir/pids/$c.pid"))"
    else echo "  $c: NOT RUNNING (log $dir/logs/$c.log)"; bad=1; fi
  done
  if [ "$mode" = real ]; then node_status "$name" "$dir" || bad=1; fi
  if [ "$bad" -ne 0 ]; then
    echo "some parts are down; start them: PROGRESSION_CLUSTER=$name cluster/cluster.sh up"
    return 1
  fi
  kubectl get nodes -o wide 2>/dev/null || { echo "  the API server does not answer"; return 1; }
}

# One up or down of a cluster at a time: a second waits for the first (the lock file outlives the
# cluster's directory, which down deletes).
lock_cluster() {
  { mkdir -p "$cache/clusters" && exec 9>>"$cache/clusters/.$name.lock"; } 2>/dev/null ||
    die "cannot write $cache/clusters/.$name.lock; fix: run as the user who owns $cache, or set PROGRESSION_CACHE to a directory of yours"
  flock -w 600 9 || die "another cluster/cluster.sh has held cluster $name for 10 minutes; fix: wait for it to finish, or stop it"
}

mode_flag=""
case "${1:-}" in
  up | down) lock_cluster ;;
esac
case "${1:-}" in
  up)
    case "${2:-}" in
      --real) mode_flag=real ;;
      --simulated) mode_flag=simulated ;;
      "") ;;
      *) echo "usage: cluster/cluster.sh up [--real|--simulated]" >&2; exit 2 ;;
    esac
    up ;;
  down)
    case "${2:-}" in
      --purge) down 1 ;;
      "") down 0 ;;
      *) echo "usage: cluster/cluster.sh down [--purge]" >&2; exit 2 ;;
    esac ;;
  status) status ;;
  *) echo "usage: cluster/cluster.sh up [--real|--simulated] | down [--purge] | status" >&2; exit 2 ;;
esac
exit
}
