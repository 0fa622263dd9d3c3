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
# What it changes on the machine, all undone by node_down: ip_forward and the sysctls kubelet
# sets (saved first, restored after), iptables chains (KUBE-*, PROGRESSION-*, kube-router's) and
# ipsets, the bridge and its routes, /run/netns entries and every mount under its own paths, and
# kubelet's cgroups.

NODE_RUN=/run/env-progression          # sockets, containerd state, CNI config and addresses
NODE_LIB=/var/lib/env-progression      # containerd's content (the imported images stay) and kubelet
BRIDGE=progression0
CONTAINERD_SOCK=$NODE_RUN/containerd/containerd.sock
KUBELET_ROOT=$NODE_LIB/kubelet
SAVED_SYSCTLS=$NODE_RUN/saved-sysctls
OWNER=$NODE_RUN/owner
# Sysctls the node changes: the bridge plugin turns on forwarding; kubelet sets the other three.
NODE_SYSCTLS="net.ipv4.ip_forward vm.overcommit_memory kernel.panic kernel.panic_on_oops"
KUBELET_HEALTH=127.0.0.1:10248
KUBE_PROXY_HEALTH=127.0.0.1:10256
KUBE_ROUTER_HEALTH_PORT=20244

# Why the real node cannot run here (printed, exit 0), or nothing (exit 1) when it can.
node_unavailable() { # $1 = cluster name asking
  local b missing=()
  [ "$(id -u)" -eq 0 ] || { echo "it needs root (it runs containerd, kubelet and iptables); run as root or use --simulated"; return 0; }
  for b in containerd ctr runc iptables ip6tables ipset conntrack; do command -v "$b" >/dev/null || missing+=("$b"); done
  for b in bridge host-local loopback; do [ -x "/usr/lib/cni/$b" ] || missing+=("cni/$b"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing ${missing[*]}; fix: apt-get install containerd runc containernetworking-plugins iptables ipset conntrack"
    return 0
  fi
  [ -d /proc/sys/net/bridge ] || { echo "the kernel has no bridge netfilter (br_netfilter); NetworkPolicies could not be enforced on bridged traffic"; return 0; }
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "no memory cgroup is mounted"; return 0; }
  if [ -f "$OWNER" ]; then
    local owner owner_dir
    read -r owner owner_dir <"$OWNER"
    if [ "$owner" != "$1" ] && running "$owner_dir/pids/kube-apiserver.pid"; then
      echo "the real node serves cluster '$owner'; stop it first (PROGRESSION_CLUSTER=$owner cluster/cluster.sh down)"
      return 0
    fi
  fi
  return 1
}

node_owned_by() { [ -f "$OWNER" ] && [ "$(cut -d' ' -f1 "$OWNER")" = "$1" ]; }

# Takes the node for this cluster; a previous owner that is gone is cleaned up first.
node_claim() { # $1 = name, $2 = dir
  if [ -f "$OWNER" ] && ! node_owned_by "$1"; then
    local owner owner_dir
    read -r owner owner_dir <"$OWNER"
    log "the real node was left by cluster '$owner', which is gone: cleaning it up"
    node_down "$owner" "$owner_dir"
  fi
  mkdir -p "$NODE_RUN"
  if [ ! -f "$SAVED_SYSCTLS" ]; then
    local s
    for s in $NODE_SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done >"$SAVED_SYSCTLS"
    [ -d /run/netns ] && echo "netns-existed" >>"$SAVED_SYSCTLS"
  fi
  echo "$1 $2" >"$OWNER"
}

