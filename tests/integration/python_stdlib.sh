#!/usr/bin/env bash
# Acceptance: index a copy of /usr/lib/python3.11, search "parse a URL into
# components", find urllib/parse.py among the top results; a second index of the
# unchanged tree reports 0 changed files and reads nothing.
source "$(dirname "$0")/lib.sh"
SRC=/usr/lib/python3.11
[ -d "$SRC" ] || fail "$SRC missing"
cp -r "$SRC" "$WORK/py"
cd "$WORK/py"
run_expect 0 "$SH" index
echo "$OUT"
run_expect 0 "$SH" search "parse a URL into components" --json
python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["query"] == "parse a URL into components", d["query"]
assert d["results"], "no results"
for r in d["results"]:
    for key in ("id", "file_path", "start_line", "end_line", "language", "symbol", "kind", "score", "text"):
        assert key in r, f"missing {key}"
    assert isinstance(r["start_line"], int) and isinstance(r["score"], float)
paths = [r["file_path"] for r in d["results"]]
print("top results:", paths)
assert "urllib/parse.py" in paths[:5], f"urllib/parse.py not in the top 5: {paths}"
PY
pass "urllib/parse.py in the top results"

# A query that is exactly a defined symbol puts its definition first in every mode (issue 20 item 8:
# lexical ranked the definition of urlsplit 4th, hybrid left it out of the top 3).
for mode in lexical vector hybrid; do
    for query in urlsplit SplitResult.geturl SplitResult::geturl; do
        run_expect 0 "$SH" search "$query" --mode "$mode" -k 3 --json
        python3 - "$OUT" "$query" "$mode" <<'PY'
import json, sys
d, query, mode = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
top = d["results"][0]
want = query.replace("::", ".")
assert (top["file_path"], top["symbol"]) == ("urllib/parse.py", want) and top["kind"] in ("function", "method"), \
    f"{mode} {query}: first is {top['file_path']} {top['symbol']} {top['kind']}"
PY
    done
done
pass "exact symbols: urlsplit and SplitResult.geturl defined first in lexical, vector and hybrid"

run_expect 0 "$SH" index
echo "$OUT"
assert_contains "$OUT" "0 added, 0 changed" "second run changes nothing"
assert_contains "$OUT" "read 0 B" "second run reads nothing"
pass "no-change re-index"

run_expect 0 "$SH" status --json
json_get "$OUT" "d['collections'][0]['records']" >/dev/null
[ "$(json_get "$OUT" "d['collections'][0]['name']")" = "py" ] || fail "collection name: $OUT"
pass "status --json"
