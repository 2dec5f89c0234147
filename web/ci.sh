#!/usr/bin/env bash
# CI steps for the browser side of cardbridge: the JS client's tests and the
# end-to-end browser test (headless Chromium → demo portal → daemon →
# simulated card). scripts/test.sh calls this; it can also be run alone.
#
#   bash web/ci.sh
#
# Installs Debian's chromium and firefox-esr if missing (needs root and apt),
# never a browser download: the npm side uses playwright-core and
# puppeteer-core, which bring no browser.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr) # the extension's Firefox test
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "web/ci.sh: installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "web/ci.sh: ${missing[*]} missing and cannot apt-get install them" >&2
    exit 1
  fi
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
node --test test/

cd "$root"
# The e2e test fails rather than skips when something it needs is missing.
CARDBRIDGE_E2E=required go test -count=1 ./e2e/
