# Helpers for the integration scripts. Usage: source lib.sh; $SH is the binary.
set -euo pipefail
SH="${1:?usage: $0 path/to/signal-hub}"
SH="$(cd "$(dirname "$SH")" && pwd)/$(basename "$SH")"
TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/signal-hub-it.XXXXXX")"
trap 'rc=$?; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
export NO_COLOR=1
unset SIGNAL_HUB_CONFIG

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# run_expect CODE CMD...: runs CMD, captures stdout/stderr in $OUT/$ERR, checks the exit code.
run_expect() {
    local want="$1"; shift
    set +e
    "$@" >"$WORK/.out" 2>"$WORK/.err"
    local rc=$?
    set -e
    OUT="$(cat "$WORK/.out")"; ERR="$(cat "$WORK/.err")"
    [ "$rc" -eq "$want" ] || fail "expected exit $want from '$*', got $rc
stdout: $OUT
stderr: $ERR"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
    case "$1" in *"$2"*) ;; *) fail "$3: expected to find '$2' in: $1" ;; esac
}

# json_get JSON PYTHON_EXPR: evaluates EXPR with `d` bound to the parsed JSON.
json_get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

# record_count STORE_DIR: total records over all collections.
record_count() {
    local j; j="$("$SH" --store "$1" status --json)"
    json_get "$j" "sum(c['records'] for c in d['collections'])"
}

# make_tree DIR: a small multi-language tree.
make_tree() {
    mkdir -p "$1/src/net" "$1/docs"
    cat > "$1/src/net/url.py" <<'PY'
import re


def split_url(url):
    """Split a URL into scheme, host and path."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return scheme, host, "/" + path


class UrlBuilder:
    def __init__(self, scheme):
        self.scheme = scheme

    def build(self, host, path):
        return f"{self.scheme}://{host}{path}"
PY
    cat > "$1/src/checksum.go" <<'GO'
package util

// Adler32 computes the Adler-32 checksum of data.
func Adler32(data []byte) uint32 {
	var a, b uint32 = 1, 0
	for _, c := range data {
		a = (a + uint32(c)) % 65521
		b = (b + a) % 65521
	}
	return b<<16 | a
}
GO
    cat > "$1/src/queue.cpp" <<'CPP'
#include <deque>

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}
  bool TryPush(const T& value) {
    if (items_.size() >= capacity_) return false;
    items_.push_back(value);
    return true;
  }
 private:
  size_t capacity_;
  std::deque<T> items_;
};
CPP
    printf '# Guide\n\nHow to deploy.\n\n## Rollback\n\nRestore the previous release.\n' > "$1/docs/guide.md"
}
