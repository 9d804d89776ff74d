#!/usr/bin/env bash
# The Debian packages the test suite drives, installed when missing: chromium
# for the browser tests (Playwright launches /usr/bin/chromium and never
# downloads a browser of its own), Prometheus and Alertmanager for
# tests/prometheus/. `make test` and `.ci/run` call this. Without root or
# passwordless sudo it only says what is missing: those tests then skip with a
# reason on a workstation, and fail under CI=true.
set -euo pipefail

# One "command package" pair per tool the suite needs.
PAIRS=(
  "chromium chromium"
  "prometheus prometheus"
  "prometheus-alertmanager prometheus-alertmanager"
)

missing=()
for pair in "${PAIRS[@]}"; do
  read -r tool package <<<"$pair"
  command -v "$tool" >/dev/null 2>&1 || missing+=("$package")
done
((${#missing[@]})) || exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "system-packages: missing ${missing[*]}; install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "system-packages: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
