#!/usr/bin/env bash
# Starts or stops the throw-away ChromaDB 1.0 server the `chroma`-labelled tests use (the CTest
# fixture `chroma` calls it; see tests/CMakeLists.txt).
# Usage: scripts/chroma-test-server.sh start|stop STATE_DIR
#   start: installs the pinned npm packages when needed (scripts/lib/chroma.sh), starts the server on
#          127.0.0.1 and a free port, waits for its heartbeat; STATE_DIR/url receives chroma+http://...
#   stop:  stops the server and removes STATE_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/chroma.sh"
[ $# -eq 2 ] || die "usage: $0 start|stop STATE_DIR"
case "$1" in
    start) chroma_server_start "$2" ;;
    stop) chroma_server_stop "$2" ;;
    *) die "usage: $0 start|stop STATE_DIR" ;;
esac
