#!/usr/bin/env bash
# Starts or stops the throw-away redis-server the `redis`-labelled tests use (the CTest fixture
# `redis` calls it; see tests/CMakeLists.txt).
# Usage: scripts/redis-test-server.sh start|start-tls|start-tls-auth|stop STATE_DIR
#   start: starts redis-server on 127.0.0.1 and a free port, no persistence, a random password;
#          STATE_DIR/url receives redis://:PASSWORD@127.0.0.1:PORT/0
#   start-tls: the same over TLS only, with a throw-away test CA in STATE_DIR/pki (ca.crt, server.*,
#          client.crt/.key, other-ca.crt); STATE_DIR/url receives rediss://:PASSWORD@127.0.0.1:PORT/0
#   start-tls-auth: start-tls, and the server requires a client certificate (--tls-auth-clients yes)
#   stop:  stops the server and removes STATE_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/redis.sh"
usage="usage: $0 start|start-tls|start-tls-auth|stop STATE_DIR"
[ $# -eq 2 ] || die "$usage"
case "$1" in
    start) redis_server_start "$2" ;;
    start-tls) redis_tls_server_start "$2" no ;;
    start-tls-auth) redis_tls_server_start "$2" yes ;;
    stop) redis_server_stop "$2" ;;
    *) die "$usage" ;;
esac
