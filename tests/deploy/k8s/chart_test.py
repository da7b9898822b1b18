#!/usr/bin/env python3
"""Tests of the Helm chart deploy/helm/signal-hub (ctest -L deploy).

usage: chart_test.py REPO_ROOT lint
       chart_test.py REPO_ROOT types
       chart_test.py REPO_ROOT policy
       chart_test.py REPO_ROOT config SIGNAL_HUB_BINARY

lint    helm lint --strict for every value set; values.schema.json is what gen_schema.py makes from
        docs/configuration.md; the chart's alert rules equal deploy/monitoring's; a misspelt value, a
        configuration key the chart owns and a missing Secret name each fail rendering, by name.
types   renders the five value sets and checks every object with `tsc --noEmit --strict` as a typed
        object literal (kubernetes-types; monitoring.d.ts for the Prometheus Operator's resources);
        `replica: 3` in a Deployment and an unquoted CPU quantity must fail that check.
policy  asserts the chart's promises on what was rendered (policy.py), and that the asserts fail on
        objects that break them.
config  loads each rendered ConfigMap's config.yaml with the real binary (`check production`): the
        default configuration loads; the production ones pass all 15 items with 3 replicas; the
        README's check-before-installing commands run as written and pass.

Tools: tests/deploy/k8s/node_modules (scripts/fetch-deploy-tools.sh, run here when missing).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
CHART = os.path.join(ROOT or ".", "deploy/helm/signal-hub")
NODE_MODULES = os.path.join(HERE, "node_modules")
HELM = os.path.join(NODE_MODULES, ".tools/helm")
TSC = os.path.join(NODE_MODULES, "typescript/bin/tsc")

# The value sets the docs describe: the cloud files go on top of values-production.yaml.
VALUE_SETS = {
    "default": [],
    "production": ["values-production.yaml"],
    "aws": ["values-production.yaml", "values-aws.yaml"],
    "gcp": ["values-production.yaml", "values-gcp.yaml"],
    "azure": ["values-production.yaml", "values-azure.yaml"],
}
RELEASE = "signal-hub"
NAMESPACE = "signal-hub"

# (apiVersion, kind) -> (module, type name) of every kind the chart may render.
TYPES = {
    ("v1", "ConfigMap"): ("kubernetes-types/core/v1", "ConfigMap"),
    ("v1", "Service"): ("kubernetes-types/core/v1", "Service"),
    ("v1", "ServiceAccount"): ("kubernetes-types/core/v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"): ("kubernetes-types/core/v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"): ("kubernetes-types/apps/v1", "Deployment"),
    ("batch/v1", "Job"): ("kubernetes-types/batch/v1", "Job"),
    ("batch/v1", "CronJob"): ("kubernetes-types/batch/v1", "CronJob"),
    ("policy/v1", "PodDisruptionBudget"): ("kubernetes-types/policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("kubernetes-types/autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("kubernetes-types/networking/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress"): ("kubernetes-types/networking/v1", "Ingress"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("./monitoring", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("./monitoring", "PrometheusRule"),
}

failures = []


def ok(msg):
    print(f"ok: {msg}", flush=True)


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    failures.append(msg)


def ensure_tools():
    if not (os.access(HELM, os.X_OK) and os.path.isfile(TSC)):
        subprocess.run([os.path.join(ROOT, "scripts/fetch-deploy-tools.sh")], check=True)


def helm(*args, check=True):
    p = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise SystemExit(f"helm {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def value_args(files, extra=()):
    args = []
    for f in files:
        args += ["-f", f if os.path.isabs(f) else os.path.join(CHART, f)]
    for e in extra:
        args += ["--set", e]
    return args


def render(files, extra=()):
    """The objects `helm template` renders (hooks included), in order."""
    p = helm("template", RELEASE, CHART, "--namespace", NAMESPACE, *value_args(files, extra))
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def render_fails(what, extra, expect, files=()):
    p = helm("template", RELEASE, CHART, *value_args(files, extra), check=False)
    if p.returncode == 0:
        fail(f"{what}: rendering succeeded")
    elif not re.search(expect, p.stderr):
        fail(f"{what}: the error does not match /{expect}/: {p.stderr.strip()}")
    else:
        line = next((l for l in p.stderr.splitlines() if re.search(expect, l)), p.stderr.strip().splitlines()[0])
        ok(f"{what}: refused ({line.strip()[-160:]})")


# ---------------------------------------------------------------------------------------------- lint
# The backup Jobs' alerts (prometheusrule.yaml, with backup.enabled): promtool checks the rendered rules
# and runs them on kube-state-metrics series shaped as the CronJob controller names its Jobs.
BACKUP_RULES_TEST = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'kube_job_status_failed{namespace="signal-hub", job_name="signal-hub-backup-drill-29434567"}'
        values: '0 1x20'
      - series: 'kube_job_status_failed{namespace="signal-hub", job_name="signal-hub-backup-29434500"}'
        values: '0x20'
      - series: 'kube_job_status_failed{namespace="signal-hub", job_name="signal-hub-index-backend-29434567"}'
        values: '1x20'
    alert_rule_test:
      - eval_time: 10m
        alertname: SignalHubBackupJobFailed
        exp_alerts:
          - exp_labels: {severity: warning, namespace: signal-hub, job_name: signal-hub-backup-drill-29434567}
            exp_annotations:
              summary: "Signal Hub backup or restore drill Job signal-hub-backup-drill-29434567 failed"
              description: "kubectl -n signal-hub logs job/signal-hub-backup-drill-29434567; exit 7 is a bad archive or a failed drill (backup-restore.md)."
  # Scraped every minute for 9 days: the backup succeeded an hour ago every time (its value moves), the drill
  # last succeeded at time 0.
  - interval: 1m
    input_series:
      - series: 'kube_cronjob_status_last_successful_time{namespace="signal-hub", cronjob="signal-hub-backup"}'
        values: '-3600+60x13000'
      - series: 'kube_cronjob_status_last_successful_time{namespace="signal-hub", cronjob="signal-hub-backup-drill"}'
        values: '0x13000'
    alert_rule_test:
      - eval_time: 9d
        alertname: SignalHubBackupJobStale
        exp_alerts: []
      - eval_time: 9d
        alertname: SignalHubRestoreDrillJobStale
        exp_alerts:
          - exp_labels: {severity: warning, namespace: signal-hub, cronjob: signal-hub-backup-drill}
            exp_annotations: {summary: "No successful Signal Hub restore drill for 9d 0h 0m 0s"}
"""


