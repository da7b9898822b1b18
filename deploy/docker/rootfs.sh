#!/usr/bin/env bash
# Lays out the runtime image's file system (deploy/docker/Dockerfile, stage `build`):
#   rootfs.sh BINARY ROOTFS
# - BINARY, stripped, as /usr/bin/signal-hub;
# - every shared library `ldd` lists and the dynamic loader, at the paths the loader looks for them;
# - CA certificates (/etc/ssl/certs/ca-certificates.crt, and OpenSSL's default paths pointing at it);
# - /etc/passwd and /etc/group with root and the numeric user signal-hub (10001:10001), /etc/nsswitch.conf;
# - /tmp (1777) and /var/lib/signal-hub (10001:10001, 0750), the only places a container may be given to
#   write (the root file system is meant to be mounted read-only);
# - the Debian copyright files of every package a file came from, and an SPDX 2.3 (tag-value) package list,
#   /usr/share/doc/signal-hub/sbom.spdx, naming each package with its version and purl.
# Runs on Debian 12 as root; needs dpkg, ldd, strip.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BINARY ROOTFS" >&2; exit 2; }
binary="$1" rootfs="$2"
uid=10001

rm -rf "$rootfs"
mkdir -p "$rootfs"/{usr/bin,etc/ssl/certs,usr/lib/ssl,tmp,var/lib/signal-hub,usr/share/doc/signal-hub}
install -m 0755 "$binary" "$rootfs/usr/bin/signal-hub"
strip --strip-unneeded "$rootfs/usr/bin/signal-hub"

# Files copied from Debian packages, for the package list.
files=()
copy_file() { # SOURCE [DEST]: copies a file (following links) to the same path in the rootfs
    local src="$1" dest="${2:-$1}"
    mkdir -p "$rootfs$(dirname "$dest")"
    cp -L "$src" "$rootfs$dest"
    files+=("$src")
}

# The loader and the libraries, at the paths ldd resolves (the loader's default search path holds them).
interp="$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
[ -n "$interp" ] || { echo "rootfs.sh: $binary has no program interpreter" >&2; exit 1; }
copy_file "$interp"
while read -r lib; do
    copy_file "$lib"
done < <(ldd "$binary" | awk '/=> \// { print $3 }' | sort -u)

copy_file /etc/ssl/certs/ca-certificates.crt
ln -s /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"

cat > "$rootfs/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/usr/sbin/nologin
signal-hub:x:$uid:$uid:Signal Hub:/var/lib/signal-hub:/usr/sbin/nologin
PASSWD
cat > "$rootfs/etc/group" <<GROUP
root:x:0:
signal-hub:x:$uid:
GROUP
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
chmod 1777 "$rootfs/tmp"
chown "$uid:$uid" "$rootfs/var/lib/signal-hub"
chmod 0750 "$rootfs/var/lib/signal-hub"

# Which Debian package each copied file belongs to (dpkg records merged-/usr paths either way).
owner_of() {
    local path="$1" real
    real="$(readlink -f "$path")"
    for p in "$path" "$real" "/usr$path" "${real#/usr}"; do
        dpkg-query -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
    done
    echo "rootfs.sh: no Debian package owns $path" >&2
    return 1
}
packages=()
for f in "${files[@]}"; do packages+=("$(owner_of "$f")"); done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

version="$("$rootfs/usr/bin/signal-hub" --version 2>/dev/null | awk '{print $NF}')"
{
    printf 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n'
    printf 'DocumentName: signal-hub-image-%s\n' "$version"
    printf 'DocumentNamespace: https://spdx.org/spdxdocs/signal-hub-image-%s-%s\n' "$version" "$(cat /proc/sys/kernel/random/uuid)"
    printf 'Creator: Tool: signal-hub-deploy-docker-rootfs.sh\nCreated: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '\nPackageName: signal-hub\nSPDXID: SPDXRef-Package-signal-hub\nPackageVersion: %s\n' "$version"
    printf 'PackageDownloadLocation: NOASSERTION\nFilesAnalyzed: false\nPackageLicenseConcluded: NOASSERTION\n'
    printf 'PackageLicenseDeclared: NOASSERTION\nPackageCopyrightText: NOASSERTION\n'
    printf 'Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-Package-signal-hub\n'
    for p in "${packages[@]}"; do
        IFS=$'\t' read -r name ver arch < <(dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n' "$p")
        id="SPDXRef-Package-deb-$(printf '%s' "$name" | tr -c 'A-Za-z0-9.-' '-')"
        printf '\nPackageName: %s\nSPDXID: %s\nPackageVersion: %s\n' "$name" "$id" "$ver"
        printf 'PackageSupplier: Organization: Debian\nPackageDownloadLocation: NOASSERTION\nFilesAnalyzed: false\n'
        printf 'PackageLicenseConcluded: NOASSERTION\nPackageLicenseDeclared: NOASSERTION\nPackageCopyrightText: NOASSERTION\n'
        printf 'ExternalRef: PACKAGE-MANAGER purl pkg:deb/debian/%s@%s?arch=%s&distro=debian-12\n' "$name" "$ver" "$arch"
        printf 'Relationship: SPDXRef-Package-signal-hub DEPENDS_ON %s\n' "$id"
        if [ -f "/usr/share/doc/$name/copyright" ]; then
            mkdir -p "$rootfs/usr/share/doc/$name"
            cp "/usr/share/doc/$name/copyright" "$rootfs/usr/share/doc/$name/copyright"
        fi
    done
} > "$rootfs/usr/share/doc/signal-hub/sbom.spdx"
echo "rootfs.sh: $(du -sh "$rootfs" | cut -f1) in $rootfs; packages: ${packages[*]}" >&2
