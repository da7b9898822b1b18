#!/usr/bin/env bash
# The first hour of a new user, as a test: runs the README's "Then:" block, every sh block of
# docs/getting-started.md and of docs/mcp.md top to bottom, as written, on fresh trees in a fresh $HOME,
# and connects the official MCP SDK to every server the docs register (`claude mcp add ...` and the
# JSON "mcpServers" examples), including the two repositories mcp.md serves side by side.
#   docs_walkthrough.sh path/to/signal-hub
#
# How the docs' lines run (the only liberties taken, each named here):
# - `scripts/...` lines (install and build) are skipped: CI has built the binary being tested. The
#   clone the docs' `export PATH="$PWD/build/src/cli:$PATH"` runs in is a directory whose
#   build/src/cli/signal-hub is that binary.
# - Placeholders: `PATH` in `cd PATH` and `/path/to/repo` are ~/src/myproject; `/path/to/signal-hub`
#   is the clone's build/src/cli/signal-hub. ~/src/NAME trees exist (make_tree plus a file only that
#   tree has), HOME is a temporary directory.
# - Ports 8080..8083 become free loopback ports (also for the default port, through
#   SIGNAL_HUB_SERVER__PORT), so the test never collides with anything else on the machine.
# - `signal-hub serve --transport http` keeps running in the background (a user's terminal) until
#   the next server on its port starts (the user stops the first with Ctrl-C) or the walkthrough
#   ends; each must then exit 0 on SIGTERM. `signal-hub serve` on stdio gets an empty stdin and must
#   exit 0.
# - `claude mcp add` (and a JSON "mcpServers" entry) is what the assistant then does: the SDK
#   (tests/e2e/mcp_connect.mjs) spawns the registered command line, or connects to the URL, lists
#   the six tools and searches for the marker function of the tree that server serves; it must
#   come first.
# Every other line runs as written and must exit 0 (the blocks run under `set -e`).
source "$(dirname "$0")/../integration/lib.sh"
E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$E2E_DIR/../.." && pwd)"
[ -d "$E2E_DIR/node_modules/@modelcontextprotocol/sdk" ] ||
    fail "the MCP SDK is not installed: run scripts/fetch-e2e-deps.sh (scripts/test.sh does)"
# A new user's environment: no overrides of the defaults the docs describe.
unset SIGNAL_HUB_MONITORING__METRICS__PORT SIGNAL_HUB_STORE SIGNAL_HUB_CONFIG

export HOME="$WORK/home"
CLONE="$WORK/clone"
mkdir -p "$HOME/src" "$CLONE/build/src/cli"
ln -s "$SH" "$CLONE/build/src/cli/signal-hub"
# Servers the docs started outlive their block (a user's terminal): stop them however the test ends.
trap 'rc=$?; for f in "$WORK"/servers/[0-9]*; do kill -9 "${f##*/}" 2>/dev/null || true; done
      jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
# Docs ports 8080..8083 -> free loopback ports.
read -r -a PORTS < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')

# Trees: make_tree plus src/only_NAME.py defining NAME_marker_function (the search each server answers).
marker() { printf '%s_marker_function' "$(printf '%s' "$1" | tr -c 'A-Za-z0-9\n' '_')"; }
for t in myproject api web; do
    make_tree "$HOME/src/$t"
    printf 'def %s():\n    """Return what only the %s tree has."""\n    return "%s"\n' \
        "$(marker "$t")" "$t" "$t" > "$HOME/src/$t/src/only_$t.py"
done

# The blocks: "FILE:LINE LANG" headers, the text, a NUL after each block.
blocks() {
    python3 - "$ROOT" <<'PY'
import re, sys
root = sys.argv[1]
def fenced(path, after=None):
    text = open(f"{root}/{path}").read()
    start = 0
    if after is not None:
        start = text.index(after)
    lines = text[start:].split("\n")
    offset = text[:start].count("\n")
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m and m.group(1):
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            out.append((f"{path}:{offset + i + 1}", m.group(1), "\n".join(lines[i + 1:j])))
            i = j
            if after is not None:
                break
        i += 1
    return out
found = fenced("README.md", after="\nThen:\n")
found += fenced("docs/getting-started.md") + fenced("docs/mcp.md")
for where, lang, body in found:
    if lang == "sh" or (lang == "json" and '"mcpServers"' in body):
        sys.stdout.write(f"{where} {lang}\n{body}\0")
PY
}

