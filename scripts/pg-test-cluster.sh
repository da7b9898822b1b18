#!/usr/bin/env bash
# Starts or stops the throw-away PostgreSQL 15 + pgvector cluster the `postgres`-labelled tests use
# (the CTest fixture `postgres` calls it; see tests/CMakeLists.txt).
# Usage: scripts/pg-test-cluster.sh start|stop|halt|restart STATE_DIR
#   start:   STATE_DIR/url receives the cluster's postgresql:// URL (127.0.0.1, random port and password).
#   stop:    stops the cluster and removes its files.
#   halt:    stops the server, keeps the cluster; restart: starts it again (same port) — for reconnect tests.
# Needs PostgreSQL 15 and pgvector installed (scripts/test.sh installs them); fails otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/postgres.sh"
[ $# -eq 2 ] || die "usage: $0 start|stop|halt|restart STATE_DIR"
case "$1" in
    start) pg_cluster_start "$2" ;;
    stop) pg_cluster_stop "$2" ;;
    halt) pg_cluster_halt "$2" ;;
    restart) pg_cluster_restart "$2" ;;
    *) die "usage: $0 start|stop|halt|restart STATE_DIR" ;;
esac