def backup_job_rules():
    promtool = shutil.which("promtool")
    if not promtool:
        fail("promtool is not installed (scripts/test-packages.txt)")
        return
    rules = [o for o in render(VALUE_SETS["production"])
             if o["kind"] == "PrometheusRule" and o["metadata"]["name"].endswith("-backup-jobs")]
    if len(rules) != 1:
        fail(f"production values: expected one backup-jobs PrometheusRule, got {len(rules)}")
        return
    with tempfile.TemporaryDirectory(prefix="chart-rules.") as work:
        with open(os.path.join(work, "rules.yml"), "w") as f:
            yaml.safe_dump(rules[0]["spec"], f)
        with open(os.path.join(work, "rules_test.yml"), "w") as f:
            f.write(BACKUP_RULES_TEST)
        for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
            p = subprocess.run([promtool, *args], cwd=work, capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"promtool {' '.join(args)} on the backup Jobs' rules:\n{p.stdout}{p.stderr}")
                return
    ok("backup Jobs' alert rules: promtool check rules, and promtool test (a failed drill Job fires; "
       "another CronJob's failure does not; a drill not succeeding for 9 days fires, a daily backup does not)")


def cmd_lint():
    for name, files in VALUE_SETS.items():
        p = helm("lint", "--strict", CHART, *value_args(files), check=False)
        if p.returncode != 0:
            fail(f"helm lint --strict ({name}): {p.stdout}{p.stderr}")
        else:
            ok(f"helm lint --strict ({name})")

    p = subprocess.run([sys.executable, os.path.join(HERE, "gen_schema.py"), ROOT, "--check"],
                       capture_output=True, text=True)
    (ok if p.returncode == 0 else fail)(f"values.schema.json: {(p.stdout + p.stderr).strip()}")

    chart_rules = os.path.join(CHART, "files/prometheus-alerts.yml")
    source_rules = os.path.join(ROOT, "deploy/monitoring/prometheus/alerts.yml")
    with open(chart_rules, "rb") as a, open(source_rules, "rb") as b:
        if a.read() != b.read():
            fail(f"{chart_rules} differs from {source_rules}: cp {source_rules} {chart_rules}")
        else:
            ok("the chart's alert rules are deploy/monitoring/prometheus/alerts.yml")

    backup_job_rules()

    # A misspelt value anywhere fails, as the configuration file does; so do keys the chart owns.
    render_fails("a misspelt top-level value (replica=3)", ["replica=3"], r"Additional property replica is not allowed")
    render_fails("a misspelt nested value (autoscaling.minReplica=2)", ["autoscaling.minReplica=2"],
                 r"autoscaling: Additional property minReplica is not allowed")
    render_fails("a misspelt configuration key (config.embedding.modle)", ["config.embedding.modle=x"],
                 r"config.embedding: Additional property modle is not allowed")
    render_fails("a configuration key the chart owns (config.server.port)", ["config.server.port=9000"],
                 r"config.server: Additional property port is not allowed")
    render_fails("a wrong type (replicaCount=three)", ["replicaCount=three"], r"replicaCount")
    render_fails("an unquoted-number CPU quantity (resources.requests.cpu=1)", ["resources.requests.cpu=1"],
                 r"resources.requests.cpu")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("networkPolicy:\n  egres: {}\n")
    try:
        p = helm("lint", "--strict", CHART, "-f", f.name, check=False)
        if p.returncode == 0 or "egres" not in p.stdout + p.stderr:
            fail(f"helm lint --strict with a misspelt values file passed: {p.stdout}")
        else:
            ok("helm lint --strict refuses a values file with networkPolicy.egres")
    finally:
        os.unlink(f.name)

    # Secrets: only references to existing ones; a missing name is refused with what to create.
    render_fails("no database Secret name", ["database.urlSecret.name="],
                 r"database.urlSecret.name: name the existing Secret that holds the PostgreSQL URL")
    render_fails("redis.enabled without a Secret", ["redis.enabled=true"],
                 r"redis.urlSecret.name: redis.enabled needs the name of an existing Secret")
    render_fails("apiKeys.enabled without a Secret", ["apiKeys.enabled=true"],
                 r"apiKeys.pepperSecret.name: apiKeys.enabled needs")
    render_fails("tls.enabled without a Secret", ["tls.enabled=true"], r"tls.secretName: tls.enabled needs")
    render_fails("an openai embedder without a key Secret", ["config.embedding.provider=openai"],
                 r"embedding.apiKeySecret.name: config.embedding.provider openai reads its API key from OPENAI_API_KEY")
    render_fails("an indexer clone without a git image",
                 ["indexer.enabled=true", "indexer.repositories[0].name=app",
                  "indexer.repositories[0].url=https://git.example.com/app.git"],
                 r"indexer.gitImage.repository: a repository to clone needs an image with git")
    render_fails("an indexer repository with both url and path",
                 ["indexer.enabled=true", "indexer.repositories[0].name=app", "indexer.repositories[0].path=app",
                  "indexer.repositories[0].url=https://git.example.com/app.git"], r"give exactly one of url")
    render_fails("an ingress without a host", ["ingress.enabled=true"], r"ingress.host: ingress.enabled needs")
    # An empty peer list in a NetworkPolicy rule would allow everything: refused.
    render_fails("an empty database egress list", ["networkPolicy.egress.database.to=null"],
                 r"networkPolicy.egress.database.to is empty|database.*to")
    p = helm("template", RELEASE, CHART, *value_args(VALUE_SETS["production"]), check=False)
    if p.returncode != 0 or re.search(r"kind: Secret\b", p.stdout):
        fail("the production render creates a Secret or fails")
    else:
        ok("no Secret object is rendered (existing Secrets only)")


