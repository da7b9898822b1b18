#!/usr/bin/env python3
"""Writes (or, with --check, verifies) deploy/helm/signal-hub/values.schema.json.

The schema is strict: every object has additionalProperties: false, so a misspelt value fails
`helm lint`, `helm template` and `helm install`. Its `config` part is derived from the keys table
of docs/configuration.md (the binary's own configuration keys, with their types), less the keys the
chart sets itself: a new configuration key without a regenerated schema fails --check.

usage: gen_schema.py REPO_ROOT [--check]
"""
import json
import re
import sys

# Keys of the signal-hub configuration the chart sets itself (templates/_helpers.tpl, signal-hub.config).
CHART_OWNED = {
    "database.type", "database.url", "server.host", "server.port",
    "monitoring.logging.output", "monitoring.metrics.enabled", "monitoring.metrics.host",
    "monitoring.metrics.port", "monitoring.metrics.path",
    "security.tls.enabled", "security.tls.cert_file", "security.tls.key_file",
    "security.api_keys.enabled", "security.api_keys.pepper_env",
    "security.rate_limiting.backend", "security.rate_limiting.redis_url",
    "performance.caching.backend", "performance.caching.redis_url",
}
# A ${VARIABLE} the binary interpolates is accepted wherever a scalar is.
INTERPOLATED = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}
SCALAR = {
    "string": {"type": "string"},
    "integer": {"anyOf": [{"type": "integer"}, INTERPOLATED]},
    "number": {"anyOf": [{"type": "number"}, INTERPOLATED]},
    "boolean": {"anyOf": [{"type": "boolean"}, INTERPOLATED]},
    "list of strings": {"type": "array", "items": {"type": "string"}},
    "size": {"anyOf": [{"type": "integer", "minimum": 0},
                       {"type": "string", "pattern": r"^\s*[0-9.]+\s*([KMGT]i?B|B)?\s*$|\$\{"}]},
}


def config_keys(root):
    """(dotted key, type) of every row of the keys table of docs/configuration.md."""
    keys = []
    with open(f"{root}/docs/configuration.md", encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\| `([a-z_.]+)` \| ([a-z ]+) \|", line)
            if m:
                keys.append((m.group(1), m.group(2).strip()))
    if len(keys) < 50:
        sys.exit(f"gen_schema: only {len(keys)} keys found in docs/configuration.md's table")
    return keys


def obj(props, required=None, desc=None):
    o = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        o["required"] = required
    if desc:
        o["description"] = desc
    return o


def config_schema(root):
    tree = {}
    documented = {k for k, _ in config_keys(root)}
    if CHART_OWNED - documented:
        sys.exit(f"gen_schema: chart-owned keys not in docs/configuration.md: {sorted(CHART_OWNED - documented)}")
    for key, typ in config_keys(root):
        if key in CHART_OWNED:
            continue
        if typ not in SCALAR:
            sys.exit(f"gen_schema: unknown type '{typ}' of {key} in docs/configuration.md")
        node = tree
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = dict(SCALAR[typ], description=f"{key} (docs/configuration.md)")

    def build(node):
        props = {}
        for k, v in node.items():
            props[k] = v if ("type" in v or "anyOf" in v) and "description" in v else build(v)
        return obj(props)
    s = build(tree)
    s["description"] = ("The signal-hub configuration file (docs/configuration.md) put in the ConfigMap; "
                        "keys the chart sets itself are not accepted here.")
    return s


STR = {"type": "string"}
BOOL = {"type": "boolean"}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
POSINT = {"type": "integer", "minimum": 1}
NONNEG = {"type": "integer", "minimum": 0}
STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$",
            "description": "a Kubernetes quantity, quoted (\"500m\", \"1Gi\")"}
RESOURCES = obj({
    "requests": obj({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY}),
    "limits": obj({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY}),
})
LABEL_SELECTOR = obj({
    "matchLabels": STRMAP,
    "matchExpressions": {"type": "array", "items": obj({
        "key": STR,
        "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
        "values": {"type": "array", "items": STR},
    }, required=["key", "operator"])},
})
PEER = obj({
    "ipBlock": obj({"cidr": STR, "except": {"type": "array", "items": STR}}, required=["cidr"]),
    "namespaceSelector": LABEL_SELECTOR,
    "podSelector": LABEL_SELECTOR,
}, desc="a NetworkPolicyPeer")
PEERS = {"type": "array", "items": PEER}
EGRESS = obj({"to": dict(PEERS, minItems=1), "ports": {"type": "array", "items": PORT, "minItems": 1}},
             required=["to", "ports"])
SECRET_REF = obj({"name": STR, "key": STR}, required=["name", "key"],
                 desc="an existing Secret (name) and the key in it")
PROBE = obj({"periodSeconds": POSINT, "timeoutSeconds": POSINT, "failureThreshold": POSINT},
            required=["periodSeconds", "timeoutSeconds", "failureThreshold"])
IMAGE_PULL_POLICY = {"enum": ["Always", "IfNotPresent", "Never"]}
TOLERATION = obj({
    "key": STR, "operator": {"enum": ["Exists", "Equal"]}, "value": STR,
    "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]}, "tolerationSeconds": NONNEG,
})
DNS_LABEL = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 20}


