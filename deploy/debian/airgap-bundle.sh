#!/usr/bin/env bash
# Makes the air-gapped bundle of Signal Hub: everything an offline Debian 12 host needs.
#
#   deploy/debian/airgap-bundle.sh DEB OUTDIR [IMAGE]
#
# DEB     the package built by deploy/debian/build-deb.sh
# OUTDIR  the bundle directory (created; must be empty or missing):
#           debs/     the package and every package it depends on, recursively, from this host's apt
#                     sources (so that it installs on a minimal Debian 12 too)
#           signal-hub-image.tar.gz  `docker save IMAGE | gzip` (only with IMAGE)
#           README    how to install from the bundle
#           SHA256SUMS  of every file above; check with `sha256sum -c SHA256SUMS` on the offline host
# IMAGE   a container image to save next to the package, e.g. signal-hub:0.1.0 (needs docker)
#
# Run it on a networked Debian 12 host of the same architecture as the offline ones, as root (apt).
set -euo pipefail

[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 DEB OUTDIR [IMAGE]" >&2; exit 2; }
DEB="$1" OUT="$2" IMAGE="${3:-}"
die() { echo "airgap-bundle.sh: error: $*" >&2; exit "${2:-2}"; }
[ -f "$DEB" ] || die "$DEB: no such package file (build it with deploy/debian/build-deb.sh)" 3
PKG="$(dpkg-deb -f "$DEB" Package)" && [ -n "$PKG" ] || die "$DEB is not a Debian package" 2
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then die "$OUT is not empty: pass a new directory" 4; fi
mkdir -p "$OUT/debs"
OUT="$(cd "$OUT" && pwd)"
cp "$DEB" "$OUT/debs/"

# The dependency closure as apt resolves it for a system that has only the essential packages, so
# that the bundle installs on a minimal Debian 12 too: a private dpkg status with nothing installed
# but apt's own view of the archives (the host's lists; run `apt-get update` first).
STATE="$(mktemp -d "${TMPDIR:-/tmp}/airgap-apt.XXXXXX")"
trap 'rm -rf "$STATE"' EXIT
mkdir -p "$STATE/lists/partial" "$STATE/archives/partial"
: > "$STATE/status"
cp -a /var/lib/apt/lists/. "$STATE/lists/" 2>/dev/null || true
APT=(-o "Dir::State::status=$STATE/status" -o "Dir::State::Lists=$STATE/lists"
     -o "Dir::Cache::Archives=$STATE/archives" -o "Debug::NoLocking=1" -o "APT::Install-Recommends=false")
DEPS="$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//; s/[[:space:]]//g' | grep -v '^$')"
# The whole closure, libc6 included: on the offline host dpkg skips what is installed already at the
# same or a newer version (--skip-same-version --refuse-downgrade) and upgrades what is older.
# shellcheck disable=SC2086
apt-get "${APT[@]}" --download-only --yes install $DEPS >"$STATE/apt.log" 2>&1 ||
    die "apt-get could not download the dependencies ($(tail -n 3 "$STATE/apt.log" | tr '\n' ' ')); run apt-get update" 6
cp "$STATE"/archives/*.deb "$OUT/debs/"

if [ -n "$IMAGE" ]; then
    command -v docker >/dev/null || die "docker is not installed: cannot save $IMAGE" 6
    docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE in the local docker (build or load it first)" 3
    docker save "$IMAGE" | gzip -n > "$OUT/signal-hub-image.tar.gz"
fi

cat > "$OUT/README" <<README
Signal Hub air-gapped bundle: $(basename "$DEB") ($(dpkg-deb -f "$DEB" Version), $(dpkg-deb -f "$DEB" Architecture))
made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")

On the offline host (Debian 12, same architecture), as root, in this directory:
  sha256sum -c SHA256SUMS
  dpkg --install --skip-same-version --refuse-downgrade debs/*.deb
$( [ -n "$IMAGE" ] && printf '  docker load -i signal-hub-image.tar.gz         # the container image %s\n' "$IMAGE")
Then follow /usr/share/doc/signal-hub/README.Debian (index a tree, systemctl enable --now signal-hub).
README
(cd "$OUT" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
echo "$OUT"