# --------------------------------------------------------------------------------------------- types
def ts_project(workdir, files):
    """A tsconfig in workdir that type-checks `files` against kubernetes-types, strictly."""
    shutil.copy(os.path.join(HERE, "monitoring.d.ts"), os.path.join(workdir, "monitoring.d.ts"))
    config = {
        "compilerOptions": {
            "strict": True, "noEmit": True, "target": "es2020", "module": "commonjs",
            "moduleResolution": "node", "types": [], "skipLibCheck": False,
            "baseUrl": ".", "paths": {"kubernetes-types/*": [os.path.join(NODE_MODULES, "kubernetes-types/*")]},
        },
        "files": ["monitoring.d.ts", *files],
    }
    with open(os.path.join(workdir, "tsconfig.json"), "w") as f:
        json.dump(config, f, indent=2)


def ts_source(objects, label):
    """A .ts file declaring each object as a typed constant."""
    imports, lines = {}, []
    for i, o in enumerate(objects):
        key = (o.get("apiVersion"), o.get("kind"))
        if key not in TYPES:
            raise SystemExit(f"{label}: no TypeScript type for {key} (add it to TYPES in chart_test.py)")
        module, type_name = TYPES[key]
        alias = re.sub(r"[^A-Za-z0-9]", "_", module.replace("kubernetes-types/", ""))
        imports[module] = alias
        name = o.get("metadata", {}).get("name", "?")
        lines.append(f"// {o['kind']} {name}\nexport const o{i}: {alias}.{type_name} = {json.dumps(o, indent=2)};\n")
    head = "".join(f'import * as {a} from "{m}";\n' for m, a in sorted(imports.items()))
    return f"// {label}: generated by tests/deploy/k8s/chart_test.py\n{head}\n" + "\n".join(lines)