# The prelude of every block: what the docs' commands meet on a user's machine (see the header).
cat > "$WORK/prelude.sh" <<EOF
set -euo pipefail
SH_REAL="$SH"; WORK="$WORK"; E2E_DIR="$E2E_DIR"
export SIGNAL_HUB_SERVER__PORT="${PORTS[0]}"
EOF
cat >> "$WORK/prelude.sh" <<'EOF'
step() { printf '    %s\n' "$*" >&2; }
# The tree a server serves: its --store's parent, else its working directory.
tree_of() { # CWD ARGS...
    local cwd="$1" prev=""; shift
    for a in "$@"; do [ "$prev" = --store ] && { dirname "$a"; return; }; prev="$a"; done
    printf '%s' "$cwd"
}
marker() { printf '%s_marker_function' "$(basename "$1" | tr -c 'A-Za-z0-9\n' '_')"; }
stop_server() { # PID: SIGTERM, then it must be gone within 15 s (exit status checked by the starter's wait)
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 1 150); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    echo "FAIL: server pid $1 did not stop within 15 s of SIGTERM" >&2; exit 1
}
signal-hub() {
    local http=0 port="$SIGNAL_HUB_SERVER__PORT" prev=""
    for a in "$@"; do
        [ "$prev" = --transport ] && [ "$a" = http ] && http=1
        [ "$prev" = --port ] && port="$a"
        prev="$a"
    done
    if [ "$1" != serve ] && [[ " $* " != *" serve "* ]]; then "$SH_REAL" "$@"; return; fi
    if [ "$http" = 0 ]; then "$SH_REAL" "$@" </dev/null; return; fi
    # A user who starts a second server on the same port has stopped the first.
    local old
    for old in "$WORK"/servers/[0-9]*; do
        [ -e "$old" ] || continue
        read -r opid oport _ _ < "$old"
        if [ "$oport" = "$port" ]; then stop_server "$opid"; rm -f "$old"; fi
    done
    mkdir -p "$WORK/servers" "$WORK/server-logs"
    local err; err="$(mktemp "$WORK/server-logs/stderr.XXXXXX")"
    "$SH_REAL" "$@" </dev/null 2>"$err" >/dev/null &
    local pid=$!
    disown "$pid"   # the block's final wait is for its own lines, not for the servers they started
    printf '%s %s %s %s\n' "$pid" "$port" "$err" "$(tree_of "$PWD" "$@")" > "$WORK/servers/$pid"
    for _ in $(seq 1 300); do
        grep -q "127.0.0.1:$port/mcp\|0.0.0.0:$port/mcp" "$err" && { step "server pid $pid on port $port"; return 0; }
        kill -0 "$pid" 2>/dev/null || { echo "FAIL: signal-hub $* exited: $(cat "$err")" >&2; exit 1; }
        sleep 0.1
    done
    echo "FAIL: signal-hub $* printed no address: $(cat "$err")" >&2; exit 1
}
connect_url() { # URL: the SDK connects to the server listening on URL's port
    local url="$1" port tree="" pid="" log="" f
    port="$(printf '%s' "$url" | sed -n 's|^https\{0,1\}://[^/]*:\([0-9]*\)/.*|\1|p')"
    for _ in $(seq 1 300); do   # servers started with '&' may still be loading
        for f in "$WORK"/servers/[0-9]*; do
            [ -e "$f" ] || continue
            read -r i p l t < "$f"; [ "$p" = "$port" ] && { pid="$i"; log="$l"; tree="$t"; }
        done
        if [ -n "$pid" ]; then
            kill -0 "$pid" 2>/dev/null || { echo "FAIL: the server for $url exited: $(cat "$log")" >&2; exit 1; }
            curl -sf -m 5 "http://127.0.0.1:$port/ready" >/dev/null && break
        fi
        sleep 0.1
    done
    [ -n "$tree" ] || { echo "FAIL: no server was started on port $port for $url" >&2; exit 1; }
    node "$E2E_DIR/mcp_connect.mjs" "$(marker "$tree")" "src/only_$(basename "$tree").py" http "$url"
}
claude() { # claude mcp add [--transport http] NAME URL | claude mcp add NAME -- COMMAND ARGS...
    [ "$1 $2" = "mcp add" ] || { echo "FAIL: only 'claude mcp add' is emulated, not: claude $*" >&2; exit 1; }
    shift 2
    if [ "$1" = --transport ] && [ "$2" = http ]; then connect_url "$4"; return; fi
    [ "$2" = -- ] || { echo "FAIL: unexpected claude mcp add form: $*" >&2; exit 1; }
    shift 2
    local tree; tree="$(tree_of "$PWD" "$@")"
    node "$E2E_DIR/mcp_connect.mjs" "$(marker "$tree")" "src/only_$(basename "$tree").py" stdio "$@"
}
EOF

