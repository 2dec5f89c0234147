#!/usr/bin/env bash
# demo-extension.sh — the demo portal in Chromium with the cardbridge
# browser extension, as a public site would be used.
#
# Run scripts/run.sh first, in another terminal (the daemon and, without a
# real card, a simulated one). This script then:
#   1. registers the native-messaging host for you (`cardbridge install`,
#      which writes the host manifests for Chrome, Chromium, Edge and
#      Firefox in your home directory);
#   2. starts the demo portal on 127.0.0.1:8443 under the name
#      portal.example, which this Chromium treats as a public address, so
#      that the WebSocket would need the Local Network Access permission;
#   3. starts Chromium with the extension (web/extension) in a profile of its
#      own. The page finds the extension and reaches cardbridge through it:
#      no permission prompt, and the card service line says "through the
#      cardbridge browser extension".
#
# Ctrl-C (or closing Chromium) stops the portal. `cardbridge uninstall`
# removes the registration.
#
# Environment: CHROMIUM (default /usr/bin/chromium), PORT (default 8443),
# CARDBRIDGE_DEMO_PROFILE (default ~/.cache/cardbridge-demo/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf 'demo-extension: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi

chromium=${CHROMIUM:-/usr/bin/chromium}
port=${PORT:-8443}
profile=${CARDBRIDGE_DEMO_PROFILE:-${XDG_CACHE_HOME:-$HOME/.cache}/cardbridge-demo/chromium}
[ -x "$chromium" ] || die "no Chromium at $chromium (scripts/setup.sh browser installs Debian's)"
[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || die "no display to show Chromium on (DISPLAY is not set)"
[ -f bin/testpki/root.pem ] || die "no bin/testpki: start scripts/run.sh first (in another terminal)"
bin/cardbridge status >/dev/null 2>&1 || say "warning: cardbridge status says the daemon is not running; start scripts/run.sh"

say "building bin/cardbridge and bin/demoportal"
mkdir -p bin
go build -o bin/ ./cmd/cardbridge ./cmd/demoportal

say "registering the native-messaging host for $(id -un)"
bin/cardbridge install

# Chromium looks for per-user host manifests in <user-data-dir>/NativeMessagingHosts
# (https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location):
# the demo's own profile gets a link to the manifest install wrote for Chromium.
mkdir -p "$profile/NativeMessagingHosts"
manifest=${XDG_CONFIG_HOME:-$HOME/.config}/chromium/NativeMessagingHosts/org.cardbridge.host.json
[ -f "$manifest" ] || die "cardbridge install wrote no $manifest"
ln -sf "$manifest" "$profile/NativeMessagingHosts/org.cardbridge.host.json"

portal_pid=
cleanup() {
	if [ -n "$portal_pid" ]; then
		kill "$portal_pid" 2>/dev/null || true
		wait "$portal_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

origin=https://portal.example:$port
say "starting the demo portal at $origin"
bin/demoportal --addr "127.0.0.1:$port" --origin "$origin" --sim-pki bin/testpki &
portal_pid=$!
for _ in $(seq 1 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$portal_pid" 2>/dev/null || die "the demo portal stopped"
	sleep 0.1
done

say "starting Chromium with the extension (profile $profile)"
"$chromium" --user-data-dir="$profile" --no-first-run \
	--load-extension="$root/web/extension" \
	--ip-address-space-overrides="127.0.0.1:$port=public" \
	--host-resolver-rules="MAP portal.example 127.0.0.1" \
	--ignore-certificate-errors \
	"$origin/"