def tsc(workdir):
    p = subprocess.run(["node", TSC, "--pretty", "false", "-p", "tsconfig.json"], cwd=workdir,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def cmd_types():
    with tempfile.TemporaryDirectory(prefix="chart-types.") as work:
        files, counts = [], {}
        for name, values in VALUE_SETS.items():
            objects = render(values)
            counts[name] = len(objects)
            with open(os.path.join(work, f"{name}.ts"), "w") as f:
                f.write(ts_source(objects, name))
            files.append(f"{name}.ts")
        ts_project(work, files)
        rc, out = tsc(work)
        if rc != 0:
            fail(f"tsc --strict on the rendered objects:\n{out}")
        else:
            summary = ", ".join(f"{n} {c}" for n, c in counts.items())
            ok(f"every rendered object type-checks against kubernetes-types ({summary} objects)")

    # The check must be able to fail: a `replica: 3` typo, an unquoted quantity, a wrong type.
    with tempfile.TemporaryDirectory(prefix="chart-types-neg.") as work:
        base = render([])
        mutations = {
            "replica": ("Deployment", lambda d: d["spec"].update({"replica": 3}), r"'\"?replica\"?' does not exist in type 'DeploymentSpec'"),
            "quantity": ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]
                         ["requests"].update({"cpu": 500}), r"Type 'number' is not assignable to type 'string'"),
            "probe": ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
                      .update({"httpGet": {"path": "/ready", "prot": 8080}}), r"'\"?prot\"?' does not exist in type 'HTTPGetAction'"),
            "rule": ("PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update({"exprs": "up"}),
                     r"'\"?exprs\"?' does not exist in type 'Rule'"),
        }
        objects_by_kind = {o["kind"]: o for o in base}
        objects_by_kind["PrometheusRule"] = next(o for o in render(VALUE_SETS["production"])
                                                 if o["kind"] == "PrometheusRule")
        files = []
        for name, (kind, mutate, _) in mutations.items():
            o = json.loads(json.dumps(objects_by_kind[kind]))
            mutate(o)
            with open(os.path.join(work, f"neg_{name}.ts"), "w") as f:
                f.write(ts_source([o], f"negative: {name}"))
            files.append(f"neg_{name}.ts")
        ts_project(work, files)
        rc, out = tsc(work)
        if rc == 0:
            fail("tsc accepted the broken objects")
        for name, (_, _, expect) in mutations.items():
            errors = [l for l in out.splitlines() if re.search(rf"(^|/)neg_{name}\.ts\(", l)]
            if not errors:
                fail(f"negative '{name}': no tsc error in neg_{name}.ts:\n{out}")
            elif not re.search(expect, "\n".join(errors)):
                fail(f"negative '{name}': tsc errors do not match /{expect}/: {errors}")
            else:
                ok(f"negative '{name}' fails the type check: {errors[0].split(': error ', 1)[-1][:120]}")


