#!/usr/bin/env python3
# Issue 16, goal 4 (PostgreSQL part): turns the statements our PostgreSQL backend sent for a run of
# `scale_bench --mark-searches` (captured with log_statement = all in the server's stderr log) into
# one pgbench script per search, so that pgbench drives exactly the same SQL at the same concurrency
# (bench/run.sh scale-pg).
#
# The log between the markers `SELECT 'signal-hub-bench-search <i>'` and the next marker holds search
# i's statements (the searches run one after another). Simple-protocol statements (`statement: ...`)
# are kept as sent, with `;` between statements of one string written as pgbench's `\;` (one round
# trip, as sent). Extended-protocol executions (`execute <name>: SQL` + `DETAIL: parameters: $1 =
# '...'`) become the SQL with each $n replaced by its logged literal: the server logs every parameter
# with its type's output function, so binary vectors appear as '[...]' text. The marker
# connection's own statements are dropped.
#
# Usage: pg_replay_scripts.py SERVER_LOG START_OFFSET OUT_DIR   (prints the number of scripts)
import os, re, sys

log_path, start, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log_path, "rb") as f:
    f.seek(start)
    text = f.read().decode("utf-8", "replace")

# One entry per log record: a line starting with the default log_line_prefix '%m [%p] ', then the
# continuation lines the server writes with a leading tab.
head = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] (\w+):  (.*)$")
entries = []
for line in text.split("\n"):
    m = head.match(line)
    if m:
        entries.append([m.group(1), m.group(2), m.group(3)])
    elif entries and line.startswith("\t"):
        entries[-1][2] += "\n" + line[1:]

def literals(detail):
    # "parameters: $1 = 'a''b', $2 = NULL, ..." -> {1: "'a''b'", 2: "NULL"}
    out, i = {}, detail.index(":") + 1
    pat = re.compile(r"\s*\$(\d+) = (NULL|'(?:[^']|'')*')(,)?", re.S)
    while i < len(detail):
        m = pat.match(detail, i)
        if not m:
            break
        out[int(m.group(1))] = m.group(2)
        i = m.end()
    return out

def substitute(sql, params):
    return re.sub(r"\$(\d+)\b", lambda m: params[int(m.group(1))], sql)

marker = re.compile(r"^statement: SELECT 'signal-hub-bench-search (\d+|end)'$")
scripts, current, marker_pid, pending = [], None, None, None
for pid, kind, msg in entries:
    m = marker.match(msg) if kind == "LOG" else None
    if m:
        marker_pid = pid
        if current is not None:
            scripts.append(current)
        current = None if m.group(1) == "end" else []
        continue
    if current is None or pid == marker_pid:
        continue
    if kind == "LOG" and msg.startswith("statement: "):
        sql = msg[len("statement: "):].strip().rstrip(";")
        current.append(re.sub(r";\s*", r" \\; ", sql) + ";")
    elif kind == "LOG" and msg.startswith("execute "):
        pending = msg.split(": ", 1)[1]
        current.append(None)  # filled by the DETAIL that follows (or left as is without parameters)
        current[-1] = pending.strip().rstrip(";") + ";"
    elif kind == "DETAIL" and msg.startswith("parameters:") and current and pending is not None:
        current[-1] = substitute(pending.strip().rstrip(";"), literals(msg)) + ";"
        pending = None
if not scripts:
    sys.exit("pg_replay_scripts.py: no marked search in the log (log_statement = all? markers?)")
os.makedirs(out_dir, exist_ok=True)
for i, stmts in enumerate(scripts):
    with open(os.path.join(out_dir, f"q{i:03d}.sql"), "w") as f:
        f.write(f"-- search {i}: the statements our PostgreSQL backend sent, in order\n")
        for s in stmts:
            f.write(s + "\n")
print(len(scripts))
