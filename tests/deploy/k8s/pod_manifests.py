#!/usr/bin/env python3
"""Turns a render of the chart into what `podman kube play` runs (tests/deploy/k8s/pod_run.sh).

usage: pod_manifests.py RENDERED.yaml SECRETS_DIR OUTDIR HTTP_PORT METRICS_PORT

SECRETS_DIR holds the Secrets an operator creates, as `kubectl create secret ... --dry-run=client -o
json` writes them (one *.json each); the chart never makes one. Writes, from the rendered objects (checked by policy.py first, apart
from the overlay's hostNetwork):
  OUTDIR/secret-NAME.json  each Secret as podman 4.3 reads secretKeyRef: {"KEY": "<base64>"}
  OUTDIR/secret-volumes/NAME/KEY  the files of each Secret a pod mounts, mode 0440 (as the kubelet
                       writes them with an fsGroup); podman 4.3 crashes on secret volumes, so the pods
                       mount the podman volume "secret-NAME" instead, which the test fills with them
  OUTDIR/migrate.yaml  the pre-install hook Job's pod, as a Pod (podman has no Job)
  OUTDIR/CRONJOB.yaml  the ConfigMap and each indexer CronJob's pod, as a Pod (podman has no CronJob);
                       a claim's subPath PATH becomes its own volume CLAIM-PATH (podman ignores subPath)
  OUTDIR/server.yaml   the ConfigMap and the Deployment, as rendered less its containerPorts (podman
                       refuses port mappings with host networking; the server binds 127.0.0.1 itself)
"""
import base64
import json
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
    rendered, secrets_dir, out = sys.argv[1:4]
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
    secrets = {}
    for entry in sorted(os.listdir(secrets_dir)):
        with open(os.path.join(secrets_dir, entry)) as f:
            o = json.load(f)
        secrets[o["metadata"]["name"]] = {k: base64.b64decode(v).decode() for k, v in o["data"].items()}
    for name, data in secrets.items():
        with open(os.path.join(out, f"secret-{name}.json"), "w") as f:
            json.dump({k: base64.b64encode(v.encode()).decode() for k, v in data.items()}, f)
        for key, value in data.items():
            os.makedirs(os.path.join(out, "secret-volumes", name), exist_ok=True)
            path = os.path.join(out, "secret-volumes", name, key)
            with open(path, "w") as f:
                f.write(value)
            os.chmod(path, 0o440)
    secret_volumes(deployment["spec"]["template"]["spec"])
    # podman refuses port mappings with host networking; the server binds its ports on 127.0.0.1 itself.
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        c.pop("ports", None)
    configmap = by_kind["ConfigMap"][0]
    job = by_kind["Job"][0]
    files = {
        "migrate.yaml": [as_pod(job["metadata"]["name"], job["spec"]["template"])],
        "server.yaml": [configmap, deployment],
    }
    for cron in by_kind.get("CronJob", []):
        files[f"{cron['metadata']['name']}.yaml"] = [configmap, index_pod(cron)]
    for name, docs in files.items():
        with open(os.path.join(out, name), "w") as f:
            yaml.safe_dump_all(docs, f, sort_keys=False)
    print(f"pod_manifests: {', '.join(files)} in {out} (server {deployment['metadata']['name']})")


def secret_volumes(spec):
    """Secret volumes become the podman volumes secret-NAME (podman 4.3 crashes on secret volumes)."""
    for v in spec.get("volumes", []):
        if "secret" in v:
            name = v.pop("secret")["secretName"]
            v["persistentVolumeClaim"] = {"claimName": f"secret-{name}", "readOnly": True}
            print(f"pod_manifests: Secret {name} mounted from the volume secret-{name}")


def index_pod(cron):
    """The CronJob's pod as a Pod. podman 4.3 mounts a claim whole, ignoring subPath: the indexer's
    sub-directory PATH of claim C becomes the podman volume "C-PATH" (the test fills it with what C
    holds at PATH)."""
    index_pod = as_pod(cron["metadata"]["name"], cron["spec"]["jobTemplate"]["spec"]["template"])
    secret_volumes(index_pod["spec"])
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
