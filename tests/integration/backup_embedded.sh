#!/usr/bin/env bash
# signal-hub backup create | list | verify | restore on the embedded store, end to end:
#  - a backup taken while a second `index` run writes restores to a store that opens, answers
#    `status` and searches, holds exactly the manifest's records (a state between the one before and
#    the one after that run), and catches up to the final state with one more `index`;
#  - the API-key file and the configuration are in the archive and come back;
#  - a flipped byte: `verify` and `restore` refuse the archive (exit 7) and restore writes nothing;
#  - restore onto a non-empty store is refused without --force (exit 4);
#  - kill -9 during `backup create` leaves nothing under the archive's final name (or, killed after the
#    rename, a whole archive);
#  - --metrics-file writes the signal_hub_backup_* metrics;
#  - the command block of docs/production/operations/backup-restore.md, extracted and run as written.
source "$(dirname "$0")/lib.sh"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SRC=/usr/lib/python3.11
[ -d "$SRC" ] || fail "$SRC missing (install python3.11)"
export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
STORE="$WORK/hub/.signal-hub"
CONFIG="$WORK/hub/signal-hub.yaml"
mkdir -p "$WORK/hub" "$WORK/backups"
cat >"$CONFIG" <<YAML
security:
  api_keys:
    enabled: true
    storage: file
YAML
hub() { "$SH" --config "$CONFIG" --store "$STORE" "$@"; }

# --- a first state: part of the Python stdlib ------------------------------------------------------
mkdir -p "$WORK/corpus"
for d in email json; do cp -r "$SRC/$d" "$WORK/corpus/"; done
find "$WORK/corpus" -name __pycache__ -prune -exec rm -rf {} +
run_expect 0 hub index "$WORK/corpus" --collection corpus
before="$(record_count "$STORE")"
key="$(hub keys create --name backup-test --scopes search | tail -n 1)"
key_id="$(echo "$key" | cut -d_ -f2)"
[ -s "$STORE/api-keys.json" ] || fail "no key file in the store"
pass "indexed $before records, created API key $key_id"

# --- backup create while a second index run writes --------------------------------------------------
for d in http urllib logging asyncio xml multiprocessing concurrent; do cp -r "$SRC/$d" "$WORK/corpus/"; done
find "$WORK/corpus" -name __pycache__ -prune -exec rm -rf {} +
"$SH" --store "$STORE" index "$WORK/corpus" --collection corpus >"$WORK/index2.out" 2>&1 &
ipid=$!
# Wait until the run has committed something new, so the backup overlaps its writes.
for _ in $(seq 1 200); do
    [ "$(record_count "$STORE")" -gt "$before" ] && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$ipid" 2>/dev/null || fail "the second index run ended before the backup started; make the corpus bigger"
run_expect 0 hub backup create "$WORK/backups/during.tar.zst" --json --metrics-file "$WORK/backups/backup.prom"
still_running=no; kill -0 "$ipid" 2>/dev/null && still_running=yes
wait "$ipid" || fail "second index run: $(tail -5 "$WORK/index2.out")"
after="$(record_count "$STORE")"
snap="$(json_get "$OUT" "d['records']")"
[ "$before" -le "$snap" ] && [ "$snap" -le "$after" ] || fail "backup holds $snap records, outside $before..$after"
[ "$after" -gt "$before" ] || fail "the second run added nothing ($before -> $after)"
[ ! -e "$WORK/backups/during.tar.zst.partial" ] && [ ! -e "$WORK/backups/during.tar.zst.partial.d" ] ||
    fail "temporary files left behind"
pass "backup during index: $snap records (before $before, after $after; index still running at the end: $still_running)"

prom="$(cat "$WORK/backups/backup.prom")"
assert_contains "$prom" "signal_hub_backup_records{source=\"embedded\"} $snap" "metrics file records"
assert_contains "$prom" "signal_hub_backup_last_success_timestamp_seconds{source=\"embedded\"}" "metrics file timestamp"
pass "--metrics-file: signal_hub_backup_* written"

run_expect 0 "$SH" backup verify "$WORK/backups/during.tar.zst"
assert_contains "$OUT" "OK" "verify"

