# The real node of the local cluster, sourced by cluster/cluster.sh (which sets dir, name, the
# binary paths and the network plan). One node serves one cluster at a time on this machine.
#
#   containerd (Debian 1.6) + runc, its own socket, root and state, nothing shared with a system
#     containerd; images built by cluster/images.sh and imported, never pulled
#   CNI: the bridge plugin on the bridge progression0 = NODE_ADDR, host-local addresses from
#     POD_CIDR, no masquerade
#   kubelet and kube-proxy (iptables mode) at KUBE_VERSION; kube-router enforcing NetworkPolicies
#     (firewall only); CoreDNS as kube-dns (cluster.local only, no forwarder); the ingress proxy
#
# What it changes on the machine, and how each is undone by node_down:
#   - sysctls: ip_forward (the bridge plugin) and those kubelet sets; each saved before the node
#     first starts and put back. kubelet's panic settings are put back as soon as it has set them,
#     so the host never reboots on an oops because of the node.
#   - iptables: its own chains PROGRESSION-* (mangle, raw), and the chains and sets kubelet,
#     kube-proxy and kube-router create (their names are fixed in their code). The chains and sets
#     that exist when the node first starts are recorded; teardown removes only chains and sets of
#     those programs' names that are not in that record, and the rules that jump to them. Another
#     cluster's kube-proxy rules on the machine make the node refuse to start.
#   - the bridge progression0 and its routes, the pods' veths, the pods' network namespaces, every
#     mount under its own paths, kubelet's kubepods cgroups, /run/netns when it made it.
# The record lives in $NODE_LIB/node (0700), which survives a crash and a reboot; after a reboot
# the kernel's side is gone already, so only files are removed.

NODE_RUN=/run/env-progression          # sockets, containerd state, CNI config and addresses
NODE_LIB=/var/lib/env-progression      # containerd's content (the imported images stay), kubelet, the record
BRIDGE=progression0
CONTAINERD_SOCK=$NODE_RUN/containerd/containerd.sock
KUBELET_ROOT=$NODE_LIB/kubelet
RECORD=$NODE_LIB/node
OWNER=$RECORD/owner
# Sysctls the node changes: the bridge plugin turns on forwarding; kubelet sets the others.
NODE_SYSCTLS="net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
PANIC_SYSCTLS="kernel.panic kernel.panic_on_oops vm.panic_on_oom"
# The names kubelet, kube-proxy and kube-router give their chains and sets, and our own.
NODE_CHAINS='^(KUBE-|PROGRESSION-)'
NODE_SETS='^(inet6:)?(KUBE-|kube-router)'
KUBE_ROUTER_HEALTH_PORT=20244
KUBE_PROXY_METRICS_PORT=10249

boot_id() { cat /proc/sys/kernel/random/boot_id; }

# The node's Debian packages this machine lacks (nothing when it has them all).
node_missing_packages() {
  local b missing=()
  for b in containerd ctr; do command -v "$b" >/dev/null || missing+=(containerd); done
  for b in runc ipset conntrack; do command -v "$b" >/dev/null || missing+=("$b"); done
  for b in iptables ip6tables; do command -v "$b" >/dev/null || missing+=(iptables); done
  for b in bridge host-local loopback; do [ -x "/usr/lib/cni/$b" ] || missing+=(containernetworking-plugins); done
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# A chain of kube-proxy's on the machine that the node did not make: another node's rules.
foreign_kube_proxy() {
  local ipt
  for ipt in iptables ip6tables; do
    if "$ipt" -t nat -S KUBE-SERVICES >/dev/null 2>&1 && ! node_made_chain "$ipt" nat KUBE-SERVICES; then
      echo "$ipt nat KUBE-SERVICES"; return 0
    fi
  done
  return 1
}
# True when the record (of this boot) says the chain was not there before the node.
node_made_chain() { # $1 = iptables|ip6tables, $2 = table, $3 = chain
  [ -f "$RECORD/chains" ] && [ "$(cat "$RECORD/boot" 2>/dev/null)" = "$(boot_id)" ] || return 1
  ! grep -qxF "$1 $2 $3" "$RECORD/chains"
}

# Why the real node cannot run here (printed, exit 0), or nothing (exit 1) when it can.
node_unavailable() { # $1 = name, $2 = dir of the cluster asking
  local missing foreign
  [ "$(id -u)" -eq 0 ] || { echo "it needs root (it runs containerd, kubelet and iptables); run as root or use --simulated"; return 0; }
  missing=$(node_missing_packages)
  if [ -n "$missing" ]; then
    echo "missing Debian packages: $missing; fix: apt-get install -y $missing"
    return 0
  fi
  [ -d /proc/sys/net/bridge ] || { echo "the kernel has no bridge netfilter (br_netfilter), so NetworkPolicies could not be enforced on bridged traffic; fix: modprobe br_netfilter"; return 0; }
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "no memory cgroup is mounted; fix: boot with the memory cgroup enabled"; return 0; }
  if foreign=$(foreign_kube_proxy); then
    echo "another Kubernetes node's kube-proxy rules are on this machine ($foreign), and this node's kube-proxy would rewrite them; stop that cluster or use --simulated"
    return 0
  fi
  local owner="" owner_dir=""
  if node_owner owner owner_dir && ! node_owned_by "$1" "$2" && running "$owner_dir/pids/kube-apiserver.pid"; then
    echo "the real node serves cluster '$owner' ($owner_dir); stop it first (PROGRESSION_CLUSTER=$owner cluster/cluster.sh down)"
    return 0
  fi
  return 1
}

