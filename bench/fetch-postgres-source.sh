#!/usr/bin/env bash
# Fetches and unpacks the PostgreSQL 15 source (Debian's source package) into
# DEST (default bench/data/postgresql-15), a large real C tree for the indexing
# benchmark. Adds a deb-src entry for bookworm if none is configured.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
DEST="${1:-$REPO_ROOT/bench/data/postgresql-15}"
[ -d "$DEST/src/backend" ] && { echo "$DEST"; exit 0; }
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding a deb-src entry for bookworm"
    as_root tee /etc/apt/sources.list.d/signal-hub-deb-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    as_root apt-get update -qq
fi
install_packages /dev/stdin <<<"dpkg-dev"
work="$(mktemp -d)"
(cd "$work" && apt-get source --download-only -qq postgresql-15 >/dev/null && dpkg-source -x --no-check ./*.dsc src >/dev/null)
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$work/src" "$DEST"
rm -rf "$work"
echo "$DEST"
