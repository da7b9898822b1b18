#!/usr/bin/env python3
"""Checks the monitoring assets against the metrics catalogue (python3 standard library + promtool).

Usage: check_assets.py REPO_ROOT

The catalogue is the table of docs/production/monitoring/metrics.md: metric names, types and labels
(with their values where the table enumerates them). Checked:

- deploy/monitoring/prometheus/alerts.yml: every expression (a line-based parse, cross-checked
  against the rule count `promtool check rules` reports) uses only catalogued `signal_hub_*` and
  `process_*` metrics (a histogram's `_bucket`, `_sum` and `_count`), only their labels (plus the
  target labels `job`, `instance`, ... and `le` on buckets) in selectors and in by/without/on/
  ignoring clauses, only catalogued values for enumerated labels; every alert has a severity
  (warning or critical), summary, description and a runbook_url naming a heading of alerting.md.
- deploy/monitoring/prometheus/alerts_test.yml: every (alert, severity) has a case where it fires
  and every alert a case where it does not.
- docs/production/monitoring/dashboards/signal-hub.json: the five sections (Overview, Search,
  Indexing, Database, Security) as rows each with panels; the DS_PROMETHEUS datasource variable and
  the job and instance variables; every panel on ${DS_PROMETHEUS} with at least one expression;
  every selector filtered by $job and $instance; the same metric and label checks as the rules;
  every expression valid PromQL (`promtool check rules` on the expressions, variables substituted).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SECTIONS = ["Overview", "Search", "Indexing", "Database", "Security"]
# Labels Prometheus attaches to every target (static_configs labels and Kubernetes relabelling of
# deploy/monitoring/prometheus/prometheus.yml).
TARGET_LABELS = {"job", "instance", "environment", "namespace", "service", "pod"}
SEVERITIES = {"warning", "critical"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset"}

errors = []


def error(message):
    errors.append(message)


# ------------------------------------------------------------------------------------------------
# The catalogue


def parse_labels_cell(cell):
    """'`route` (`mcp`, `health`), `method` (HTTP verb)' -> {'route': {'mcp', 'health'}, 'method': None}."""
    labels, depth, current = {}, 0, None
    for token in re.findall(r"`[^`]*`|\(|\)", cell):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            current = token.strip("`")
            labels[current] = None
        elif current is not None:
            labels[current] = (labels[current] or set()) | {token.strip("`")}
    return labels


def load_catalogue(path):
    catalogue = {}
    in_table = False
    with open(path) as f:
        for line in f:
            if line.startswith("## "):
                in_table = line.strip() == "## Catalogue"
                continue
            if not in_table or not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 4:
                continue
            name = cells[0].strip("`")
            catalogue[name] = {"type": cells[1], "labels": parse_labels_cell(cells[2])}
    if not catalogue:
        error("%s: no catalogue table found" % path)
    return catalogue


def resolve_metric(catalogue, name):
    """The catalogue entry and the extra labels a series name allows (le on buckets), or None."""
    if name in catalogue:
        return catalogue[name], set()
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and base in catalogue and catalogue[base]["type"].startswith("histogram"):
            return catalogue[base], ({"le"} if suffix == "_bucket" else set())
    return None


# ------------------------------------------------------------------------------------------------
# Expressions


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)


def check_expr(where, expr, catalogue, require_vars=False):
    bare = strip_strings(expr)
    allowed_labels = set(TARGET_LABELS)
    referenced = 0
    for name in re.findall(r"(?<![\w:$])[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        if not (name.startswith("signal_hub_") or name.startswith("process_")):
            continue
        resolved = resolve_metric(catalogue, name)
        if resolved is None:
            error("%s: metric %s is not in the catalogue (metrics.md)" % (where, name))
            continue
        referenced += 1
        entry, extra = resolved
        allowed_labels |= set(entry["labels"]) | extra
    if "up{" in bare.replace(" ", "") or re.search(r"(?<![\w:])up\b", bare):
        referenced += 1
    if referenced == 0:
        error("%s: the expression uses no Signal Hub metric: %s" % (where, expr))

    # Selectors: metric{matchers}.
    for name, body in re.findall(r"(?<![\w:$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", expr):
        resolved = resolve_metric(catalogue, name)
        if name == "up":
            labels, extra = {}, set()
        elif resolved is None:
            continue
        else:
            labels, extra = resolved[0]["labels"], resolved[1]
        matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body)
        seen = {m[0] for m in matchers}
        for label, op, value in matchers:
            if label not in labels and label not in TARGET_LABELS and label not in extra:
                error("%s: %s has no label %s" % (where, name, label))
            elif op == "=" and labels.get(label) and value not in labels[label]:
                error("%s: %s{%s=\"%s\"}: the catalogue lists %s" % (where, name, label, value,
                                                                    sorted(labels[label])))
        if require_vars and not ({"job", "instance"} <= seen and "$job" in body and "$instance" in body):
            error("%s: selector %s{%s} is not filtered by $job and $instance" % (where, name, body))

    # Grouping and matching clauses.
    for clause, body in re.findall(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)", bare):
        for label in [l.strip() for l in body.split(",") if l.strip()]:
            if label not in allowed_labels:
                error("%s: %s (%s): label %s belongs to none of the expression's metrics" % (where, clause, body,
                                                                                          label))


def promql_valid(where, exprs):
    """promtool check rules on recording rules made of the expressions (JSON is YAML)."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:expr_%d" % i, "expr": e} for i, e in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(rules, f)
        path = f.name
    try:
        proc = subprocess.run(["promtool", "check", "rules", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        error("%s: promtool check rules on the expressions failed:\n%s" % (where, proc.stdout))


# ------------------------------------------------------------------------------------------------
# Rules file (line-based: `- alert:`/`- record:` items, `expr:` inline or as a block scalar)


def indent_of(line):
    return len(line) - len(line.lstrip())


def parse_rules(path):
    rules = []
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)- (alert|record):\s*(\S+)\s*$", line)
        if m:
            rules.append({"kind": m.group(2), "name": m.group(3), "labels": {}, "annotations": {}, "line": i + 1})
            i += 1
            continue
        m = re.match(r"^(\s*)(expr|severity|summary|description|runbook_url):\s*(.*)$", line)
        if m and rules:
            key, value, base = m.group(2), m.group(3).strip(), indent_of(line)
            if value in ("|", ">", "|-", ">-", "|+", ">+"):
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or indent_of(lines[i]) > base):
                    block.append(lines[i].strip())
                    i += 1
                value = (" " if value.startswith(">") else "\n").join(block).strip()
            else:
                i += 1
                value = value.strip('"').strip("'")
            rule = rules[-1]
            if key == "expr":
                rule["expr"] = value
            elif key == "severity":
                rule["labels"]["severity"] = value
            else:
                rule["annotations"][key] = value
            continue
        i += 1
    return rules


