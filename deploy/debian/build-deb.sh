#!/usr/bin/env bash
# Builds the Debian package of Signal Hub from a compiled binary, without debhelper:
#
#   deploy/debian/build-deb.sh BINARY VERSION OUTDIR
#
# BINARY   the signal-hub executable (a release build; it is stripped into the package)
# VERSION  the package version, e.g. 0.1.0-1 (Debian version syntax)
# OUTDIR   where signal-hub_VERSION_ARCH.deb is written (created if missing); the path is printed
# DEB_COMPRESSION (environment) dpkg-deb's -Z: xz (default), zstd, gzip or none
# DEB_MAINTAINER  (environment) the control file's Maintainer, "Name <address>" (set it to the team that
#                 builds your packages; the default names no real mailbox)
#
# Needs only bash, coreutils, binutils (strip, objdump), dpkg and dpkg-deb, so it runs on a Debian 12
# host and in the `deb` stage of deploy/docker/Dockerfile alike. Depends is computed from the libraries
# the binary names (NEEDED, located with ldd): each library's package (dpkg -S) with the minimum
# version from that package's shlibs file, or the version installed here when it has none. Build on the Debian release the
# package is for (Debian 12 "bookworm"): the libraries' package names are that release's.
set -euo pipefail

usage() { echo "usage: $0 BINARY VERSION OUTDIR" >&2; exit 2; }
[ $# -eq 3 ] || usage
BINARY="$1" VERSION="$2" OUTDIR="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "build-deb.sh: error: $*" >&2; exit "${2:-2}"; }
[ -f "$BINARY" ] && [ -x "$BINARY" ] || die "$BINARY is not an executable file (pass the signal-hub binary)" 3
[[ "$VERSION" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] ||
    die "VERSION '$VERSION' is not a Debian version (digits first, then letters, digits and . + ~ -; e.g. 0.1.0-1)"
for tool in dpkg dpkg-deb dpkg-query strip objdump ldd; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install dpkg binutils libc-bin)" 6
done

ARCH="$(dpkg --print-architecture)"
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/signal-hub-deb.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/root"

# --- files -------------------------------------------------------------------------------------
install -d -m 0755 "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/lib/systemd/system" \
    "$ROOT/usr/share/doc/signal-hub" "$ROOT/etc/signal-hub"
install -m 0755 "$BINARY" "$ROOT/usr/bin/signal-hub"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$ROOT/usr/bin/signal-hub"
install -m 0644 "$HERE/signal-hub.service" "$ROOT/lib/systemd/system/signal-hub.service"
# /etc/signal-hub and its files are root-owned in the archive (--root-owner-group); the postinst gives
# them the group signal-hub through dpkg-statoverride, which dpkg then applies on every upgrade too.
chmod 0750 "$ROOT/etc/signal-hub"
install -m 0640 "$HERE/config.yaml" "$ROOT/etc/signal-hub/config.yaml"
install -m 0640 "$HERE/env" "$ROOT/etc/signal-hub/env"
install -m 0644 "$HERE/README.Debian" "$ROOT/usr/share/doc/signal-hub/README.Debian"
for script in postinst prerm postrm; do
    install -m 0755 "$HERE/maintainer/$script" "$ROOT/DEBIAN/$script"
done
printf '/etc/signal-hub/config.yaml\n/etc/signal-hub/env\n' > "$ROOT/DEBIAN/conffiles"
chmod 0644 "$ROOT/DEBIAN/conffiles"

# --- Depends from the shared libraries -----------------------------------------------------------
# owner_of PATH: the package that installed PATH (tries the /usr-merged twin too).
owner_of() {
    local p="$1" alt pkg
    case "$p" in /usr/lib/*) alt="${p#/usr}" ;; /lib/*) alt="/usr$p" ;; *) alt="" ;; esac
    for q in "$p" $alt "$(readlink -f "$p")"; do
        pkg="$(dpkg -S "$q" 2>/dev/null | grep -v '^diversion by' | head -n1 | cut -d: -f1)" || true
        [ -n "$pkg" ] && { echo "$pkg"; return 0; }
    done
    return 1
}
# shlibs_dep PKG SONAME: the dependency PKG's shlibs file declares for SONAME ("libfoo.so.1" ->
# line "libfoo 1 libfoo1 (>= 1.2)"; "libfoo-1.2.so" -> "libfoo-1.2 ..."), empty when there is none.
shlibs_dep() {
    local pkg="$1" soname="$2" name ver file
    if [[ "$soname" =~ ^(.+)\.so\.(.+)$ ]]; then name="${BASH_REMATCH[1]}" ver="${BASH_REMATCH[2]}"
    elif [[ "$soname" =~ ^(.+)-([0-9][^-]*)\.so$ ]]; then name="${BASH_REMATCH[1]}" ver="${BASH_REMATCH[2]}"
    else return 0; fi
    for file in "/var/lib/dpkg/info/$pkg:$ARCH.shlibs" "/var/lib/dpkg/info/$pkg.shlibs"; do
        [ -f "$file" ] || continue
        awk -v n="$name" -v v="$ver" '$1 !~ /:$/ && $1 == n && $2 == v { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$file"
        return 0
    done
}
declare -A DEP=() LIBPATH=()
# The libraries the binary names itself (NEEDED), as dpkg-shlibdeps does; their own dependencies come
# with their packages. ldd says where each one is.
while read -r soname path; do LIBPATH["$soname"]="$path"; done < <(ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
for soname in $(objdump -p "$BINARY" | awk '$1 == "NEEDED" { print $2 }'); do
    path="${LIBPATH[$soname]:-}"
    [ -n "$path" ] || die "$BINARY needs $soname, which is not installed here (ldd: not found)" 3
    pkg="$(owner_of "$path")" || die "no installed package holds $path ($soname, needed by $BINARY): install the library from Debian, or build against Debian's" 3
    dep="$(shlibs_dep "$pkg" "$soname")"
    [ -n "$dep" ] || dep="$pkg (>= $(dpkg-query -W -f='${Version}' "$pkg"))"
    DEP["$dep"]=1
done
[ "${#DEP[@]}" -gt 0 ] || die "$BINARY names no shared library (is it a dynamically linked $ARCH executable?)" 2
# The maintainer scripts run groupadd/useradd (passwd) and dpkg-statoverride (dpkg).
DEP["passwd"]=1
DEPENDS="$(printf '%s\n' "${!DEP[@]}" | sort -u | paste -sd, | sed 's/,/, /g')"

INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: signal-hub
Version: $VERSION
Architecture: $ARCH
Maintainer: ${DEB_MAINTAINER:-Signal Hub maintainers <signal-hub@localhost>}
Installed-Size: $INSTALLED_SIZE
Depends: $DEPENDS
Section: devel
Priority: optional
Description: code search server for people and AI assistants (MCP)
 Signal Hub indexes source-code repositories and answers semantic and lexical
 code search over the Model Context Protocol (stdio or Streamable HTTP).
 .
 This package installs the signal-hub binary, a sandboxed systemd unit
 (signal-hub.service, running as the system user signal-hub) and the
 configuration /etc/signal-hub/config.yaml; the index lives in
 /var/lib/signal-hub.
CONTROL
chmod 0644 "$ROOT/DEBIAN/control"

mkdir -p "$OUTDIR"
DEB="$OUTDIR/signal-hub_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-xz}" --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
