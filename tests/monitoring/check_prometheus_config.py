#!/usr/bin/env python3
"""Checks deploy/monitoring/prometheus/prometheus.yml with the real promtool.

Usage: check_prometheus_config.py PROMETHEUS_YML

1. `promtool check config` on the file as written (it also checks the rule files it loads).
   Debian's prometheus package (bookworm, 2.42) is built without the Kubernetes service
   discovery, so its promtool refuses `kubernetes_sd_configs` with "field kubernetes_sd_configs
   not found": that one error is tolerated (and reported); any other failure fails the test.
2. A copy in which every `kubernetes_sd_configs` block is replaced by `static_configs` holding the
   targets Kubernetes would discover (endpoints with their __meta_kubernetes_* labels) must pass
   `promtool check config`, and `promtool check service-discovery` on the Kubernetes job must
   apply the job's relabel rules as documented: keep annotated Services and ports named
   `metrics`, honour the prometheus.io/port and prometheus.io/path annotations, drop finished
   pods, add namespace, service and pod labels.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

K8S_JOB = "signal-hub-kubernetes"
STATIC_JOB = "signal-hub"


def endpoint(address, port_name, phase="Running", pod="signal-hub-0", annotations=None):
    labels = {
        "__meta_kubernetes_namespace": "signal-hub",
        "__meta_kubernetes_service_name": "signal-hub",
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_endpoint_port_name": port_name,
    }
    for key, value in (annotations or {}).items():
        labels["__meta_kubernetes_service_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return {"targets": [address], "labels": labels}


# (discovered endpoint, expected scrape target or None when it must be dropped)
CASES = [
    # A Service port named `metrics`: scraped as is.
    (endpoint("10.0.0.1:9090", "metrics", pod="signal-hub-0"),
     {"__address__": "10.0.0.1:9090", "__metrics_path__": "/metrics", "pod": "signal-hub-0"}),
    # The MCP port of the same Service, not annotated: not scraped.
    (endpoint("10.0.0.1:8080", "mcp", pod="signal-hub-0"), None),
    # An annotated Service: the port comes from prometheus.io/port, the path from prometheus.io/path.
    (endpoint("10.0.0.2:8080", "mcp", pod="signal-hub-1",
              annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "9102",
                           "prometheus.io/path": "/custom-metrics"}),
     {"__address__": "10.0.0.2:9102", "__metrics_path__": "/custom-metrics", "pod": "signal-hub-1"}),
    # Annotated `false` and no `metrics` port: not scraped.
    (endpoint("10.0.0.3:8080", "mcp", pod="signal-hub-2", annotations={"prometheus.io/scrape": "false"}), None),
    # A finished pod (a Job's, say) behind a `metrics` port: not scraped.
    (endpoint("10.0.0.4:9090", "metrics", phase="Succeeded", pod="signal-hub-migrate"), None),
]


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def run(args, cwd=None):
    proc = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc.returncode, proc.stdout + proc.stderr, proc.stdout


def replace_kubernetes_sd(text):
    """Replaces each `kubernetes_sd_configs:` block by static_configs holding CASES (JSON is YAML)."""
    lines = text.splitlines()
    out, i, replaced = [], 0, 0
    static = json.dumps([case[0] for case in CASES])
    while i < len(lines):
        m = re.match(r"^(\s*)kubernetes_sd_configs:\s*$", lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = len(m.group(1))
        out.append(" " * indent + "static_configs: " + static)
        i += 1
        # The block: every following line indented deeper than the key, or blank/comment lines.
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped and not stripped.startswith("#") and len(line) - len(line.lstrip()) <= indent:
                break
            if stripped.startswith("- ") and len(line) - len(line.lstrip()) == indent:
                break
            i += 1
        replaced += 1
    return "\n".join(out) + "\n", replaced


def main():
    if len(sys.argv) != 2:
        fail("usage: check_prometheus_config.py PROMETHEUS_YML")
    config = os.path.abspath(sys.argv[1])
    config_dir = os.path.dirname(config)
    if shutil.which("promtool") is None:
        fail("promtool not found (Debian package prometheus; scripts/test.sh installs it)")

    rc, output, _ = run(["promtool", "check", "config", config])
    if rc == 0:
        print("ok: promtool check config %s (Kubernetes discovery included)" % config)
    elif "field kubernetes_sd_configs not found" in output:
        print("note: this promtool is built without Kubernetes service discovery (Debian); "
              "checking the Kubernetes job on simulated endpoints instead")
    else:
        fail("promtool check config %s:\n%s" % (config, output))

    with open(config) as f:
        text = f.read()
    derived, replaced = replace_kubernetes_sd(text)
    if replaced != 1:
        fail("expected one kubernetes_sd_configs block in %s, found %d" % (config, replaced))

    with tempfile.TemporaryDirectory(prefix="signal-hub-promcfg.") as work:
        # The rule files are relative to the configuration's directory: copy them alongside.
        for name in os.listdir(config_dir):
            if name.endswith((".yml", ".yaml")) and name != os.path.basename(config):
                shutil.copy(os.path.join(config_dir, name), work)
        derived_path = os.path.join(work, "prometheus.yml")
        with open(derived_path, "w") as f:
            f.write(derived)

        rc, output, _ = run(["promtool", "check", "config", derived_path])
        if rc != 0:
            fail("promtool check config on the copy with simulated Kubernetes endpoints:\n" + output)
        if "rules found" not in output:
            fail("promtool check config did not load the rule files:\n" + output)
        print("ok: promtool check config (rule files loaded):\n" + output.strip())

        # Static targets are discovered at once, but promtool waits for --timeout (30 s by default)
        # before it prints; a short wait cannot hide a target, the count below would catch it.
        rc, output, stdout = run(["promtool", "check", "service-discovery", "--timeout=5s", derived_path, K8S_JOB])
        if rc != 0:
            fail("promtool check service-discovery %s:\n%s" % (K8S_JOB, output))
        try:
            results = json.loads(stdout)
        except ValueError:
            fail("promtool check service-discovery printed no JSON:\n" + output)
        if len(results) != len(CASES):
            fail("expected %d discovered targets, got %d:\n%s" % (len(CASES), len(results), stdout))
        # promtool 2.42 shows discoveredLabels after relabelling and in no fixed order: match the
        # results to the cases on the pod and port name.
        key_names = ("__meta_kubernetes_pod_name", "__meta_kubernetes_endpoint_port_name")
        by_key = {tuple(r["discoveredLabels"].get(k) for k in key_names): r for r in results}
        for discovered, want in CASES:
            address = discovered["targets"][0]
            got = by_key.get(tuple(discovered["labels"][k] for k in key_names))
            if got is None:
                fail("no result for the endpoint %s (%s):\n%s" % (address, discovered["labels"], stdout))
            labels = got["labels"]
            if want is None:
                if labels:
                    fail("%s (%s) should be dropped, got %s" % (address, discovered["labels"], labels))
                print("ok: %s dropped" % address)
                continue
            if not labels:
                fail("%s (%s) should be scraped, it was dropped" % (address, discovered["labels"]))
            expected = dict(want)
            expected.update({"job": K8S_JOB, "namespace": "signal-hub", "service": "signal-hub",
                             "instance": want["__address__"]})
            for key, value in expected.items():
                if labels.get(key) != value:
                    fail("%s: label %s: expected %r, got %r (all: %s)" % (address, key, value, labels.get(key), labels))
            print("ok: %s scraped as %s%s" % (address, labels["__address__"], labels["__metrics_path__"]))

        rc, output, stdout = run(["promtool", "check", "service-discovery", "--timeout=5s", derived_path,
                                  STATIC_JOB])
        if rc != 0:
            fail("promtool check service-discovery %s:\n%s" % (STATIC_JOB, output))
        if not json.loads(stdout):
            fail("the static job %s has no target" % STATIC_JOB)
    print("PASS")


if __name__ == "__main__":
    main()