def github_anchors(markdown_path):
    anchors = set()
    if not os.path.exists(markdown_path):
        error("%s is missing" % markdown_path)
        return anchors
    for line in open(markdown_path):
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def check_rules(root, catalogue):
    path = os.path.join(root, "deploy/monitoring/prometheus/alerts.yml")
    rules = parse_rules(path)
    proc = subprocess.run(["promtool", "check", "rules", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    m = re.search(r"SUCCESS: (\d+) rules found", proc.stdout)
    if proc.returncode != 0 or not m:
        error("promtool check rules %s:\n%s" % (path, proc.stdout))
    elif int(m.group(1)) != len(rules):
        error("%s: parsed %d rules, promtool found %s: the line-based parse missed some" % (path, len(rules),
                                                                                          m.group(1)))
    anchors = github_anchors(os.path.join(root, "docs/production/monitoring/alerting.md"))
    for rule in rules:
        where = "alerts.yml:%d %s" % (rule["line"], rule["name"])
        if not rule.get("expr"):
            error("%s: no expression" % where)
            continue
        check_expr(where, rule["expr"], catalogue)
        if rule["kind"] != "alert":
            continue
        if rule["labels"].get("severity") not in SEVERITIES:
            error("%s: severity must be one of %s" % (where, sorted(SEVERITIES)))
        for key in ("summary", "description", "runbook_url"):
            if not rule["annotations"].get(key):
                error("%s: no %s annotation" % (where, key))
        url = rule["annotations"].get("runbook_url", "")
        m = re.match(r"^docs/production/monitoring/alerting\.md#(.+)$", url)
        if not m:
            error("%s: runbook_url %r does not point into docs/production/monitoring/alerting.md" % (where, url))
        elif m.group(1) not in anchors:
            error("%s: alerting.md has no heading for the anchor #%s" % (where, m.group(1)))
    print("ok: %d rules of %s checked" % (len(rules), path))
    return rules


def check_rule_tests(root, rules):
    path = os.path.join(root, "deploy/monitoring/prometheus/alerts_test.yml")
    firing, quiet = set(), set()
    current, state = None, None
    for line in open(path):
        m = re.match(r"^\s*alertname:\s*(\S+)", line)
        if m:
            current, state = m.group(1), None
            continue
        if current is None:
            continue
        if re.match(r"^\s*exp_alerts:\s*\[\]\s*$", line):
            quiet.add(current)
            current = None
        elif re.match(r"^\s*exp_alerts:\s*$", line):
            state = "firing"
        elif state == "firing":
            m = re.match(r"^\s*severity:\s*(\S+)", line)
            if m:
                firing.add((current, m.group(1)))
            elif re.match(r"^\s*- eval_time:", line) or re.match(r"^\s*- interval:", line):
                current, state = None, None
    for rule in rules:
        if rule["kind"] != "alert":
            continue
        key = (rule["name"], rule["labels"].get("severity"))
        if key not in firing:
            error("alerts_test.yml: no case where %s (severity %s) fires" % key)
        if rule["name"] not in quiet:
            error("alerts_test.yml: no case where %s stays quiet (exp_alerts: [])" % rule["name"])
    print("ok: %d firing and %d quiet cases cover every alert of alerts.yml" % (len(firing), len(quiet)))


# ------------------------------------------------------------------------------------------------
# Dashboard


def check_dashboard(root, catalogue):
    path = os.path.join(root, "docs/production/monitoring/dashboards/signal-hub.json")
    try:
        with open(path) as f:
            dashboard = json.load(f)
    except ValueError as e:
        error("%s: invalid JSON: %s" % (path, e))
        return
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("DS_PROMETHEUS", {}).get("type") != "datasource" or \
            variables["DS_PROMETHEUS"].get("query") != "prometheus":
        error("dashboard: no datasource variable DS_PROMETHEUS of type prometheus")
    for name in ("job", "instance"):
        v = variables.get(name)
        if not v or v.get("type") != "query" or "signal_hub_" not in json.dumps(v.get("query")):
            error("dashboard: no query variable %s over a Signal Hub metric" % name)
        elif v.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            error("dashboard: variable %s does not query ${DS_PROMETHEUS}" % name)

    panels = dashboard.get("panels", [])
    # Rows may hold their panels (collapsed) or be followed by them (expanded).
    section, by_section, exprs, ids = None, {}, [], set()
    flat = []
    for panel in panels:
        flat.append((panel, None))
        for inner in panel.get("panels", []) if panel.get("type") == "row" else []:
            flat.append((inner, panel))
    for panel, parent in flat:
        pid = panel.get("id")
        if pid in ids:
            error("dashboard: duplicate panel id %s" % pid)
        ids.add(pid)
        if panel.get("type") == "row":
            title = panel.get("title", "")
            section = next((s for s in SECTIONS if title.startswith(s)), title)
            by_section.setdefault(section, 0)
            continue
        if parent is not None:
            section = next((s for s in SECTIONS if parent.get("title", "").startswith(s)), parent.get("title"))
        where = "dashboard panel %s %r" % (pid, panel.get("title"))
        if section is None:
            error("%s: outside any row" % where)
        else:
            by_section[section] = by_section.get(section, 0) + 1
        if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            error("%s: datasource is not ${DS_PROMETHEUS}" % where)
        targets = panel.get("targets") or []
        if not targets:
            error("%s: no query" % where)
        for target in targets:
            expr = (target.get("expr") or "").strip()
            if not expr:
                error("%s: target %s has no expression" % (where, target.get("refId")))
                continue
            if target.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                error("%s: target %s datasource is not ${DS_PROMETHEUS}" % (where, target.get("refId")))
            check_expr(where, expr, catalogue, require_vars=True)
            exprs.append(expr)
    for s in SECTIONS:
        if s not in by_section:
            error("dashboard: no row for the section %s" % s)
        elif by_section[s] == 0:
            error("dashboard: the section %s has no panel" % s)
    substituted = [e.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")
                   for e in exprs]
    if exprs:
        promql_valid("dashboard", substituted)
    print("ok: dashboard %s: %d panels, %d expressions, sections %s" % (path, len(flat), len(exprs), by_section))


def main():
    if len(sys.argv) != 2:
        print("usage: check_assets.py REPO_ROOT", file=sys.stderr)
        sys.exit(2)
    root = os.path.abspath(sys.argv[1])
    if shutil.which("promtool") is None:
        print("FAIL: promtool not found (Debian package prometheus; scripts/test.sh installs it)", file=sys.stderr)
        sys.exit(1)
    catalogue = load_catalogue(os.path.join(root, "docs/production/monitoring/metrics.md"))
    print("ok: %d metrics in the catalogue" % len(catalogue))
    rules = check_rules(root, catalogue)
    check_rule_tests(root, rules)
    check_dashboard(root, catalogue)
    if errors:
        for e in errors:
            print("FAIL: " + e, file=sys.stderr)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
