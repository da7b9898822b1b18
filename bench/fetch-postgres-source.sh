#!/usr/bin/env bash
# Fetches and unpacks the PostgreSQL 15 source (Debian's source package) into
# DEST (default bench/data/postgresql-15), a large real C tree for the indexing
# benchmark. Adds a deb-src entry for bookworm if none is configured.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
DEST="${1:-$REPO_ROOT/bench/data/postgresql-15}"
[ -d "$DEST/src/backend" ] && { echo "$DEST"; exit 0; }
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Source entries for the same mirror the machine already uses for binaries.
    uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    [ -n "$uri" ] || uri="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
    [ -n "$uri" ] || die "no Debian mirror configured in /etc/apt; add a deb-src entry for bookworm by hand"
    log "adding a deb-src entry for bookworm ($uri)"
    as_root tee /etc/apt/sources.list.d/signal-hub-deb-src.sources >/dev/null <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    as_root apt-get update -qq
fi
install_packages <(echo "dpkg-dev")
work="$(mktemp -d)"
(cd "$work" && apt-get source --download-only -qq postgresql-15 >/dev/null && dpkg-source -x --no-check ./*.dsc src >/dev/null)
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$work/src" "$DEST"
rm -rf "$work"
echo "$DEST"
