#!/usr/bin/env bash
# Builds the sandbox images without a registry: Debian packages -> mmdebstrap rootfs ->
# `docker build` FROM scratch. An image is rebuilt only when its recipe changes (the
# recipe hash is an image label). Writes the built image IDs to $AIRLOCK_DATA_DIR/images.json:
# jobs run images by that ID, never by a mutable tag.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${AIRLOCK_DATA_DIR:-$root/.airlock}
suite=${AIRLOCK_IMAGE_SUITE:-bookworm}
mkdir -p "$data"
names=(python node shell)

recipe_hash() {
  cat "$root/images/$1/Dockerfile" "$root/images/$1/packages" "$root/images/airlock-init" "$root/images/airlock-watch" \
      "$root/scripts/build-images.sh" | sha256sum | cut -c1-16
}

build_one() {
  local name=$1 hash=$2 ctx
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  local pkgs
  pkgs=$(paste -sd, "$root/images/$name/packages")
  # essential variant + the listed packages; drop docs/locales; strip setuid/setgid bits;
  # add the init user (10002). Jobs run as ids of their own, named at container start: the
  # base passwd/group move to /usr/share/airlock and /etc/passwd, /etc/group link to the
  # per-container tmpfs /etc/airlock that the init user fills (images/airlock-init idle).
  mmdebstrap --quiet --variant=essential --include="$pkgs" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='find "$1" -xdev -perm /6000 -type f -exec chmod ug-s {} +' \
    --customize-hook='echo "airlock-init:x:10002:10002:airlock init:/nonexistent:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "airlock-init:x:10002:" >> "$1/etc/group"' \
    --customize-hook='mkdir -p "$1/work"' \
    --customize-hook='grep -q myhostname "$1/etc/nsswitch.conf" || sed -i "s/^hosts:.*/hosts: files myhostname dns/" "$1/etc/nsswitch.conf"' \
    --customize-hook='rm -rf "$1/var/cache/apt" "$1/var/lib/apt/lists"' \
    --customize-hook='mkdir -p "$1/usr/share/airlock" "$1/etc/airlock" && mv "$1/etc/passwd" "$1/etc/group" "$1/usr/share/airlock/" && ln -s airlock/passwd "$1/etc/passwd" && ln -s airlock/group "$1/etc/group"' \
    "$suite" "$ctx/rootfs.tar"
  cp "$root/images/$name/Dockerfile" "$root/images/airlock-init" "$root/images/airlock-watch" "$ctx/"
  DOCKER_BUILDKIT=0 docker build --quiet --label "airlock.recipe=$hash" --label "airlock.runtime=$name" \
    -t "airlock/$name:$hash" -t "airlock/$name:latest" "$ctx" 2> >(grep -v -e DEPRECATED -e "legacy builder" -e buildx -e BuildKit -e "environment-variable" -e "^ *$" -e "docs.docker.com" >&2) >/dev/null
}

pids=()
for name in "${names[@]}"; do
  hash=$(recipe_hash "$name")
  if docker image inspect "airlock/$name:$hash" >/dev/null 2>&1; then continue; fi
  echo "setup: building sandbox image airlock/$name (mmdebstrap, ~20 s)"
  build_one "$name" "$hash" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

# Record the IDs (content digests of the image config) the worker will run.
{
  printf '{\n'
  sep=""
  for name in "${names[@]}"; do
    hash=$(recipe_hash "$name")
    id=$(docker image inspect --format '{{.Id}}' "airlock/$name:$hash")
    printf '%s  "%s": { "id": "%s", "tag": "airlock/%s:%s" }' "$sep" "$name" "$id" "$name" "$hash"
    sep=$',\n'
  done
  printf '\n}\n'
} > "$data/images.json.tmp"
mv "$data/images.json.tmp" "$data/images.json"