# --- restore into a new path -------------------------------------------------------------------------
run_expect 0 "$SH" backup restore "$WORK/backups/during.tar.zst" --store "$WORK/restored" --files-dir "$WORK/etc"
assert_contains "$OUT" "restored collection corpus: $snap records (manifest: $snap)" "restore counts"
[ "$(record_count "$WORK/restored")" = "$snap" ] || fail "restored store: $(record_count "$WORK/restored") records, manifest $snap"
run_expect 0 "$SH" --store "$WORK/restored" status
run_expect 0 "$SH" --store "$WORK/restored" search "parse an email address" --json -k 3
[ "$(json_get "$OUT" "len(d['results'])")" = 3 ] || fail "no search results from the restored store: $OUT"
cmp -s "$STORE/api-keys.json" "$WORK/restored/api-keys.json" || fail "API-key file differs after restore"
cmp -s "$CONFIG" "$WORK/etc/signal-hub.yaml" || fail "configuration differs after restore"
run_expect 0 "$SH" --config "$CONFIG" --store "$WORK/restored" keys list
assert_contains "$OUT" "$key_id" "restored key store lists the key"
pass "restored store opens, status and search work, keys and config restored"

# The snapshot is a consistent state: one more index run brings it to exactly the final state.
run_expect 0 "$SH" --store "$WORK/restored" index "$WORK/corpus" --collection corpus
[ "$(record_count "$WORK/restored")" = "$after" ] || fail "restored + index: $(record_count "$WORK/restored") records, want $after"
for q in "parse an email address" "start an HTTP server"; do
    a="$("$SH" --store "$STORE" search "$q" --json -k 10 --mode lexical)"
    b="$("$SH" --store "$WORK/restored" search "$q" --json -k 10 --mode lexical)"
    [ "$(json_get "$a" "[r['id'] for r in d['results']]")" = "$(json_get "$b" "[r['id'] for r in d['results']]")" ] ||
        fail "restored + index answers '$q' differently"
done
pass "restored snapshot catches up to the final state ($after records) with one index run"

# --- tampered archives ---------------------------------------------------------------------------------
cp "$WORK/backups/during.tar.zst" "$WORK/tampered.tar.zst"
python3 - "$WORK/tampered.tar.zst" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
EOF
run_expect 7 "$SH" backup verify "$WORK/tampered.tar.zst"
assert_contains "$ERR" "backup archive $WORK/tampered.tar.zst is damaged in member store/" "verify names the file"
run_expect 7 "$SH" backup restore "$WORK/tampered.tar.zst" --store "$WORK/from-tampered"
[ ! -e "$WORK/from-tampered" ] || fail "restore of a tampered archive wrote $WORK/from-tampered"
[ -z "$(ls -A "$WORK" | grep -F '.from-tampered.restore-' || true)" ] || fail "restore left a temporary directory"
pass "flipped byte: verify and restore refuse it (exit 7), nothing written: $ERR"

# A member changed inside valid compression (re-packed with tar + zstd): the manifest's sha256 catches it.
mkdir -p "$WORK/repack" && tar --zstd -xf "$WORK/backups/during.tar.zst" -C "$WORK/repack"
echo "# edited" >>"$WORK/repack/config/signal-hub.yaml"
(cd "$WORK/repack" && tar --format=ustar -cf - manifest.json store config keys | zstd -q >"$WORK/repacked.tar.zst")
run_expect 7 "$SH" backup verify "$WORK/repacked.tar.zst"
assert_contains "$ERR" "member config/signal-hub.yaml does not match its manifest" "sha256 mismatch names the file"
# And a manifest that promises more records than the store holds: restore fails loudly, target untouched.
python3 - "$WORK/repack/manifest.json" <<'EOF'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
m["collections"][0]["records"] += 5
m["records"] += 5
json.dump(m, open(p, "w"))
EOF
tar --zstd -xf "$WORK/backups/during.tar.zst" -C "$WORK/repack" config  # undo the edit
(cd "$WORK/repack" && tar --format=ustar -cf - manifest.json store config keys | zstd -q >"$WORK/inflated.tar.zst")
run_expect 0 "$SH" backup verify "$WORK/inflated.tar.zst"
run_expect 7 "$SH" backup restore "$WORK/inflated.tar.zst" --store "$WORK/restored" --force
assert_contains "$ERR" "collection corpus: $snap records, manifest says $((snap + 5))" "fewer records than the manifest"
[ "$(record_count "$WORK/restored")" = "$after" ] || fail "a failed restore changed the target"
pass "fewer records than the manifest: exit 7, target unchanged"