def schema(root):
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Signal Hub Helm chart values (generated by tests/deploy/k8s/gen_schema.py)",
        **obj({
            "nameOverride": STR,
            "fullnameOverride": STR,
            "image": obj({"repository": {"type": "string", "minLength": 1}, "tag": STR, "digest": STR,
                          "pullPolicy": IMAGE_PULL_POLICY}),
            "imagePullSecrets": {"type": "array", "items": obj({"name": STR}, required=["name"])},
            "replicaCount": POSINT,
            "listenAddress": {"type": "string", "minLength": 1},
            "ports": obj({"http": PORT, "metrics": PORT}, required=["http", "metrics"]),
            "database": obj({"urlSecret": SECRET_REF}),
            "redis": obj({"enabled": BOOL, "urlSecret": SECRET_REF}),
            "apiKeys": obj({"enabled": BOOL, "pepperSecret": SECRET_REF}),
            "embedding": obj({"apiKeySecret": SECRET_REF}),
            "tls": obj({"enabled": BOOL, "secretName": STR}),
            "extraCa": obj({"configMapName": STR}),
            "config": config_schema(root),
            "resources": RESOURCES,
            "probes": obj({"startup": PROBE, "liveness": PROBE, "readiness": PROBE}),
            "preStopSleepSeconds": NONNEG,
            "rollingUpdate": obj({"maxSurge": {"anyOf": [POSINT, {"type": "string", "pattern": r"^[0-9]+%$"}]}}),
            "autoscaling": obj({"enabled": BOOL, "minReplicas": POSINT, "maxReplicas": POSINT,
                                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100},
                                "targetMemoryUtilizationPercentage": {"type": "integer", "minimum": 0, "maximum": 100}}),
            "podDisruptionBudget": obj({"enabled": BOOL, "maxUnavailable": POSINT}),
            "topologySpread": obj({"enabled": BOOL}),
            "serviceAccount": obj({"create": BOOL, "name": STR, "annotations": STRMAP, "labels": STRMAP}),
            "automountServiceAccountToken": BOOL,
            "podSecurity": obj({"runAsUser": POSINT, "runAsGroup": POSINT, "fsGroup": POSINT},
                               desc="numeric ids of the restricted profile (never 0)"),
            "podLabels": STRMAP,
            "podAnnotations": STRMAP,
            "nodeSelector": STRMAP,
            "tolerations": {"type": "array", "items": TOLERATION},
            "priorityClassName": STR,
            "hostNetwork": {"type": "boolean", "description": "tests only: the podman run against a loopback PostgreSQL"},
            "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "annotations": STRMAP,
                            "sessionAffinity": {"enum": ["ClientIP", "None"]},
                            "sessionAffinityTimeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 86400}}),
            "ingress": obj({"enabled": BOOL, "className": STR, "annotations": STRMAP, "host": STR,
                            "path": {"type": "string", "pattern": "^/"},
                            "pathType": {"enum": ["Prefix", "Exact", "ImplementationSpecific"]},
                            "tls": obj({"enabled": BOOL, "secretName": STR})}),
            "serviceMonitor": obj({"enabled": BOOL, "interval": {"type": "string", "pattern": r"^[0-9]+(ms|s|m|h)$"},
                                   "scrapeTimeout": {"type": "string", "pattern": r"^[0-9]+(ms|s|m|h)$"},
                                   "labels": STRMAP}),
            "prometheusRule": obj({"enabled": BOOL, "labels": STRMAP}),
            "networkPolicy": obj({
                "enabled": BOOL,
                "ingress": obj({"from": PEERS, "metricsFrom": dict(PEERS, minItems=1)}),
                "egress": obj({"dns": EGRESS, "database": EGRESS, "redis": EGRESS, "embeddings": EGRESS,
                               "git": EGRESS, "extra": {"type": "array", "items": EGRESS}}),
            }),
            "migration": obj({"enabled": BOOL, "activeDeadlineSeconds": POSINT, "backoffLimit": NONNEG,
                              "serviceAccountName": STR, "resources": RESOURCES}),
            "indexer": obj({
                "enabled": BOOL,
                "schedule": STR,
                "timeZone": STR,
                "concurrencyPolicy": {"enum": ["Forbid", "Replace", "Allow"]},
                "activeDeadlineSeconds": POSINT,
                "backoffLimit": NONNEG,
                "successfulJobsHistoryLimit": NONNEG,
                "failedJobsHistoryLimit": NONNEG,
                "gitImage": obj({"repository": STR, "tag": STR, "pullPolicy": IMAGE_PULL_POLICY}),
                "gitCredentialsSecret": STR,
                "volume": obj({"claimName": STR}),
                "workspaceSizeLimit": QUANTITY,
                "repositories": {"type": "array", "items": obj({
                    "name": DNS_LABEL, "url": STR, "ref": STR, "path": STR, "schedule": STR,
                }, required=["name"])},
                "resources": RESOURCES,
            }),
            "backup": obj({
                "enabled": BOOL,
                "schedule": STR,
                "timeZone": STR,
                "keep": POSINT,
                "drill": obj({"enabled": BOOL, "schedule": STR, "scratchSizeLimit": QUANTITY}),
                "activeDeadlineSeconds": POSINT,
                "backoffLimit": NONNEG,
                "successfulJobsHistoryLimit": NONNEG,
                "failedJobsHistoryLimit": NONNEG,
                "volume": obj({
                    "existingClaim": STR,
                    "size": QUANTITY,
                    "storageClassName": STR,
                    "accessModes": {"type": "array", "minItems": 1, "items": {
                        "enum": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"]}},
                }),
                "resources": RESOURCES,
            }),
        }),
    }


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--check"):
        sys.exit(__doc__)
    root = sys.argv[1]
    path = f"{root}/deploy/helm/signal-hub/values.schema.json"
    text = json.dumps(schema(root), indent=2) + "\n"
    if len(sys.argv) == 3:
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{path} is not what tests/deploy/k8s/gen_schema.py generates from docs/configuration.md:"
                         f" run python3 tests/deploy/k8s/gen_schema.py {root}")
        print(f"ok: {path} is current ({len(config_keys(root))} configuration keys documented,"
              f" {len(CHART_OWNED)} owned by the chart)")
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