# The bridge (with the node address), the service route and the isolation rules. Idempotent.
node_network_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr show dev "$BRIDGE" | grep -q "inet $NODE_ADDR/" || ip addr add "$NODE_ADDR/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service addresses from the host go out the bridge with the node address as source, so the
  # host's own requests to a Service need no masquerade either.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_ADDR"
  # Nothing leaves the machine from the pod network and nothing enters it from outside:
  #   mangle POSTROUTING: a packet with a pod or service source leaving by any interface but the
  #     bridge (or loopback) is dropped, forwarded or not, before any NAT could rewrite it;
  #   raw PREROUTING: a packet for the pod or service range arriving on any other interface is
  #     dropped, so no neighbour can route into the pods or reach the node address.
  local range=198.18.0.0/15
  iptables -t mangle -N PROGRESSION-EGRESS 2>/dev/null || iptables -t mangle -F PROGRESSION-EGRESS
  iptables -t mangle -A PROGRESSION-EGRESS -s "$range" -o "$BRIDGE" -j RETURN
  iptables -t mangle -A PROGRESSION-EGRESS -s "$range" -o lo -j RETURN
  iptables -t mangle -A PROGRESSION-EGRESS -s "$range" -m comment --comment "pod traffic never leaves the machine" -j DROP
  iptables -t mangle -C POSTROUTING -j PROGRESSION-EGRESS 2>/dev/null || iptables -t mangle -I POSTROUTING 1 -j PROGRESSION-EGRESS
  iptables -t raw -N PROGRESSION-INGRESS 2>/dev/null || iptables -t raw -F PROGRESSION-INGRESS
  iptables -t raw -A PROGRESSION-INGRESS -d "$range" -i "$BRIDGE" -j RETURN
  iptables -t raw -A PROGRESSION-INGRESS -d "$range" -i lo -j RETURN
  iptables -t raw -A PROGRESSION-INGRESS -d "$range" -m comment --comment "nothing outside reaches the pod network" -j DROP
  iptables -t raw -C PREROUTING -j PROGRESSION-INGRESS 2>/dev/null || iptables -t raw -I PREROUTING 1 -j PROGRESSION-INGRESS
}

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
  show_log containerd; die "containerd did not start"
}

start_kubelet() {
  running "$dir/pids/kubelet.pid" && return 0
  component_kubeconfig kubelet
  mkdir -p "$KUBELET_ROOT"
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_ADDR
port: 10250
readOnlyPort: 0
healthzBindAddress: ${KUBELET_HEALTH%:*}
healthzPort: ${KUBELET_HEALTH#*:}
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
  running "$dir/pids/kube-proxy.pid" && return 0
  component_kubeconfig kube-proxy
  # The conntrack and localhost-NodePort settings leave the machine's sysctls alone.
  start_daemon "$dir/pids/kube-proxy.pid" "$dir/logs/kube-proxy.log" "$k8s_bin/kube-proxy" \
    --kubeconfig "$dir/kubeconfigs/kube-proxy.kubeconfig" --proxy-mode iptables --hostname-override "$(node_name)" \
    --cluster-cidr "$CLUSTER_CIDR" --nodeport-addresses "$NODE_ADDR/32" --iptables-localhost-nodeports=false \
    --conntrack-max-per-core 0 --conntrack-min 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --healthz-bind-address "$KUBE_PROXY_HEALTH" --metrics-bind-address 127.0.0.1:10249
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

wait_healthy() { # $1 = component, $2 = URL; waits up to 60 s while the process lives
  for _ in $(seq 1 240); do
    curl -fsS -m 1 "$2" >/dev/null 2>&1 && return 0
    running "$dir/pids/$1.pid" || break
    sleep 0.25
  done
  show_log "$1"; die "$1 did not become healthy ($2)"
}

node_up() { # $1 = name, $2 = dir
  local t0=$SECONDS
  "$repo/cluster/images.sh" build "$dir/images.json"
  start_containerd
  "$repo/cluster/images.sh" import "$CONTAINERD_SOCK" "$dir/images.json"
  node_rbac
  start_kubelet
  wait_healthy kubelet "http://$KUBELET_HEALTH/healthz"
  # kube-proxy and kube-router read their Node object, which kubelet registers.
  for _ in $(seq 1 120); do kubectl get node "$(node_name)" >/dev/null 2>&1 && break; sleep 0.5; done
  start_kube_proxy
  start_kube_router
  wait_healthy kube-proxy "http://$KUBE_PROXY_HEALTH/healthz"
  wait_healthy kube-router "http://127.0.0.1:$KUBE_ROUTER_HEALTH_PORT/healthz"
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
  kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null ||
    { kubectl -n kube-system describe pods -l k8s-app=kube-dns >&2; die "CoreDNS did not become ready"; }
  kubectl -n ingress-nginx rollout status deployment/controller --timeout=120s >/dev/null ||
    { kubectl -n ingress-nginx describe pods >&2; die "the ingress proxy did not become ready"; }
}

# One line per part; exit 1 when any is down.
node_status() { # $1 = name, $2 = dir
  local bad=0 c url
  for c in containerd kubelet kube-proxy kube-router; do
    case $c in
      containerd) url="" ;;
      kubelet) url="http://$KUBELET_HEALTH/healthz" ;;
      kube-proxy) url="http://$KUBE_PROXY_HEALTH/healthz" ;;
      kube-router) url="http://127.0.0.1:$KUBE_ROUTER_HEALTH_PORT/healthz" ;;
    esac
    if ! running "$2/pids/$c.pid"; then
      echo "  $c: NOT RUNNING (log $2/logs/$c.log)$([ $c = kube-router ] && echo '; NetworkPolicies are NOT enforced')"; bad=1
    elif [ -n "$url" ] && ! curl -fsS -m 2 "$url" >/dev/null 2>&1; then
      echo "  $c: running but unhealthy ($url; log $2/logs/$c.log)"; bad=1
    else
      echo "  $c: running (pid $(pid_of "$2/pids/$c.pid"))"
    fi
  done
  local dns
  dns=$(kubectl -n kube-system get deployment coredns -o 'jsonpath={.status.readyReplicas}' 2>/dev/null || true)
  if [ "${dns:-0}" -ge 1 ]; then echo "  coredns (kube-dns $DNS_SERVICE_IP): ready"; else echo "  coredns (kube-dns $DNS_SERVICE_IP): NOT READY"; bad=1; fi
  return $bad
}

