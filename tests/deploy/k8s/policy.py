"""The Helm chart's promises, asserted on rendered objects (chart_test.py policy; pod_run.sh).

check(objects, production) returns a list of problems, each naming the object and the rule:
- every pod (Deployment, Job, CronJob; init containers too) meets the Kubernetes "restricted" Pod
  Security profile and more: non-root numeric user, RuntimeDefault seccomp, no privilege escalation,
  all capabilities dropped, read-only root filesystem, no service-account token, no host namespaces
  or host paths, requests and limits; only emptyDir volumes are writable, except the archive volume
  (backups) of the container `backup` (the drill mounts it read-only);
- no literal secret anywhere (environment values, URLs with passwords, Secret objects);
- the server Deployment: the ticket's resources (1Gi/500m requested, 2Gi/2000m limit), ports 8080 and
  9090, /health startup and liveness probes, /ready readiness, DATABASE_URL from signal-hub-secrets'
  database-url, RollingUpdate with maxUnavailable 0, 3 replicas (or an HPA with minReplicas >= 3);
- a PodDisruptionBudget and a HorizontalPodAutoscaler for it;
- NetworkPolicies: 8080 and 9090 only, 9090 only from Prometheus, every rule with named peers,
  egress only to DNS, PostgreSQL, Redis and HTTPS (embeddings, git);
- the migration Job is a pre-install/pre-upgrade hook running `migrate init-db`;
- backup CronJobs (when rendered): `backup create /backups --keep N` in exec form with DATABASE_URL from the
  database Secret, `backup drill /backups --scratch /scratch` with no Secret at all, both
  concurrencyPolicy Forbid on the same archive claim;
- production value sets also render an Ingress with TLS, a ServiceMonitor, a PrometheusRule and the
  backup and drill CronJobs.
"""
import json
import re

RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2000m", "memory": "2Gi"}}
HTTP_PORT, METRICS_PORT = 8080, 9090
EGRESS_PORTS = {53, 5432, 6379, 6378, 6380, 443}
SECRET_NAME = re.compile(r"(URL|PASSWORD|PASSWD|TOKEN|SECRET|PEPPER|API_KEY|CREDENTIAL)", re.I)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@${}]*:[^@\s/${}]+@", re.I)


def _name(o):
    return f"{o.get('kind')} {o.get('metadata', {}).get('name')}"