# -------------------------------------------------------------------------------------------- policy
def cmd_policy():
    for name, values in VALUE_SETS.items():
        objects = render(values)
        problems = policy.check(objects, production=(name != "default"))
        if problems:
            fail(f"policy ({name}):\n  " + "\n  ".join(problems))
        else:
            ok(f"policy ({name}, {len(objects)} objects): restricted pods, probes, resources, no literal "
               "secrets, maxUnavailable 0, PDB, HPA, NetworkPolicy ports")
    # The asserts can fail: each broken copy of the production objects is caught by name.
    base = render(VALUE_SETS["production"])

    def pod(objs, kind, component=None):
        o = next(o for o in objs if o["kind"] == kind and
                 (component is None or o["metadata"]["labels"].get("app.kubernetes.io/component") == component))
        if kind == "CronJob":
            return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return o["spec"]["template"]["spec"]

    def np(objs):
        return next(o for o in objs if o["kind"] == "NetworkPolicy" and not o["metadata"]["name"].endswith("-jobs"))

    breakages = {
        "writable root": (lambda o: pod(o, "Deployment")["containers"][0]["securityContext"]
                          .update({"readOnlyRootFilesystem": False}), "readOnlyRootFilesystem"),
        "root user": (lambda o: pod(o, "Job")["securityContext"].update({"runAsUser": 0}), "runAsUser"),
        "capability": (lambda o: pod(o, "CronJob", "indexer")["initContainers"][0]["securityContext"]["capabilities"]
                       .update({"add": ["NET_RAW"]}), "capabilities"),
        "token": (lambda o: pod(o, "Deployment").update({"automountServiceAccountToken": True}),
                  "automountServiceAccountToken"),
        "no readiness": (lambda o: pod(o, "Deployment")["containers"][0].pop("readinessProbe"), "readinessProbe"),
        "literal secret": (lambda o: pod(o, "Deployment")["containers"][0]["env"].append(
            {"name": "REDIS_URL", "value": "redis://:hunter2hunter2@redis:6379/0"}), "literal"),
        "maxUnavailable": (lambda o: next(x for x in o if x["kind"] == "Deployment")["spec"]["strategy"]
                           ["rollingUpdate"].update({"maxUnavailable": 1}), "maxUnavailable"),
        "no PDB": (lambda o: o.remove(next(x for x in o if x["kind"] == "PodDisruptionBudget")),
                   "PodDisruptionBudget"),
        "metrics open": (lambda o: np(o)["spec"]["ingress"][1].pop("from"), "9090"),
        "egress anywhere": (lambda o: np(o)["spec"]["egress"].append({"ports": [{"port": 443}]}), "egress"),
        "small limits": (lambda o: pod(o, "Deployment")["containers"][0]["resources"]["limits"]
                         .update({"memory": "1Gi"}), "resources"),
        "backup literal secret": (lambda o: pod(o, "CronJob", "backup")["containers"][0]["env"].append(
            {"name": "DATABASE_URL", "value": "postgresql://hub:hunter2hunter2@db:5432/hub"}), "literal"),
        "backup without limits": (lambda o: pod(o, "CronJob", "backup")["containers"][0]["resources"]
                                  .pop("limits"), "resources.limits"),
        "backup as root": (lambda o: pod(o, "CronJob", "backup")["securityContext"].update({"runAsUser": 0}),
                           "runAsUser"),
        "backup shell form": (lambda o: pod(o, "CronJob", "backup")["containers"][0].update(
            {"command": ["sh", "-c"], "args": ["signal-hub backup create /backups"]}), "exec form"),
        "drill writes the archives": (lambda o: next(
            m for c in next(x for x in o if x["kind"] == "CronJob" and x["metadata"]["name"].endswith("-backup-drill"))
            ["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] for m in c["volumeMounts"]
            if m["name"] == "backups").pop("readOnly"), "writable but not an emptyDir"),
        "no drill": (lambda o: o.remove(next(x for x in o if x["kind"] == "CronJob" and
                                             x["metadata"]["name"].endswith("-backup-drill"))), "restore drill"),
        "no session affinity": (lambda o: next(x for x in o if x["kind"] == "Service")["spec"]
                                .update({"sessionAffinity": "None"}), "session affinity"),
    }
    for what, (breaker, expect) in breakages.items():
        objs = json.loads(json.dumps(base))
        breaker(objs)
        problems = policy.check(objs, production=True)
        if not any(expect in p for p in problems):
            fail(f"policy misses a broken object ({what}): {problems}")
        else:
            ok(f"policy catches: {what} ({next(p for p in problems if expect in p)[:110]})")


# -------------------------------------------------------------------------------------------- config
def cmd_config(binary):
    with tempfile.TemporaryDirectory(prefix="chart-config.") as work:
        tls = os.path.join(work, "tls")
        make_cert(tls)
        env = dict(os.environ,
                   DATABASE_URL="postgresql://hub:" + os.urandom(12).hex() + "@db.internal:5432/hub?sslmode=verify-full",
                   REDIS_URL="rediss://:" + os.urandom(12).hex() + "@redis.internal:6379/0",
                   SIGNAL_HUB_API_KEY_PEPPER=os.urandom(32).hex())
        for name, values in VALUE_SETS.items():
            objects = render(values)
            cm = next(o for o in objects if o["kind"] == "ConfigMap")
            text = cm["data"]["config.yaml"]
            # The only change: the TLS files the pod mounts at /etc/signal-hub/tls come from here.
            text = text.replace("/etc/signal-hub/tls/", tls + "/")
            path = os.path.join(work, f"{name}.yaml")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([binary, "--config", path, "check", "production", "--replicas", "3", "--json"],
                               capture_output=True, text=True, env=env, timeout=60)
            if p.returncode not in (0, 1):
                fail(f"{name}: the binary refuses the rendered configuration (exit {p.returncode}): {p.stderr}")
                continue
            result = json.loads(p.stdout)
            failed = sorted(c["name"] for c in result["checks"] if not c["passed"])
            if name == "default":
                # Not a production configuration: TLS, API keys and rate limits are left to the operator.
                if failed != ["api_keys", "rate_limiting", "tls"]:
                    fail(f"default: unexpected check production failures {failed}")
                else:
                    ok("default: the rendered configuration loads (check production: only tls, api_keys, "
                       "rate_limiting fail, as the default values leave them off)")
            elif p.returncode != 0 or failed or len(result["checks"]) != 15:
                fail(f"{name}: check production --replicas 3 failed {failed}: {p.stdout}")
            else:
                ok(f"{name}: the rendered configuration passes check production --replicas 3 (15 of 15)")
        cmd_readme(binary, env)


def readme_check_block():
    """The commands of the README's block that renders config.yaml and runs check production."""
    readme = os.path.join(ROOT, "docs/production/deployment/kubernetes/README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        if "--show-only templates/configmap.yaml" in block:
            return block
    raise SystemExit(f"{readme}: no sh block renders templates/configmap.yaml")


def cmd_readme(binary, env):
    """Runs the README's check-before-installing block as written (helm and signal-hub on the PATH)."""
    with tempfile.TemporaryDirectory(prefix="chart-readme.") as work:
        os.symlink(os.path.join(ROOT, "deploy"), os.path.join(work, "deploy"))
        os.makedirs(os.path.join(work, "bin"))
        os.symlink(HELM, os.path.join(work, "bin/helm"))
        os.symlink(binary, os.path.join(work, "bin/signal-hub"))
        make_cert(os.path.join(work, "tls"))
        run_env = dict(env, PATH=os.path.join(work, "bin") + os.pathsep + env["PATH"])
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_check_block()], cwd=work, env=run_env,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0 or "15 passed, 0 failed" not in p.stdout:
            fail(f"the README's check-before-installing commands (exit {p.returncode}): {p.stdout}{p.stderr}")
        else:
            ok("the README's check-before-installing commands, as written: 15 passed, 0 failed")


def make_cert(directory):
    os.makedirs(directory)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", f"{directory}/tls.key", "-out", f"{directory}/tls.crt", "-days", "90",
                    "-subj", "/CN=signal-hub"], check=True, capture_output=True)
    os.chmod(f"{directory}/tls.key", 0o600)


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("lint", "types", "policy", "config") or \
            (sys.argv[2] == "config") != (len(sys.argv) == 4):
        sys.exit(__doc__)
    ensure_tools()
    {"lint": cmd_lint, "types": cmd_types, "policy": cmd_policy}.get(sys.argv[2], lambda: None)()
    if sys.argv[2] == "config":
        cmd_config(os.path.abspath(sys.argv[3]))
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
