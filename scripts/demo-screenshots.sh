#!/usr/bin/env bash
# demo-screenshots.sh — retakes the demo portal screenshots in
# docs/screenshots/ from a real run of the Dutch end-to-end flow (headless
# Chromium → demo portal → cardbridge daemon → simulated applet 1.8 card):
#
#   scripts/demo-screenshots.sh
#
# Needs what the e2e test needs: /usr/bin/chromium, node and web/node_modules
# (cd web && npm ci). The test itself checks every page it photographs.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/screenshots"
mkdir -p "$out"
CARDBRIDGE_E2E=required CARDBRIDGE_SCREENSHOTS="$out" go test -count=1 -run 'TestBrowserFlowSim/ecc$' ./e2e/
ls -l "$out"