# Stops the node and undoes every change it made to the machine. Safe to run twice.
node_down() { # $1 = name, $2 = dir
  local d=$2 c
  # Their state is rebuilt on the next start and their rules are removed below: no grace needed.
  for c in kube-router kube-proxy kubelet; do stop_daemon "$d/pids/$c.pid" 0; done
  # Every pod's containers and sandboxes go with their tasks; their network namespaces go below.
  local ctr_k8s=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
  if "${ctr_k8s[@]}" version >/dev/null 2>&1; then
    # Each task's first process, killed at once (its shim reports the exit), then all deleted.
    local pids
    pids=$("${ctr_k8s[@]}" tasks ls 2>/dev/null | awk 'NR > 1 && $2 ~ /^[0-9]+$/ && $2 > 1 {print $2}')
    # shellcheck disable=SC2086
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
  # Rules and sets: kube-proxy's and kube-router's own cleanup, then any chain left by name.
  [ ! -x "$k8s_bin/kube-proxy" ] || "$k8s_bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
  [ ! -x "$node_bin/kube-router" ] || "$node_bin/kube-router" --cleanup-config >/dev/null 2>&1 || true
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v $ipt >/dev/null || continue
    for table in raw mangle nat filter; do
      $ipt -t $table -S 2>/dev/null | awk '$1 == "-A" && $0 ~ /-j (KUBE-|PROGRESSION-)/' | sed 's/^-A/-D/' |
        while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null || true; done
      for chain in $($ipt -t $table -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|PROGRESSION-)/ {print $2}'); do
        $ipt -t $table -F "$chain" 2>/dev/null || true
      done
      for chain in $($ipt -t $table -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|PROGRESSION-)/ {print $2}'); do
        $ipt -t $table -X "$chain" 2>/dev/null || true
      done
    done
  done
  if command -v ipset >/dev/null; then
    for chain in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' || true); do ipset destroy "$chain" 2>/dev/null || true; done
  fi
  # Mounts under the node's paths and the pods' network namespaces, deepest first.
  local m
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E "^($NODE_RUN|$KUBELET_ROOT|/run/netns/cni-)" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -f /run/netns/cni-* 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  # kubelet's cgroups (pods are gone, so they are empty), deepest first.
  local cg
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -f "$SAVED_SYSCTLS" ]; then
    local line
    while read -r line; do
      case "$line" in
        *=*) sysctl -q -w "$line" >/dev/null 2>&1 || true ;;
      esac
    done <"$SAVED_SYSCTLS"
    grep -qx netns-existed "$SAVED_SYSCTLS" || rmdir /run/netns 2>/dev/null || true
  fi
  rm -rf "$KUBELET_ROOT" "$NODE_RUN"
}
