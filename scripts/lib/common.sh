# Shared by the scripts in scripts/: repository paths, logging, package install.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_ROOT

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $* (install sudo or run as root)"; fi
}

# install_packages FILE...: installs the Debian packages listed in the files
# (comments and blank lines ignored) that are not installed yet.
install_packages() {
    local wanted=() missing=() p
    for f in "$@"; do
        while read -r p; do
            p="${p%%#*}"; p="${p//[[:space:]]/}"
            [ -n "$p" ] && wanted+=("$p")
        done < "$f"
    done
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# Number of parallel build jobs: cores, but at most one per 2 GiB of memory.
build_jobs() {
    local cores mem_gb
    cores=$(nproc)
    mem_gb=$(awk '/MemTotal/ {print int($2/1048576)}' /proc/meminfo)
    local by_mem=$(( mem_gb / 2 )); [ "$by_mem" -lt 1 ] && by_mem=1
    [ "$cores" -lt "$by_mem" ] && echo "$cores" || echo "$by_mem"
}