# --- restore onto a non-empty store ----------------------------------------------------------------------
run_expect 4 "$SH" backup restore "$WORK/backups/during.tar.zst" --store "$STORE"
assert_contains "$ERR" "is not empty; give --force" "non-empty target"
[ "$(record_count "$STORE")" = "$after" ] || fail "refused restore changed the store"
run_expect 0 "$SH" backup restore "$WORK/backups/during.tar.zst" --store "$WORK/restored" --force
[ "$(record_count "$WORK/restored")" = "$snap" ] || fail "--force restore"
pass "restore onto a non-empty store: refused (exit 4) without --force, done with it"

# --- kill -9 during create ---------------------------------------------------------------------------------
killed=0
for delay in 0.4 0.2 0.1 0.05 0.02; do
    "$SH" --store "$STORE" backup create "$WORK/backups/killed.tar.zst" >/dev/null 2>&1 &
    bpid=$!
    sleep "$delay"
    kill -9 "$bpid" 2>/dev/null || true
    set +e; wait "$bpid"; rc=$?; set -e
    if [ "$rc" -eq 137 ] && [ ! -e "$WORK/backups/killed.tar.zst" ]; then
        killed=$((killed + 1))
    elif [ -e "$WORK/backups/killed.tar.zst" ]; then
        # Killed after the rename (during the directory fsync or the exit), or not killed at all: what is
        # under the final name must be a whole archive.
        "$SH" backup verify "$WORK/backups/killed.tar.zst" >/dev/null 2>&1 ||
            fail "kill -9 after ${delay}s left a damaged $WORK/backups/killed.tar.zst (exit $rc)"
        rm -f "$WORK/backups/killed.tar.zst"
    fi
done
[ "$killed" -gt 0 ] || fail "no create was killed mid-way (all finished first)"
run_expect 0 "$SH" --store "$STORE" backup create "$WORK/backups/killed.tar.zst"
run_expect 0 "$SH" backup verify "$WORK/backups/killed.tar.zst"
pass "kill -9 during create ($killed runs killed): no archive under the final name; the next create succeeds"

# --- list ------------------------------------------------------------------------------------------------
run_expect 0 "$SH" backup list "$WORK/backups" --json
[ "$(json_get "$OUT" "len(d)")" = 2 ] || fail "list: $OUT"
[ "$(json_get "$OUT" "d[0]['archive'].endswith('killed.tar.zst') and d[0]['created'] >= d[1]['created']")" = True ] ||
    fail "list is not newest first: $OUT"
run_expect 0 "$SH" backup list "$WORK/backups"
assert_contains "$OUT" "during.tar.zst" "list text"
pass "list: newest first"

# --- the guide's command block, as written ----------------------------------------------------------------
guide_block "$REPO/docs/production/operations/backup-restore.md" "tested: tests/integration/backup_embedded.sh" >"$WORK/guide.sh"
grep -q 'backup restore' "$WORK/guide.sh" || fail "the extracted block has no restore: $(cat "$WORK/guide.sh")"
mkdir -p "$WORK/guide/bin" && ln -s "$SH" "$WORK/guide/bin/signal-hub"
cp -r "$STORE" "$WORK/guide/.signal-hub"
(
    cd "$WORK/guide"
    export PATH="$WORK/guide/bin:$PATH"
    bash -euo pipefail "$WORK/guide.sh"
) >"$WORK/guide.out" 2>"$WORK/guide.err" || fail "the guide's commands failed: $(tail -20 "$WORK/guide.err") $(tail -20 "$WORK/guide.out")"
[ "$(record_count "$WORK/guide/restored-store")" = "$after" ] || fail "guide restore holds the wrong count"
pass "the guide's commands run as written"
