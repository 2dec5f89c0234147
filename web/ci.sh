#!/usr/bin/env bash
# CI steps for the browser side of cardbridge: the JS client's tests and the
# end-to-end browser test (headless Chromium → demo portal → daemon →
# simulated card). scripts/test.sh calls this; it can also be run alone.
#
#   bash web/ci.sh
#
# Installs Debian's chromium if it is missing (needs root and apt), never a
# browser download: the npm side uses playwright-core only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "web/ci.sh: installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "web/ci.sh: /usr/bin/chromium missing and cannot apt-get install it" >&2
    exit 1
  fi
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
node --test test/

cd "$root"
# The e2e test fails rather than skips when something it needs is missing.
CARDBRIDGE_E2E=required go test -count=1 ./e2e/
