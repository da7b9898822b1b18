#!/usr/bin/env bash
# Starts or stops the throw-away redis-server the `redis`-labelled tests use (the CTest fixture
# `redis` calls it; see tests/CMakeLists.txt).
# Usage: scripts/redis-test-server.sh start|stop STATE_DIR
#   start: starts redis-server on 127.0.0.1 and a free port, no persistence, a random password;
#          STATE_DIR/url receives redis://:PASSWORD@127.0.0.1:PORT/0
#   stop:  stops the server and removes STATE_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/redis.sh"
[ $# -eq 2 ] || die "usage: $0 start|stop STATE_DIR"
case "$1" in
    start) redis_server_start "$2" ;;
    stop) redis_server_stop "$2" ;;
    *) die "usage: $0 start|stop STATE_DIR" ;;
esac