# Docs text -> a script: placeholders and ports (see the header); scripts/ lines dropped.
to_script() {
    sed -e '/^scripts\//d' \
        -e 's|^cd PATH$|cd ~/src/myproject|' \
        -e "s|/path/to/signal-hub|$CLONE/build/src/cli/signal-hub|g" \
        -e "s|/path/to/repo\b|$HOME/src/myproject|g" \
        -e "s|\b8080\b|${PORTS[0]}|g" -e "s|\b8081\b|${PORTS[1]}|g" \
        -e "s|\b8082\b|${PORTS[2]}|g" -e "s|\b8083\b|${PORTS[3]}|g"
}

# A JSON "mcpServers" example: connect to each server it lists (a URL, or a command line to spawn).
run_json() { # BODY
    python3 -c '
import json, shlex, sys
for name, s in json.loads(sys.argv[1])["mcpServers"].items():
    if "url" in s:
        print("connect_url", shlex.quote(s["url"]))
    else:
        print("claude mcp add", shlex.quote(name), "--", shlex.join([s["command"]] + s.get("args", [])))
' "$(printf '%s' "$1" | to_script)"
}

# README command 1 (scripts/quickstart.sh PATH) indexed PATH before the README's "Then:" block.
run_expect 0 "$SH" index "$HOME/src/myproject"
n=0
cd "$CLONE"
while IFS= read -r -d '' block; do
    header="${block%%$'\n'*}"; body="${block#*$'\n'}"
    where="${header% *}"; lang="${header##* }"
    n=$((n + 1))
    {
        cat "$WORK/prelude.sh"
        printf 'cd %q\n' "$(cat "$WORK/.cwd" 2>/dev/null || echo "$CLONE")"
        [ ! -e "$WORK/.path" ] || printf 'export PATH=%q\n' "$(cat "$WORK/.path")"
        if [ "$lang" = json ]; then run_json "$body"; else printf '%s\n' "$body" | to_script; fi
        # Lines sent to the background ('&') must have succeeded too.
        printf '\nfor job in $(jobs -p); do wait "$job"; done\n'
        printf 'pwd > %q\nprintf %%s "$PATH" > %q\n' "$WORK/.cwd" "$WORK/.path"
    } > "$WORK/block$n.sh"
    echo "--- $where ($lang)"
    printf '%s\n' "$body" | sed 's/^/    | /'
    ( cd "$CLONE" && bash "$WORK/block$n.sh" ) </dev/null || fail "$where: the block failed (script: $WORK/block$n.sh)"
    pass "$where"
done < <(blocks)
[ "$n" -ge 8 ] || fail "found only $n blocks in README.md, getting-started.md and mcp.md"

# Every server the docs started serves until now; each stops cleanly on SIGTERM.
stopped=0
for f in "$WORK"/servers/[0-9]*; do
    [ -e "$f" ] || continue
    read -r pid port _ tree < "$f"
    kill -TERM "$pid" 2>/dev/null || fail "server on port $port ($tree) died before the end of the walkthrough"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "server on port $port did not stop within 15 s of SIGTERM"
    stopped=$((stopped + 1))
done
pass "$n blocks ran; $stopped servers were still serving at the end and stopped on SIGTERM"
