# Installing npm packages pinned by a committed package-lock.json, without
# running any install script (only the packages' files are needed).
# Sourced by fetch-grammars.sh and fetch-e2e-deps.sh.

# npm_pinned_current DIR FILE...: true when DIR/node_modules was installed from
# the current DIR/package-lock.json and every FILE (relative to node_modules) exists.
npm_pinned_current() {
  local dir="$1"; shift
  local stamp="${dir}/node_modules/.signal-hub-lock.sha256"
  [[ -f "${stamp}" && "$(cat "${stamp}")" == "$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)" ]] || return 1
  local f
  for f in "$@"; do [[ -f "${dir}/node_modules/${f}" ]] || return 1; done
}

# npm_pinned_install DIR FILE...: `npm ci --ignore-scripts` in DIR, then fails
# unless every FILE exists under node_modules.
npm_pinned_install() {
  local dir="$1"; shift
  (cd "${dir}" && npm ci --ignore-scripts --no-audit --no-fund)
  local f
  for f in "$@"; do
    if [[ ! -f "${dir}/node_modules/${f}" ]]; then
      echo "npm: missing ${dir}/node_modules/${f} after install" >&2
      return 1
    fi
  done
}

# npm_pinned_stamp DIR: records that node_modules matches the lock file.
npm_pinned_stamp() {
  sha256sum "$1/package-lock.json" | cut -d' ' -f1 > "$1/node_modules/.signal-hub-lock.sha256"
}
