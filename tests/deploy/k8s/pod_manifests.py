#!/usr/bin/env python3
"""Turns a render of the chart into what `podman kube play` runs (tests/deploy/k8s/pod_run.sh).

usage: pod_manifests.py RENDERED.yaml DATABASE_URL_FILE OUTDIR HTTP_PORT METRICS_PORT

Writes, from the rendered objects (checked by policy.py first, apart from the overlay's hostNetwork):
  OUTDIR/secret.yaml   the Secret an operator creates (kubectl create secret generic signal-hub-secrets
                       --from-literal=database-url=...), with the fixture's URL: the chart never makes one
  OUTDIR/migrate.yaml  the pre-install hook Job's pod, as a Pod (podman has no Job)
  OUTDIR/CRONJOB.yaml  the ConfigMap and each indexer CronJob's pod, as a Pod (podman has no CronJob);
                       a claim's subPath PATH becomes its own volume CLAIM-PATH (podman ignores subPath)
  OUTDIR/server.yaml   the ConfigMap and the Deployment, as rendered less its containerPorts (podman
                       refuses port mappings with host networking; the server binds 127.0.0.1 itself)
"""
import base64
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy  # noqa: E402


def as_pod(name, template):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
            "spec": template["spec"]}


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    rendered, url_file, out = sys.argv[1:4]
    http_port, metrics_port = int(sys.argv[4]), int(sys.argv[5])
    objects = [d for d in yaml.safe_load_all(open(rendered)) if d]
    # The pods that run are the chart's: the restricted profile and the rest hold (hostNetwork is the
    # overlay's, to reach the fixture's PostgreSQL on 127.0.0.1).
    problems = [p for p in policy.check(objects, production=False, http_port=http_port, metrics_port=metrics_port)
                if "hostNetwork" not in p and "replicas 1" not in p and "HorizontalPodAutoscaler" not in p]
    if problems:
        sys.exit("the rendered test overlay breaks the chart's policy:\n  " + "\n  ".join(problems))
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    deployment = by_kind["Deployment"][0]
    secret_ref = deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
    url = open(url_file).read().strip()
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": secret_ref["name"]},
              "data": {secret_ref["key"]: base64.b64encode(url.encode()).decode()}}
    # podman refuses port mappings with host networking; the server binds its ports on 127.0.0.1 itself.
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        c.pop("ports", None)
    configmap = by_kind["ConfigMap"][0]
    job = by_kind["Job"][0]
    files = {
        "secret.yaml": [secret],
        "migrate.yaml": [as_pod(job["metadata"]["name"], job["spec"]["template"])],
        "server.yaml": [configmap, deployment],
    }
    for cron in by_kind["CronJob"]:
        files[f"{cron['metadata']['name']}.yaml"] = [configmap, index_pod(cron)]
    for name, docs in files.items():
        with open(os.path.join(out, name), "w") as f:
            yaml.safe_dump_all(docs, f, sort_keys=False)
    print(f"pod_manifests: {', '.join(files)} in {out} (server {deployment['metadata']['name']})")


def index_pod(cron):
    """The CronJob's pod as a Pod. podman 4.3 mounts a claim whole, ignoring subPath: the indexer's
    sub-directory PATH of claim C becomes the podman volume "C-PATH" (the test fills it with what C
    holds at PATH)."""
    index_pod = as_pod(cron["metadata"]["name"], cron["spec"]["jobTemplate"]["spec"]["template"])
    claims = {v["name"]: v["persistentVolumeClaim"] for v in index_pod["spec"]["volumes"]
              if "persistentVolumeClaim" in v}
    for c in index_pod["spec"]["containers"]:
        for m in c.get("volumeMounts", []):
            if m["name"] in claims and "subPath" in m:
                sub = m.pop("subPath")
                vol = {"name": f"{m['name']}-{len(claims)}",
                       "persistentVolumeClaim": {"claimName": f"{claims[m['name']]['claimName']}-{sub}",
                                                 "readOnly": True}}
                index_pod["spec"]["volumes"].append(vol)
                m["name"] = vol["name"]
                claims[vol["name"]] = vol["persistentVolumeClaim"]
                print(f"pod_manifests: volume {vol['persistentVolumeClaim']['claimName']} at {m['mountPath']}")
    mounted = {m["name"] for c in index_pod["spec"].get("initContainers", []) + index_pod["spec"]["containers"]
               for m in c.get("volumeMounts", [])}
    index_pod["spec"]["volumes"] = [v for v in index_pod["spec"]["volumes"] if v["name"] in mounted]
    return index_pod


if __name__ == "__main__":
    main()
