#!/usr/bin/env bash
# Checks deploy/monitoring/alertmanager/alertmanager.yml with the real amtool (Debian package
# prometheus-alertmanager): the file is a valid configuration, critical alerts page, warnings go
# to the team, the receivers' URLs are placeholders, and every alert of alerts.yml (with each of
# its severities) reaches the receiver its severity names.
# Usage: check_alertmanager.sh ALERTMANAGER_YML ALERTS_YML
set -euo pipefail
CONFIG="${1:?usage: $0 alertmanager.yml alerts.yml}"
ALERTS="${2:?usage: $0 alertmanager.yml alerts.yml}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v amtool >/dev/null || fail "amtool not found (Debian package prometheus-alertmanager; scripts/test.sh installs it)"

amtool check-config "$CONFIG" || fail "amtool check-config $CONFIG"

route_is() { # WANT_RECEIVER LABEL=VALUE...
    local want="$1"; shift
    local got
    got="$(amtool config routes test --config.file="$CONFIG" "$@" 2>/dev/null)" || true
    [ "$got" = "$want" ] || fail "labels $* route to '$got', expected '$want'"
    echo "ok: $* -> $want"
}

# Every (alert, severity) pair of the rules file: alert names and severities in file order.
pairs="$(awk '/^[[:space:]]*- alert:/ {name=$3} /^[[:space:]]*severity:/ {print name, $2}' "$ALERTS")"
[ -n "$pairs" ] || fail "no alert with a severity found in $ALERTS"
while read -r name severity; do
    case "$severity" in
        critical) route_is oncall-pager alertname="$name" severity=critical job=signal-hub ;;
        warning) route_is team-tickets alertname="$name" severity=warning job=signal-hub ;;
        *) fail "$name: severity '$severity' has no route (expected critical or warning)" ;;
    esac
done <<<"$pairs"
# An alert without a severity still reaches someone: the default receiver.
route_is team-tickets alertname=Unlabelled

# The example must not point at a real endpoint by accident.
grep -E '^\s*- url:' "$CONFIG" | grep -v -E 'https://[a-z.-]+\.example\.(invalid|com)/' &&
    fail "a receiver URL is not an example.invalid placeholder"
echo PASS
