# Shared by the scripts in scripts/: repository paths, logging, package install.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_ROOT

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# phase NAME [MESSAGE]: logs MESSAGE (default NAME) and starts timing NAME, ending the phase before.
# phase_table prints each phase's wall-clock seconds (the "Build and CI" figures of docs/performance.md).
PHASE_NAMES=()
PHASE_STARTS=()
phase() {
    log "${2:-$1}"
    PHASE_NAMES+=("$1")
    PHASE_STARTS+=("$(date +%s)")
}
phase_table() {
    local now i end
    now="$(date +%s)"
    [ ${#PHASE_NAMES[@]} -gt 0 ] || return 0
    printf '%-34s %6s\n' "phase" "s" >&2
    for i in "${!PHASE_NAMES[@]}"; do
        end="${PHASE_STARTS[$((i + 1))]:-$now}"
        printf '%-34s %6d\n' "${PHASE_NAMES[$i]}" "$((end - PHASE_STARTS[i]))" >&2
    done
    printf '%-34s %6d\n' "total so far" "$((now - PHASE_STARTS[0]))" >&2
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $* (install sudo or run as root)"; fi
}

# install_packages FILE...: installs the Debian packages listed in the files
# that are not installed yet. One package per line; comments and blank lines
# are ignored. "PACKAGE COMMAND" means: satisfied when COMMAND is on the PATH
# (e.g. a Node.js that did not come from Debian's package already brings npm).
install_packages() {
    local missing=() line pkg cmd
    for f in "$@"; do
        while read -r line; do
            line="${line%%#*}"
            read -r pkg cmd <<<"$line" || true
            [ -n "${pkg:-}" ] || continue
            if [ -n "${cmd:-}" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
        done < "$f"
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