# Installs the node's Debian packages with apt-get, saying so on one line; false when that fails.
node_install_packages() { # $1 = log file
  local missing
  missing=$(node_missing_packages)
  [ -n "$missing" ] || return 0
  command -v apt-get >/dev/null || return 1
  log "installing the real node's Debian packages: apt-get install -y $missing (log $1)"
  mkdir -p "$(dirname "$1")"
  # shellcheck disable=SC2086 # one word per package
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; }; } >>"$1" 2>&1 || return 1
  [ -z "$(node_missing_packages)" ]
}

# As root, loads br_netfilter when the kernel has it as a module not loaded yet, saying so on one
# line; the record notes it, and down unloads it.
node_load_br_netfilter() {
  [ ! -d /proc/sys/net/bridge ] && command -v modprobe >/dev/null || return 0
  log "loading the kernel module br_netfilter (NetworkPolicies on bridged traffic need it; down unloads it)"
  modprobe br_netfilter 2>/dev/null || return 0
  mkdir -p "$RECORD"; chmod 700 "$NODE_LIB" "$RECORD"
  echo br_netfilter >>"$RECORD/modules"
}

# Reads the record's owner into the named variables; false when there is none or it is malformed.
node_owner() { # $1, $2 = variable names (not _o, _d) for the cluster name and its directory
  local _o="" _d=""
  [ -f "$OWNER" ] || return 1
  read -r _o _d <"$OWNER" || [ -n "$_o" ] || return 1
  valid_name "$_o" || return 1
  case "$_d" in /*/clusters/"$_o") ;; *) return 1 ;; esac
  case "$_d" in *..* | *" "*) return 1 ;; esac
  printf -v "$1" '%s' "$_o"; printf -v "$2" '%s' "$_d"
}
# True when the node serves this cluster: its name and its directory (another cache's cluster of
# the same name is another cluster).
node_owned_by() { # $1 = name, $2 = dir
  local owner="" owner_dir=""
  node_owner owner owner_dir && [ "$owner" = "$1" ] && [ "$owner_dir" = "$2" ]
}

# Takes the node for this cluster; a previous owner that is gone is cleaned up first. The record
# of what the machine had before is written once per boot, so a restart after a crash keeps the
# values from before the node's first start.
node_claim() { # $1 = name, $2 = dir
  local owner="" owner_dir=""
  if node_owner owner owner_dir && ! node_owned_by "$1" "$2"; then
    log "the real node was left by cluster '$owner' ($owner_dir), which is gone: cleaning it up"
    node_down "$owner" "$owner_dir"
  fi
  mkdir -p "$RECORD"; chmod 700 "$NODE_LIB" "$RECORD"
  if [ "$(cat "$RECORD/boot" 2>/dev/null)" != "$(boot_id)" ]; then
    local s ipt table
    for s in $NODE_SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done >"$RECORD/sysctls.tmp"
    for ipt in iptables ip6tables; do
      for table in raw mangle nat filter; do
        "$ipt" -t "$table" -S 2>/dev/null | awk -v p="$ipt $table" '$1 == "-N" {print p, $2}' || true
      done
    done >"$RECORD/chains.tmp"
    ipset list -n >"$RECORD/sets.tmp" 2>/dev/null || : >"$RECORD/sets.tmp"
    { [ ! -d /run/netns ] || echo netns; ls -d /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods 2>/dev/null || true; } >"$RECORD/present.tmp"
    for s in sysctls chains sets present; do mv "$RECORD/$s.tmp" "$RECORD/$s"; done
    boot_id >"$RECORD/boot"
  fi
  echo "$1 $2" >"$OWNER"
}

# kubelet sets the host's panic behaviour when it starts (reboot 10 s after any oops); they go
# back to the recorded values once it has.
node_restore_panic() {
  local line key
  [ -f "$RECORD/sysctls" ] || return 0
  while IFS= read -r line; do
    key=${line%%=*}
    case " $PANIC_SYSCTLS " in *" $key "*) restore_sysctl "$line" ;; esac
  done <"$RECORD/sysctls"
}
restore_sysctl() { # $1 = key=value from the record; only the node's own keys, only numbers
  local key=${1%%=*} value=${1#*=}
  case " $NODE_SYSCTLS " in *" $key "*) ;; *) return 0 ;; esac
  [[ $value =~ ^[0-9]+$ ]] || return 0
  [ "$(sysctl -n "$key" 2>/dev/null)" = "$value" ] || sysctl -q -w "$key=$value" >/dev/null 2>&1 || true
}

# The bridge (with the node address), the service route and the isolation rules. Idempotent.
node_network_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$NODE_ADDR/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service addresses from the host go out the bridge with the node address as source, so the
  # host's own requests to a Service need no masquerade either.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_ADDR"
  # Nothing leaves the machine from the pod network and nothing enters it from outside:
  #   mangle FORWARD: a forwarded packet may only go from the bridge to the bridge, whatever its
  #     addresses say (a pod can forge its source). When forwarding was off before the node
  #     turned it on, nothing else is forwarded either: the machine routes as it did before;
  #   mangle POSTROUTING: a packet with a pod or service source leaving by any interface but the
  #     bridge (or loopback) is dropped, forwarded or not, before any NAT could rewrite it;
  #   raw PREROUTING: a packet for the pod or service range arriving on any other interface is
  #     dropped, so no neighbour can route into the pods or reach the node address.
  local range=198.18.0.0/15 forwarding_was
  forwarding_was=$(sed -n 's/^net.ipv4.ip_forward=//p' "$RECORD/sysctls" 2>/dev/null)
  new_chain mangle PROGRESSION-FORWARD
  iptables -t mangle -A PROGRESSION-FORWARD -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  iptables -t mangle -A PROGRESSION-FORWARD -i "$BRIDGE" -m comment --comment "pod traffic never leaves the machine" -j DROP
  iptables -t mangle -A PROGRESSION-FORWARD -o "$BRIDGE" -m comment --comment "nothing outside is forwarded into the pod network" -j DROP
  if [ "$forwarding_was" = 0 ]; then
    iptables -t mangle -A PROGRESSION-FORWARD -m comment --comment "forwarding was off before the node: only the bridge forwards" -j DROP
  fi
  jump mangle FORWARD PROGRESSION-FORWARD
  new_chain mangle PROGRESSION-EGRESS
  iptables -t mangle -A PROGRESSION-EGRESS -s "$range" -o "$BRIDGE" -j RETURN
  iptables -t mangle -A PROGRESSION-EGRESS -s "$range" -o lo -j RETURN
  iptables -t mangle -A PROGRESSION-EGRESS -s "$range" -m comment --comment "pod traffic never leaves the machine" -j DROP
  jump mangle POSTROUTING PROGRESSION-EGRESS
  new_chain raw PROGRESSION-INGRESS
  iptables -t raw -A PROGRESSION-INGRESS -d "$range" -i "$BRIDGE" -j RETURN
  iptables -t raw -A PROGRESSION-INGRESS -d "$range" -i lo -j RETURN
  iptables -t raw -A PROGRESSION-INGRESS -d "$range" -m comment --comment "nothing outside reaches the pod network" -j DROP
  jump raw PREROUTING PROGRESSION-INGRESS
  #   filter OUTPUT: the two loopback ports that answer without credentials (kube-proxy's metrics,
  #     kube-router's health) answer root only.
  new_chain filter PROGRESSION-LOCAL
  iptables -t filter -A PROGRESSION-LOCAL -o lo -p tcp -m multiport --dports "$KUBE_PROXY_METRICS_PORT,$KUBE_ROUTER_HEALTH_PORT" \
    -m owner ! --uid-owner 0 -m comment --comment "the node's metrics and health: root only" -j REJECT --reject-with tcp-reset
  jump filter OUTPUT PROGRESSION-LOCAL
}
new_chain() { iptables -t "$1" -N "$2" 2>/dev/null || iptables -t "$1" -F "$2"; } # $1 = table, $2 = chain: created, or emptied
jump() { iptables -t "$1" -C "$2" -j "$3" 2>/dev/null || iptables -t "$1" -I "$2" 1 -j "$3"; } # $1 = table, $2 = from, $3 = to

containerd_config() {
  mkdir -p "$NODE_RUN/containerd/certs.d/_default" "$NODE_RUN/cni/net.d" "$NODE_LIB/containerd"
  # Images come only from the import: a pull from any registry (progression.local or one named
  # in a stack's image) goes to a closed loopback port and fails at once, never to the network.
  printf 'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' \
    >"$NODE_RUN/containerd/certs.d/_default/hosts.toml"
  cat >"$NODE_RUN/containerd/config.toml" <<TOML
version = 2
root = "$NODE_LIB/containerd"
state = "$NODE_RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_LIB/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$1"
  # This VM withholds CAP_SYS_RESOURCE even from root: without this every sandbox fails to start.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_RUN/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE_RUN/containerd/certs.d"
TOML
  cat >"$NODE_RUN/cni/net.d/10-progression.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "progression",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_RUN/cni/addresses",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_ADDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "loopback" }
  ]
}
JSON
}

image_ref() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$dir/images.json"; }

start_containerd() {
  if ! running "$dir/pids/containerd.pid"; then
    containerd_config "$(image_ref pause)"
    start_daemon "$dir/pids/containerd.pid" "$dir/logs/containerd.log" containerd --config "$NODE_RUN/containerd/config.toml"
  fi
  for _ in $(seq 1 100); do
    ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1 && return 0
    running "$dir/pids/containerd.pid" || break
    sleep 0.1
  done
  die_log containerd "containerd did not start" "correct what its log says, then run cluster/cluster.sh up again"
}

kubelet_started=false
start_kubelet() {
  # One started by an earlier version of this script serves its read-only health port: restart it.
  if running "$dir/pids/kubelet.pid" && ! grep -qx 'healthzPort: 0' "$dir/kubelet.yaml" 2>/dev/null; then
    log "restarting kubelet: its configuration predates the closed health port"
    stop_daemon "$dir/pids/kubelet.pid"
  fi
  running "$dir/pids/kubelet.pid" && return 0
  kubelet_started=true
  component_kubeconfig kubelet
  mkdir -p "$KUBELET_ROOT"
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_ADDR
port: 10250
# Every port of kubelet's asks for a client certificate or a token; its read-only and plain
# health ports are closed (health is read over the authenticated port).
readOnlyPort: 0
healthzPort: 0
tlsCertFile: "$dir/pki/kubelet-serving.crt"
tlsPrivateKeyFile: "$dir/pki/kubelet-serving.key"
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$dir/pki/ca.crt" }
authorization: { mode: Webhook }
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
# Pods resolve through CoreDNS only; the machine's resolver and search domains stay out of them.
resolvConf: ""
serializeImagePulls: false
# Images cannot be pulled again here, so they are never garbage-collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2% }
maxPods: 110
YAML
  start_daemon "$dir/pids/kubelet.pid" "$dir/logs/kubelet.log" "$k8s_bin/kubelet" --config "$dir/kubelet.yaml" \
    --kubeconfig "$dir/kubeconfigs/kubelet.kubeconfig" --root-dir "$KUBELET_ROOT" --cert-dir "$KUBELET_ROOT/pki" \
    --hostname-override "$(node_name)" --node-ip "$NODE_ADDR" --node-labels "progression.dev/node=real"
}

start_kube_proxy() {
  restart_if_lacking "$dir/pids/kube-proxy.pid" --healthz-port
  running "$dir/pids/kube-proxy.pid" && return 0
  component_kubeconfig kube-proxy
  # The conntrack and localhost-NodePort settings leave the machine's sysctls alone. Its health
  # port answers anyone, so it stays closed (port 0; an empty --healthz-bind-address would bind
  # 0.0.0.0): it is ready when its rules are in place. Its metrics port cannot be closed (1.36
  # validates it as IP:port); only root reaches it (PROGRESSION-LOCAL).
  start_daemon "$dir/pids/kube-proxy.pid" "$dir/logs/kube-proxy.log" "$k8s_bin/kube-proxy" \
    --kubeconfig "$dir/kubeconfigs/kube-proxy.kubeconfig" --proxy-mode iptables --hostname-override "$(node_name)" \
    --cluster-cidr "$CLUSTER_CIDR" --nodeport-addresses "$NODE_ADDR/32" --iptables-localhost-nodeports=false \
    --conntrack-max-per-core 0 --conntrack-min 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --healthz-port 0 --metrics-bind-address "127.0.0.1:$KUBE_PROXY_METRICS_PORT"
}

start_kube_router() {
  running "$dir/pids/kube-router.pid" && return 0
  component_kubeconfig kube-router
  start_daemon "$dir/pids/kube-router.pid" "$dir/logs/kube-router.log" "$node_bin/kube-router" \
    --kubeconfig "$dir/kubeconfigs/kube-router.kubeconfig" --hostname-override "$(node_name)" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --enable-ipv6=false --service-cluster-ip-range "$SERVICE_CIDR" \
    --health-addr 127.0.0.1 --health-port "$KUBE_ROUTER_HEALTH_PORT" --metrics-port 0
}

node_rbac() {
  kubectl apply --server-side --force-conflicts -f - >/dev/null <<'YAML'
# The API server's own client to kubelet (logs, exec, port-forward).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: progression:kube-apiserver-kubelet-client }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kubelet-api-admin }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client }]
---
# kube-router's firewall reads pods, namespaces, nodes, services and NetworkPolicies.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: progression:kube-router }
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, services, nodes, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: progression:kube-router }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: progression:kube-router }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: system:kube-router }]
YAML
}

# Health checks, each true when the part serves.
kubelet_healthy() { # over its authenticated port, as the API server's kubelet client
  curl -fsS -m 2 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/apiserver-kubelet-client.crt" \
    --key "$dir/pki/apiserver-kubelet-client.key" "https://$NODE_ADDR:10250/healthz" >/dev/null 2>&1
}
kube_proxy_healthy() { # its rule for the kubernetes Service is in place
  local rules
  rules=$(iptables -t nat -S KUBE-SERVICES 2>/dev/null) || return 1
  [[ $rules == *"-d ${SERVICE_CIDR%.0/16}.1/32"* ]]
}
# kube-router's own health endpoint: loopback, root only (PROGRESSION-LOCAL). The isolation check
# reads it to tell whether NetworkPolicies are enforced.
kube_router_healthy() { curl -fsS -m 1 "http://127.0.0.1:$KUBE_ROUTER_HEALTH_PORT/healthz" >/dev/null 2>&1; }

wait_healthy() { # $1 = component; waits up to 60 s while the process lives
  local check=${1//-/_}_healthy
  for _ in $(seq 1 240); do
    "$check" && return 0
    running "$dir/pids/$1.pid" || die_log "$1" "$1 exited while starting" "correct what its log says, then run cluster/cluster.sh up again"
    sleep 0.25
  done
  die_log "$1" "$1 did not become healthy within 60 s" "correct what its log says, then run cluster/cluster.sh up again"
}

node_up() { # $1 = name, $2 = dir
  local t0=$SECONDS
  "$repo/cluster/images.sh" build "$dir/images.json"
  start_containerd
  "$repo/cluster/images.sh" import "$CONTAINERD_SOCK" "$dir/images.json"
  node_rbac
  start_kubelet
  wait_healthy kubelet
  # kube-proxy and kube-router read their Node object, which kubelet registers.
  for _ in $(seq 1 120); do kubectl get node "$(node_name)" >/dev/null 2>&1 && break; sleep 0.5; done
  if [ "$kubelet_started" = true ]; then node_restore_panic_when_set; else node_restore_panic; fi
  start_kube_proxy
  start_kube_router
  wait_healthy kube-proxy
  wait_healthy kube-router
  log "node processes up in $((SECONDS - t0))s"
}

# CoreDNS as kube-dns, and the ingress proxy the smoke checks go through.
node_addons() { # $1 = name, $2 = dir
  local coredns tools
  coredns=$(image_ref coredns); tools=$(image_ref tools)
  kubectl apply --server-side --force-conflicts -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: { name: coredns, namespace: kube-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: system:coredns }
rules:
  - apiGroups: [""]
    resources: [services, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: system:coredns }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns }
subjects: [{ kind: ServiceAccount, name: coredns, namespace: kube-system }]
---
# cluster.local and the reverse zones of the pod and service ranges; no forwarder, so every other
# name is REFUSED and no query leaves the cluster.
apiVersion: v1
kind: ConfigMap
metadata: { name: coredns, namespace: kube-system }
data:
  Corefile: |
    cluster.local:53 18.198.in-addr.arpa:53 19.198.in-addr.arpa:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local 18.198.in-addr.arpa 19.198.in-addr.arpa {
            pods disabled
            ttl 5
        }
        cache 5
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: coredns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  replicas: 1
  selector: { matchLabels: { k8s-app: kube-dns } }
  template:
    metadata: { labels: { k8s-app: kube-dns } }
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: { type: RuntimeDefault }
        # Port 53 without root or a capability: unprivileged ports start at 53 in this pod only.
        sysctls: [{ name: net.ipv4.ip_unprivileged_port_start, value: "53" }]
      containers:
        - name: coredns
          image: $coredns
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - { name: dns, containerPort: 53, protocol: UDP }
            - { name: dns-tcp, containerPort: 53, protocol: TCP }
          resources: { requests: { cpu: 10m, memory: 32Mi }, limits: { memory: 128Mi } }
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
          readinessProbe: { httpGet: { path: /ready, port: 8181 }, periodSeconds: 2 }
          livenessProbe: { httpGet: { path: /health, port: 8080 }, periodSeconds: 10 }
          volumeMounts: [{ name: config, mountPath: /etc/coredns, readOnly: true }]
      volumes: [{ name: config, configMap: { name: coredns } }]
---
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  clusterIP: $DNS_SERVICE_IP
  selector: { k8s-app: kube-dns }
  ports:
    - { name: dns, port: 53, protocol: UDP, targetPort: 53 }
    - { name: dns-tcp, port: 53, protocol: TCP, targetPort: 53 }
---
apiVersion: v1
kind: Namespace
metadata:
  name: ingress-nginx
  labels: { pod-security.kubernetes.io/enforce: restricted }
---
# Stands in for an ingress controller: requests enter the cluster here and go to the apps'
# Services (see cluster/pods/ingress.ts). Its labels are ingress-nginx's controller labels.
apiVersion: apps/v1
kind: Deployment
metadata: { name: controller, namespace: ingress-nginx }
spec:
  replicas: 1
  selector: { matchLabels: { app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller } }
  template:
    metadata: { labels: { app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller } }
    spec:
      automountServiceAccountToken: false
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: controller
          image: $tools
          command: [node, /tools/ingress.ts]
          ports: [{ name: http, containerPort: 8080, protocol: TCP }]
          resources: { requests: { cpu: 10m, memory: 32Mi }, limits: { memory: 128Mi } }
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
          readinessProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 2 }
---
apiVersion: v1
kind: Service
metadata: { name: controller, namespace: ingress-nginx }
spec:
  clusterIP: $INGRESS_SERVICE_IP
  selector: { app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller }
  ports: [{ name: http, port: 80, targetPort: http, protocol: TCP }]
YAML
  kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null 2>&1 ||
    die "CoreDNS did not become ready within 120 s ($(pod_reasons kube-system k8s-app=kube-dns)); fix: see kubectl --kubeconfig $kubeconfig -n kube-system describe pods, then run cluster/cluster.sh up again"
  kubectl -n ingress-nginx rollout status deployment/controller --timeout=120s >/dev/null 2>&1 ||
    die "the ingress proxy did not become ready within 120 s ($(pod_reasons ingress-nginx app.kubernetes.io/name=ingress-nginx)); fix: see kubectl --kubeconfig $kubeconfig -n ingress-nginx describe pods, then run cluster/cluster.sh up again"
}

# Each pod's phase and why it waits, on one line.
pod_reasons() { # $1 = namespace, $2 = label selector
  kubectl -n "$1" get pods -l "$2" -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.containerStatuses[*].state.waiting.reason}; {end}' 2>/dev/null || echo "pods unreadable"
}

# kubelet sets the panic sysctls once, as it starts: once it has, they go back.
node_restore_panic_when_set() {
  for _ in $(seq 1 60); do
    [ "$(sysctl -n kernel.panic)" = 10 ] && [ "$(sysctl -n kernel.panic_on_oops)" = 1 ] && break
    sleep 0.25
  done
  node_restore_panic
}

# After up: a part that stopped while up ran (killed after its own check) fails this up.
node_still_running() {
  local c
  for c in containerd kubelet kube-proxy kube-router; do
    running "$dir/pids/$c.pid" || die_log "$c" "$c stopped while up ran" "run cluster/cluster.sh up again"
  done
}

# One line per part; exit 1 when any is down.
node_status() { # $1 = name, $2 = dir
  local bad=0 c
  for c in containerd kubelet kube-proxy kube-router; do
    if ! running "$2/pids/$c.pid"; then
      echo "  $c: NOT RUNNING (log $2/logs/$c.log)$([ $c = kube-router ] && echo '; NetworkPolicies are NOT enforced')"; bad=1
    elif [ $c != containerd ] && ! "${c//-/_}_healthy"; then
      echo "  $c: running but unhealthy (log $2/logs/$c.log)"; bad=1
    else
      echo "  $c: running (pid $(pid_of "$2/pids/$c.pid"))"
    fi
  done
  local dns
  dns=$(kubectl -n kube-system get deployment coredns -o 'jsonpath={.status.readyReplicas}' 2>/dev/null || true)
  if [ "${dns:-0}" -ge 1 ]; then echo "  coredns (kube-dns $DNS_SERVICE_IP): ready"; else echo "  coredns (kube-dns $DNS_SERVICE_IP): NOT READY"; bad=1; fi
  return $bad
}

# The chains of the node's programs' names (NODE_CHAINS) that the record did not see before it.
node_chains() { # $1 = iptables|ip6tables, $2 = table
  local before=/dev/null
  [ ! -f "$RECORD/chains" ] || before=$RECORD/chains
  "$1" -t "$2" -S 2>/dev/null | awk -v ipt="$1" -v table="$2" -v re="$NODE_CHAINS" -v rec="$before" '
    FILENAME == rec { if ($1 == ipt && $2 == table) seen[$3] = 1; next }
    $1 == "-N" && $2 ~ re && !($2 in seen) && $2 ~ /^[A-Za-z0-9_.-]+$/ { print $2 }' "$before" -
}

# Removes the node's chains and every rule that jumps to them, by chain and rule number.
node_remove_rules() {
  local ipt table mine chain num
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in raw mangle nat filter; do
      mine=$(node_chains "$ipt" "$table" | tr '\n' ' ') || true
      [ -n "$mine" ] || continue
      # The jumps into them from chains that stay, last rule first so the numbers hold.
      "$ipt" -t "$table" -S 2>/dev/null | awk -v mine=" $mine" '
        $1 == "-A" { n[$2]++; if (index(mine, " " $2 " ")) next
          for (i = 3; i < NF; i++) if (($i == "-j" || $i == "-g") && index(mine, " " $(i + 1) " ")) { print $2, n[$2]; break } }' |
        sort -k1,1 -k2,2nr | while read -r chain num; do
          [[ $chain =~ ^[A-Za-z0-9_.-]+$ && $num =~ ^[0-9]+$ ]] && "$ipt" -t "$table" -D "$chain" "$num" 2>/dev/null || true
        done || true
      for chain in $mine; do "$ipt" -t "$table" -F "$chain" 2>/dev/null || true; done
      for chain in $mine; do "$ipt" -t "$table" -X "$chain" 2>/dev/null || true; done
    done
  done
}

# Destroys the sets of the node's programs' names (NODE_SETS) that the record did not see before it.
node_remove_sets() {
  command -v ipset >/dev/null || return 0
  local before=/dev/null set
  [ ! -f "$RECORD/sets" ] || before=$RECORD/sets
  ipset list -n 2>/dev/null | awk -v re="$NODE_SETS" -v rec="$before" 'FILENAME == rec { seen[$0] = 1; next } $0 ~ re && !($0 in seen)' "$before" - |
    while IFS= read -r set; do ipset destroy "$set" 2>/dev/null || true; done || true
}

# Stops the node and undoes every change it made to the machine, from the record. Safe to run
# twice, and after a crash or a reboot (the kernel's side is gone then; files remain).
node_down() { # $1 = name, $2 = dir
  local d=$2 c same_boot=false
  [ "$(cat "$RECORD/boot" 2>/dev/null)" = "$(boot_id)" ] && same_boot=true
  # Their state is rebuilt on the next start and their rules are removed below: no grace needed.
  for c in kube-router kube-proxy kubelet; do stop_daemon "$d/pids/$c.pid" 0; done
  # Every pod's containers and sandboxes go with their tasks; their network namespaces go below.
  local ctr_k8s=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
  if "${ctr_k8s[@]}" version >/dev/null 2>&1; then
    # Each task's first process, killed at once (its shim reports the exit), then all deleted.
    local pids
    pids=$("${ctr_k8s[@]}" tasks ls 2>/dev/null | awk 'NR > 1 && $2 ~ /^[0-9]+$/ && $2 > 1 {print $2}') || true
    # shellcheck disable=SC2086 # one word per pid
    [ -z "$pids" ] || { kill -KILL $pids 2>/dev/null || true; sleep 0.5; }
    "${ctr_k8s[@]}" tasks ls -q 2>/dev/null | xargs -r "${ctr_k8s[@]}" tasks delete -f >/dev/null 2>&1 || true
    "${ctr_k8s[@]}" containers ls -q 2>/dev/null | xargs -r "${ctr_k8s[@]}" containers delete >/dev/null 2>&1 || true
  fi
  stop_daemon "$d/pids/containerd.pid"
  # Whatever of the node is still running without a pid file (a shim whose task could not be
  # deleted, the processes of a cluster whose files are gone) names the node's own paths.
  local f cmd
  for f in /proc/[0-9]*/cmdline; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    case "$cmd" in
      *"-address $CONTAINERD_SOCK "* | *"--config $NODE_RUN/containerd/config.toml"* | *"--root-dir $KUBELET_ROOT "* | *"$d/kubeconfigs/kube-proxy.kubeconfig"* | *"$d/kubeconfigs/kube-router.kubeconfig"*)
        f=${f#/proc/}; kill -KILL "${f%/cmdline}" 2>/dev/null || true ;;
    esac
  done
  if $same_boot; then
    # Containers whose shim is gone (containerd and its shims killed) still run in kubelet's cgroups.
    local cg
    for cg in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
      [ -d "$cg" ] && ! grep -qxF "$cg" "$RECORD/present" 2>/dev/null || continue
      { find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -KILL 2>/dev/null; } || true
    done
    node_remove_rules
    node_remove_sets
  fi
  # Mounts under the node's paths and the pods' network namespaces, deepest first.
  local m
  awk -v re="^($NODE_RUN|$KUBELET_ROOT|/run/netns/cni-[^/]*)(/|\$)" '$5 ~ re {print $5}' /proc/self/mountinfo | sort -r |
    while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  for f in /run/netns/cni-*; do [ ! -e "$f" ] || rm -f -- "$f"; done
  # The pods' veths, then the bridge (its addresses and routes go with it).
  local link
  ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
    while IFS= read -r link; do [[ $link =~ ^[A-Za-z0-9_.-]+$ ]] && ip link del "$link" 2>/dev/null || true; done || true
  ip link del "$BRIDGE" 2>/dev/null || true
  if $same_boot; then
    # kubelet's cgroups (pods are gone, so they are empty), deepest first, unless they were there before.
    for cg in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
      [ -d "$cg" ] || continue
      ! grep -qxF "$cg" "$RECORD/present" 2>/dev/null || continue
      find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    local line
    [ ! -f "$RECORD/sysctls" ] || while IFS= read -r line; do restore_sysctl "$line"; done <"$RECORD/sysctls"
    grep -qx netns "$RECORD/present" 2>/dev/null || rmdir /run/netns 2>/dev/null || true
    ! grep -qx br_netfilter "$RECORD/modules" 2>/dev/null || rmmod br_netfilter 2>/dev/null || true
  fi
  remove_tree "$KUBELET_ROOT"
  remove_tree "$NODE_RUN"
  rm -f "$RECORD/owner" "$RECORD/boot" "$RECORD/sysctls" "$RECORD/chains" "$RECORD/sets" "$RECORD/present" "$RECORD/modules"
  rmdir "$RECORD" 2>/dev/null || true
}
