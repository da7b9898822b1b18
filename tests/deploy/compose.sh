#!/usr/bin/env bash
# The Compose stack of deploy/docker/compose.yaml, with Debian's docker-compose 1.29, from clean:
# - a missing secret is refused by name; `config` validates the file;
# - `up -d`: PostgreSQL (the pgvector stand-in) healthy -> `migrate init-db` completed -> signal-hub healthy
#   (its own HEALTHCHECK), Redis healthy first; Prometheus scrapes it with the alert rules loaded;
# - `run --rm indexer` indexes a mounted corpus into PostgreSQL; `run --rm signal-hub keys create` makes an
#   API key (stored in PostgreSQL); the official MCP SDK client searches through the published port
#   (127.0.0.1) with it; without it: 401;
# - `run --rm backup` archives PostgreSQL into the named volume `backups`, `run --rm backup-drill` drills it;
# - the signal-hub container restarted in the middle of a stream of searches: it drains (exit 0), comes back
#   healthy and answers again, with no intervention;
# - `down` then `up -d`: the index and the key are still there (named volumes).
# Images: signal-hub:test and the stand-ins local/pgvector:pg15, local/redis:7, local/prometheus:2 (no
# registry here; tests/deploy/images/README.md).
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/lib.sh"
command -v docker-compose >/dev/null || fail "docker-compose is not installed (scripts/deploy-packages.txt)"

port="$(free_port)"; pport="$(free_port)"
make_corpus "$WORK/corpus"
chmod -R a+rX "$WORK/corpus"
env_file="$WORK/.env"
# .env from the example, as the guide says: every secret filled in.
sed -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(openssl rand -hex 24)|" \
    -e "s|^REDIS_PASSWORD=.*|REDIS_PASSWORD=$(openssl rand -hex 24)|" \
    -e "s|^SIGNAL_HUB_API_KEY_PEPPER=.*|SIGNAL_HUB_API_KEY_PEPPER=$(openssl rand -base64 48 | tr -d '\n')|" \
    -e "s|^CORPUS_DIR=.*|CORPUS_DIR=$WORK/corpus|" \
    -e "s|^SIGNAL_HUB_IMAGE=.*|SIGNAL_HUB_IMAGE=$IMAGE|" \
    -e "s|^POSTGRES_IMAGE=.*|POSTGRES_IMAGE=local/pgvector:pg15|" \
    -e "s|^REDIS_IMAGE=.*|REDIS_IMAGE=local/redis:7|" \
    -e "s|^PROMETHEUS_IMAGE=.*|PROMETHEUS_IMAGE=local/prometheus:2|" \
    -e "s|^SIGNAL_HUB_PORT=.*|SIGNAL_HUB_PORT=$port|" \
    -e "s|^PROMETHEUS_PORT=.*|PROMETHEUS_PORT=$pport|" \
    "$REPO/deploy/docker/.env.example" > "$env_file"
chmod 600 "$env_file"
project="$(echo "$TEST_ID" | tr -cd 'a-z0-9')"
compose() { docker-compose --no-ansi -p "$project" -f "$REPO/deploy/docker/compose.yaml" --env-file "$env_file" "$@"; }
trap 'rc=$?; compose down -v --remove-orphans >/dev/null 2>&1 || true; deploy_cleanup; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT

# A secret left empty is refused by name.
sed 's|^REDIS_PASSWORD=.*|REDIS_PASSWORD=|' "$env_file" > "$WORK/empty.env"
run_expect 1 docker-compose -p "$project" -f "$REPO/deploy/docker/compose.yaml" --env-file "$WORK/empty.env" config -q
assert_contains "$ERR" "set REDIS_PASSWORD in .env" "an empty secret"
run_expect 0 compose config -q
! grep -Eq '^\s*[A-Z_]*(PASSWORD|PEPPER)[A-Z_]*:\s+[^$[:space:]]' "$REPO/deploy/docker/compose.yaml" || fail "a literal secret in compose.yaml"
pass "compose.yaml validates; an empty secret is refused by name; no literal secret in the file"

start=$(date +%s)
run_expect 0 compose up -d
hub="$(compose ps -q signal-hub)"
# Before the first index the server is live (/health 200) but not ready: /ready answers 503 naming the
# missing collection, so the image's health check (healthcheck --ready) does not report healthy yet.
deadline=$(( $(date +%s) + 180 ))
until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do
    [ "$(date +%s)" -lt "$deadline" ] || { compose logs --tail 40 >&2; fail "signal-hub never answered /health"; }
    sleep 0.5
done
ready_body="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/ready")"
assert_contains "$ready_body" "no collection yet" "/ready before the first index"
assert_contains "$ready_body" " 503" "/ready before the first index"
migrate="$(compose ps -aq migrate)"
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$migrate")" = 0 ] || fail "migrate init-db did not exit 0"
[ "$("$DOCKER" inspect -f '{{.State.StartedAt}}' "$hub")" \> "$("$DOCKER" inspect -f '{{.State.FinishedAt}}' "$migrate")" ] ||
    fail "signal-hub started before migrate init-db finished"
