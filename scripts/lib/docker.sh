# Sourced by the deployment scripts: a private Docker engine and the locally made Debian base image.
# Requires scripts/lib/common.sh. No registry is needed: every image is built from Debian's mirror.
#
#   docker_ensure_installed          docker.io, docker-compose (1.29), mmdebstrap, podman (Debian packages)
#   docker_engine_start STATE_DIR    starts dockerd on unix://STATE_DIR/docker.sock; writes STATE_DIR/env
#   docker_engine_stop STATE_DIR     stops it (by its pid file)
#   docker_base_image                imports local/bookworm:base (mmdebstrap tarball, cached)
#   DOCKER                           Debian's docker CLI (20.10: builds through the daemon's BuildKit)
#
# The engine's data root is $SIGNAL_HUB_DOCKER_DATA_ROOT, by default /var/cache/signal-hub-ci/docker, outside
# any clone, so that the layer cache and the build stage's ccache survive between runs; one engine uses it at
# a time (flock); a second concurrent engine falls back to a data root inside its state directory.

DOCKER=/usr/bin/docker
SIGNAL_HUB_CI_CACHE="${SIGNAL_HUB_CI_CACHE:-/var/cache/signal-hub-ci}"
# The base tarball is rebuilt when older than this many days (security updates are applied at image build
# time anyway; a fresh base keeps that step short).
SIGNAL_HUB_BASE_MAX_AGE_DAYS="${SIGNAL_HUB_BASE_MAX_AGE_DAYS:-7}"

docker_ensure_installed() {
    install_packages "$REPO_ROOT/scripts/deploy-packages.txt"
}

docker_engine_start() {
    local state="$1" data_root lock
    mkdir -p "$state"
    state="$(cd "$state" && pwd)"
    data_root="${SIGNAL_HUB_DOCKER_DATA_ROOT:-$SIGNAL_HUB_CI_CACHE/docker}"
    mkdir -p "$data_root"
    # Keep the lock for the engine's lifetime: fd 9 is inherited by dockerd.
    exec 9>"$data_root.lock"
    if ! flock -n 9; then
        log "the shared Docker data root $data_root is in use by another engine: using $state/data-root (cold caches)"
        exec 9>&-
        data_root="$state/data-root"
        mkdir -p "$data_root"
    fi
    rm -f "$state/docker.sock" "$state/dockerd.pid"
    # No iptables rules, no forwarding, no default bridge: containers use --network host or user-defined
    # networks; published ports are bound to 127.0.0.1 by the callers.
    dockerd --data-root "$data_root" --exec-root "$state/exec" --host "unix://$state/docker.sock" \
        --pidfile "$state/dockerd.pid" --iptables=false --ip-forward=false --ip-masq=false \
        --bridge=none >"$state/dockerd.log" 2>&1 &
    exec 9>&-
    local i
    for i in $(seq 1 150); do
        if [ -S "$state/docker.sock" ] && DOCKER_HOST="unix://$state/docker.sock" "$DOCKER" version >/dev/null 2>&1; then
            printf 'export DOCKER_HOST=unix://%s/docker.sock\n' "$state" >"$state/env"
            export DOCKER_HOST="unix://$state/docker.sock"
            log "Docker engine up (data root $data_root; log $state/dockerd.log)"
            return 0
        fi
        sleep 0.2
    done
    tail -n 30 "$state/dockerd.log" >&2 || true
    die "dockerd did not start within 30 s (log: $state/dockerd.log)"
}

docker_engine_stop() {
    local state="$1" pid i mnt
    [ -d "$state" ] || return 0
    state="$(cd "$state" && pwd)"
    if [ -f "$state/dockerd.pid" ]; then
        pid="$(cat "$state/dockerd.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            DOCKER_HOST="unix://$state/docker.sock" "$DOCKER" ps -q 2>/dev/null |
                xargs -r env DOCKER_HOST="unix://$state/docker.sock" "$DOCKER" rm -f >/dev/null 2>&1 || true
            kill "$pid" 2>/dev/null || true
            for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    # dockerd leaves its network namespace mounted in the exec root (exec/netns/default): unmount what is
    # still mounted below the state directory, deepest first, so the build directory can be deleted.
    awk -v d="$state/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done
    rm -f "$state/dockerd.pid" "$state/env"
}

# docker_base_image: local/bookworm:base, a minbase of bookworm + bookworm-updates + bookworm-security made
# with mmdebstrap from Debian's mirror. The tarball is cached in $SIGNAL_HUB_CI_CACHE.
docker_base_image() {
    local tar="$SIGNAL_HUB_CI_CACHE/bookworm-minbase.tar" mirror="${SIGNAL_HUB_DEBIAN_MIRROR:-http://deb.debian.org}"
    mkdir -p "$SIGNAL_HUB_CI_CACHE"
    if [ -f "$tar" ] && [ -n "$(find "$tar" -mtime "-$SIGNAL_HUB_BASE_MAX_AGE_DAYS" 2>/dev/null)" ]; then
        if "$DOCKER" image inspect local/bookworm:base >/dev/null 2>&1 &&
           [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "org.signal-hub.base-tar-mtime"}}' local/bookworm:base 2>/dev/null)" = "$(stat -c %Y "$tar")" ]; then
            return 0
        fi
    else
        log "making the Debian 12 base image with mmdebstrap (about 1-2 minutes; cached in $tar)"
        rm -rf "$tar.tmp"
        mmdebstrap --variant=minbase --format=tar --dpkgopt=force-unsafe-io --quiet bookworm "$tar.tmp" \
            "deb $mirror/debian bookworm main" \
            "deb $mirror/debian bookworm-updates main" \
            "deb $mirror/debian-security bookworm-security main" ||
            die "mmdebstrap failed (is $mirror reachable?)"
        mv "$tar.tmp" "$tar"
    fi
    "$DOCKER" import --change "LABEL org.signal-hub.base-tar-mtime=$(stat -c %Y "$tar")" \
        --change 'CMD ["/bin/bash"]' "$tar" local/bookworm:base >/dev/null || die "docker import of $tar failed"
    log "imported local/bookworm:base"
}
