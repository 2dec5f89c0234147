#!/bin/sh
# stage.sh ROOT BINARY — lays out the macOS package's payload under ROOT,
# which stands for the user's home folder (the package installs there):
#   Library/Application Support/cardbridge/cardbridge       the program (installer.UserBinPath)
#   Library/Application Support/cardbridge/uninstall.sh     removes it all again
#   Library/LaunchAgents/cardbridge.plist                   start at login
#   Library/Application Support/{Google/Chrome,Chromium,Microsoft Edge}/NativeMessagingHosts/org.cardbridge.host.json
#   Library/Application Support/Mozilla/NativeMessagingHosts/org.cardbridge.host.json
# (per-user manifest directories:
# developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location,
# learn.microsoft.com/microsoft-edge/extensions/developer-guide/native-messaging,
# developer.mozilla.org/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#macos).
# POSIX sh and install(1) only: build-pkg.sh runs it on the Mac, and
# packaging/macos_test.go on Linux.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 ROOT BINARY" >&2; exit 2; }
root=$1 bin=$2
here=$(cd "$(dirname "$0")" && pwd)
manifests=$(dirname "$here")/manifests/macos
as="$root/Library/Application Support"
install -d "$as/cardbridge" "$root/Library/LaunchAgents"
install -m 0755 "$bin" "$as/cardbridge/cardbridge"
install -m 0755 "$here/uninstall.sh" "$as/cardbridge/uninstall.sh"
install -m 0644 "$here/cardbridge.plist" "$root/Library/LaunchAgents/cardbridge.plist"
for d in "Google/Chrome" "Chromium" "Microsoft Edge"; do
	install -d "$as/$d/NativeMessagingHosts"
	install -m 0644 "$manifests/chromium/org.cardbridge.host.json" "$as/$d/NativeMessagingHosts/org.cardbridge.host.json"
done
install -d "$as/Mozilla/NativeMessagingHosts"
install -m 0644 "$manifests/firefox/org.cardbridge.host.json" "$as/Mozilla/NativeMessagingHosts/org.cardbridge.host.json"