pass "up -d from clean: postgres healthy -> migrate init-db exit 0 -> signal-hub live in $(( $(date +%s) - start )) s, /ready 503 (no collection yet)"

run_expect 0 compose run --rm indexer
assert_contains "$OUT$ERR" "files: 3 scanned, 3 added" "indexer"
wait_health "$hub" 120 || { compose logs --tail 40 >&2; fail "signal-hub never turned healthy after the index"; }
pass "after the first index: signal-hub healthy (healthcheck --ready) in $(( $(date +%s) - start )) s from up -d"
run_expect 0 compose run --rm --no-deps signal-hub keys create --name compose-test
key="$(tail -n 1 <<<"$OUT")"
key_secret "$key" >/dev/null
url="http://127.0.0.1:$port/mcp"
MCP_API_KEY="$key" node "$E2E_DIR/mcp_connect.mjs" retry_with_exponential_backoff src/net/retry.py http "$url" ||
    fail "no MCP search answer through the stack"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$url")"
[ "$code" = 401 ] || fail "/mcp without a key answered $code, want 401"
pass "indexed into PostgreSQL; MCP search through 127.0.0.1:$port with a key; 401 without"

# The backup services (profile "backup"), as the host's cron line runs them: an archive of PostgreSQL
# into the named volume, then the restore drill of it.
bstart=$(date +%s)
run_expect 0 compose run --rm backup
assert_contains "$OUT$ERR" "backed up" "compose run --rm backup"
run_expect 0 compose run --rm backup-drill
drilled="$(grep '^drill of' <<<"$OUT" || true)"
assert_contains "$drilled" "/var/lib/signal-hub/signal-hub-" "the drilled archive in the backups volume"
assert_contains "$drilled" ": PASSED" "compose run --rm backup-drill"
pass "run --rm backup, then run --rm backup-drill: $drilled ($(( $(date +%s) - bstart )) s)"

# Prometheus: the target is up and the alert rules are loaded.
deadline=$(( $(date +%s) + 90 ))
until curl -sf "http://127.0.0.1:$pport/api/v1/query?query=up%7Bjob%3D%22signal-hub%22%7D" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and r[0]["value"][1]=="1" else 1)'; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "Prometheus never reported up{job=\"signal-hub\"} == 1"
    sleep 1
done
rules="$(curl -sf "http://127.0.0.1:$pport/api/v1/rules")"
first_alert="$(awk '/- alert:/ {print $3; exit}' "$REPO/deploy/monitoring/prometheus/alerts.yml")"
assert_contains "$rules" "\"name\":\"$first_alert\"" "Prometheus rules"
pass "Prometheus: up{job=\"signal-hub\"} == 1, alert rules loaded ($first_alert, ...)"

# Searches in a stream while the container restarts.
loop_log="$WORK/loop.log"
( end=$(( $(date +%s) + 120 ))
  while [ "$(date +%s)" -lt "$end" ] && [ ! -f "$WORK/stop" ]; do
      if MCP_API_KEY="$key" node "$E2E_DIR/mcp_connect.mjs" retry_with_exponential_backoff src/net/retry.py http "$url" >/dev/null 2>&1
      then echo "ok $(date +%s)"; else echo "fail $(date +%s)"; fi
  done ) > "$loop_log" &
loop=$!
until [ "$(grep -c '^ok' "$loop_log" || true)" -ge 3 ]; do sleep 0.2; kill -0 "$loop" || fail "the search loop ended early"; done
restart_at=$(date +%s)
run_expect 0 compose restart -t 30 signal-hub
hub_logs="$("$DOCKER" logs "$hub" 2>&1)"   # captured: `docker logs | grep -q` can end in SIGPIPE under pipefail
grep -qi 'shut\|drain\|stopp' <<<"$hub_logs" || fail "no shutdown record in the restarted container's log"
wait_health "$hub" 120 || fail "signal-hub not healthy after the restart"
healthy_at=$(date +%s)
until awk -v t="$healthy_at" '$1 == "ok" && $2 >= t' "$loop_log" | grep -q .; do
    sleep 0.2; kill -0 "$loop" 2>/dev/null || fail "no search succeeded after the restart: $(tail -n 5 "$loop_log")"
done
touch "$WORK/stop"; wait "$loop" || true
oks=$(grep -c '^ok' "$loop_log" || true); fails=$(grep -c '^fail' "$loop_log" || true)
pass "restart mid-stream: back healthy after $(( healthy_at - restart_at )) s; searches ok $oks, failed $fails (while it was down)"

# down (keeping volumes), then up: data and key survive.
run_expect 0 compose down
run_expect 0 compose up -d
hub="$(compose ps -q signal-hub)"
wait_health "$hub" 180 || fail "signal-hub not healthy after down/up"
MCP_API_KEY="$key" node "$E2E_DIR/mcp_connect.mjs" retry_with_exponential_backoff src/net/retry.py http "$url" ||
    fail "after down/up the index or the key is gone"
pass "down + up -d: the index and the API key are kept (named volumes)"