def pod_specs(objects):
    for o in objects:
        if o["kind"] in ("Deployment", "Job"):
            yield _name(o), o["spec"]["template"]["spec"]
        elif o["kind"] == "CronJob":
            yield _name(o), o["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _check_pod(where, spec, p):
    if spec.get("automountServiceAccountToken") is not False:
        p.append(f"{where}: automountServiceAccountToken must be false")
    for host in ("hostPID", "hostIPC"):
        if spec.get(host):
            p.append(f"{where}: {host} must not be set")
    if spec.get("hostNetwork"):
        p.append(f"{where}: hostNetwork must not be set (test overlays only)")
    sc = spec.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True:
        p.append(f"{where}: pod securityContext.runAsNonRoot must be true")
    if not isinstance(sc.get("runAsUser"), int) or sc.get("runAsUser", 0) <= 0:
        p.append(f"{where}: pod securityContext.runAsUser must be a non-zero number, got {sc.get('runAsUser')}")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        p.append(f"{where}: pod securityContext.seccompProfile.type must be RuntimeDefault")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for v in volumes.values():
        if "hostPath" in v:
            p.append(f"{where}: volume {v['name']} is a hostPath")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        cw = f"{where} container {c['name']}"
        csc = c.get("securityContext", {})
        if csc.get("allowPrivilegeEscalation") is not False:
            p.append(f"{cw}: allowPrivilegeEscalation must be false")
        if csc.get("readOnlyRootFilesystem") is not True:
            p.append(f"{cw}: readOnlyRootFilesystem must be true")
        if csc.get("privileged"):
            p.append(f"{cw}: privileged")
        caps = csc.get("capabilities", {})
        if caps.get("drop") != ["ALL"] or caps.get("add"):
            p.append(f"{cw}: capabilities must drop ALL and add none, got {caps}")
        if csc.get("runAsNonRoot") is False or csc.get("runAsUser") == 0:
            p.append(f"{cw}: runs as root (runAsUser)")
        if csc.get("seccompProfile", {}).get("type", "RuntimeDefault") != "RuntimeDefault":
            p.append(f"{cw}: seccompProfile must be RuntimeDefault")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    p.append(f"{cw}: resources.{kind}.{r} missing")
        for e in c.get("env", []):
            if "value" in e and (SECRET_NAME.search(e["name"]) or URL_WITH_PASSWORD.search(str(e["value"]))):
                p.append(f"{cw}: env {e['name']} has a literal value; secrets come from secretKeyRef")
            if "valueFrom" in e and "secretKeyRef" not in e["valueFrom"]:
                p.append(f"{cw}: env {e['name']} is not from a Secret")
        for m in c.get("volumeMounts", []):
            v = volumes.get(m["name"])
            if v is None:
                p.append(f"{cw}: mounts unknown volume {m['name']}")
            elif "emptyDir" not in v and not m.get("readOnly") and not (
                    c["name"] == "backup" and m["name"] == "backups" and "persistentVolumeClaim" in v):
                p.append(f"{cw}: {m['mountPath']} is writable but not an emptyDir")


def _selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _check_server(objects, p, HTTP_PORT, METRICS_PORT):
    deps = [o for o in objects if o["kind"] == "Deployment"]
    if len(deps) != 1:
        p.append(f"expected one Deployment, found {len(deps)}")
        return None
    d = deps[0]
    where = _name(d)
    strategy = d["spec"].get("strategy", {})
    if strategy.get("type") != "RollingUpdate" or strategy.get("rollingUpdate", {}).get("maxUnavailable") != 0:
        p.append(f"{where}: strategy must be RollingUpdate with maxUnavailable 0, got {strategy}")
    c = d["spec"]["template"]["spec"]["containers"][0]
    if c.get("resources") != RESOURCES:
        p.append(f"{where}: resources {c.get('resources')} are not the ticket's {RESOURCES}")
    ports = {pt["name"]: pt["containerPort"] for pt in c.get("ports", [])}
    if ports != {"http": HTTP_PORT, "metrics": METRICS_PORT}:
        p.append(f"{where}: container ports {ports}, expected http {HTTP_PORT} and metrics {METRICS_PORT}")
    for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in ("http", HTTP_PORT):
            p.append(f"{where}: {probe} must be GET {path} on port {HTTP_PORT}, got {c.get(probe)}")
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env.get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
    if ref != {"name": "signal-hub-secrets", "key": "database-url"}:
        p.append(f"{where}: DATABASE_URL must come from Secret signal-hub-secrets key database-url, got {ref}")
    hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    if not hpas:
        p.append("no HorizontalPodAutoscaler")
    for h in hpas:
        target = h["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") != d["metadata"]["name"]:
            p.append(f"{_name(h)}: scales {target}, not {where}")
        if h["spec"].get("minReplicas", 1) < 3:
            p.append(f"{_name(h)}: minReplicas {h['spec'].get('minReplicas')} < 3")
        if "replicas" in d["spec"]:
            p.append(f"{where}: sets replicas although the HPA owns the count")
    if not hpas and d["spec"].get("replicas") != 3:
        p.append(f"{where}: replicas {d['spec'].get('replicas')}, expected 3")
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    pod_labels = d["spec"]["template"]["metadata"]["labels"]
    if not any(_selects(b["spec"]["selector"], pod_labels) for b in pdbs):
        p.append("no PodDisruptionBudget selects the server pods")
    for b in pdbs:
        if "maxUnavailable" not in b["spec"] and "minAvailable" not in b["spec"]:
            p.append(f"{_name(b)}: neither maxUnavailable nor minAvailable")
    return d


def _check_network(objects, server, p, HTTP_PORT, METRICS_PORT):
    pols = [o for o in objects if o["kind"] == "NetworkPolicy"]
    labels = server["spec"]["template"]["metadata"]["labels"]
    mine = [n for n in pols if "matchLabels" in n["spec"]["podSelector"] and _selects(n["spec"]["podSelector"], labels)]
    if not mine:
        p.append("no NetworkPolicy selects the server pods")
    for n in pols:
        where = _name(n)
        spec = n["spec"]
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
            p.append(f"{where}: policyTypes must be Ingress and Egress")
        for rule in spec.get("ingress", []):
            ports = {pt.get("port") for pt in rule.get("ports", [])}
            if not rule.get("from") or not ports:
                p.append(f"{where}: an ingress rule without from/ports admits everyone: {rule}")
            if not ports <= {HTTP_PORT, METRICS_PORT} or ports == {HTTP_PORT, METRICS_PORT}:
                p.append(f"{where}: ingress rule for ports {ports}: only {HTTP_PORT} or {METRICS_PORT}, separately")
            if METRICS_PORT in ports and not all(
                    "prometheus" in json.dumps(peer.get("podSelector", {})) for peer in rule.get("from", [{}])):
                p.append(f"{where}: {METRICS_PORT} is open to more than Prometheus: {rule.get('from')}")
        for rule in spec.get("egress", []):
            ports = {pt.get("port") for pt in rule.get("ports", [])}
            if not rule.get("to") or not ports:
                p.append(f"{where}: an egress rule without to/ports allows everything: {rule}")
            if not ports <= EGRESS_PORTS:
                p.append(f"{where}: egress to ports {ports - EGRESS_PORTS} (allowed: DNS, PostgreSQL, Redis, HTTPS)")
            if 53 in ports and "kube-dns" not in json.dumps(rule.get("to")):
                p.append(f"{where}: DNS egress goes elsewhere than kube-dns: {rule.get('to')}")
    if server is not None and mine:
        ingress_ports = {pt.get("port") for n in mine for r in n["spec"].get("ingress", []) for pt in r.get("ports", [])}
        if METRICS_PORT not in ingress_ports:
            p.append(f"the server's NetworkPolicy does not let Prometheus reach {METRICS_PORT}")
        egress_ports = {pt.get("port") for n in mine for r in n["spec"].get("egress", []) for pt in r.get("ports", [])}
        if 53 not in egress_ports:
            p.append("the server's NetworkPolicy does not allow DNS")
        if 5432 not in egress_ports:
            p.append("the server's NetworkPolicy does not allow PostgreSQL (5432)")


def _check_backup(objects, p, production):
    crons = {}
    for o in objects:
        if o["kind"] == "CronJob" and o["metadata"]["labels"].get("app.kubernetes.io/component") == "backup":
            spec = o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            crons[spec["containers"][0]["name"]] = (o, spec)
    if not crons:
        if production:
            p.append("production: no backup CronJob (backup.enabled)")
        return
    claims = set()
    for name, (o, spec) in crons.items():
        where = _name(o)
        if o["spec"].get("concurrencyPolicy") != "Forbid":
            p.append(f"{where}: concurrencyPolicy must be Forbid")
        c = spec["containers"][0]
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        claims.add(vols.get("backups", {}).get("persistentVolumeClaim", {}).get("claimName"))
        env = {e["name"]: e for e in c.get("env", [])}
        if name == "backup":
            args = c.get("args", [])
            if args[2:5] != ["backup", "create", "/backups"] or "--keep" not in args or "command" in c:
                p.append(f"{where}: must run `backup create /backups --keep N` in exec form (args), got {args}")
            ref = env.get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef")
            if not ref:
                p.append(f"{where}: DATABASE_URL must come from the database Secret")
        elif name == "drill":
            if c.get("args") != ["backup", "drill", "/backups", "--scratch", "/scratch"] or "command" in c:
                p.append(f"{where}: must run `backup drill /backups --scratch /scratch`, got {c.get('args')}")
            if env:
                p.append(f"{where}: the drill needs no environment (no database, no Secret), got {sorted(env)}")
        else:
            p.append(f"{where}: unexpected backup container {name}")
    if len(claims) != 1 or None in claims:
        p.append(f"backup CronJobs do not share one archive claim: {claims}")
    if production and "drill" not in crons:
        p.append("production: no restore drill CronJob (backup.drill.enabled)")


def check(objects, production, http_port=HTTP_PORT, metrics_port=METRICS_PORT):
    p = []
    for o in objects:
        if o["kind"] == "Secret":
            p.append(f"{_name(o)}: the chart must not create Secrets (existing ones only)")
    text = json.dumps(objects)
    for m in URL_WITH_PASSWORD.finditer(text):
        p.append(f"a URL with a literal password in the rendered objects: {m.group(0)}")
    for where, spec in pod_specs(objects):
        _check_pod(where, spec, p)
    server = _check_server(objects, p, http_port, metrics_port)
    if server is not None:
        _check_network(objects, server, p, http_port, metrics_port)
    # MCP sessions live in one pod's memory: the server's Service keeps a client on one pod.
    for svc in (o for o in objects if o["kind"] == "Service" and
                o["metadata"]["labels"].get("app.kubernetes.io/component") == "server"):
        if svc["spec"].get("sessionAffinity") != "ClientIP":
            p.append(f"{_name(svc)}: no ClientIP session affinity (MCP sessions live in one pod)")
    jobs = [o for o in objects if o["kind"] == "Job"]
    if not any(o["metadata"].get("annotations", {}).get("helm.sh/hook") == "pre-install,pre-upgrade" and
               o["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate", "init-db"] for o in jobs):
        p.append("no pre-install,pre-upgrade hook Job runs `migrate init-db`")
    _check_backup(objects, p, production)
    if production:
        ing = [o for o in objects if o["kind"] == "Ingress"]
        if not ing or not all(i["spec"].get("tls") or "networking.gke.io/managed-certificates" in
                              i["metadata"].get("annotations", {}) for i in ing):
            p.append("production: no Ingress with TLS")
        for kind in ("ServiceMonitor", "PrometheusRule", "CronJob"):
            if not any(o["kind"] == kind for o in objects):
                p.append(f"production: no {kind}")
        scheme = server["spec"]["template"]["spec"]["containers"][0].get("readinessProbe", {}) \
            .get("httpGet", {}).get("scheme") if server else None
        if scheme != "HTTPS":
            p.append("production: the probes do not use HTTPS (the pod serves TLS)")
    return p
