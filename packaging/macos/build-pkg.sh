#!/usr/bin/env bash
# build-pkg.sh BINARY VERSION OUT.pkg — builds the per-user macOS
# installer package around an already built (universal) cardbridge
# binary. macOS only: pkgbuild and productbuild come with Xcode's
# command line tools. .github/workflows/release-macos.yml runs it; signing
# and notarization are separate steps there.
#
# The payload mirrors the user's home folder:
#   Library/Application Support/cardbridge/cardbridge       the program (installer.UserBinPath)
#   Library/Application Support/cardbridge/uninstall.sh     removes it all again
#   Library/LaunchAgents/cardbridge.plist                   start at login
#   Library/Application Support/{Google/Chrome,Chromium,Microsoft Edge}/NativeMessagingHosts/org.cardbridge.host.json
#   Library/Application Support/Mozilla/NativeMessagingHosts/org.cardbridge.host.json
# (per-user manifest directories: developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location,
# developer.mozilla.org/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#macos).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 BINARY VERSION OUT.pkg" >&2; exit 2; }
bin=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
packaging=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

root=$work/root
as="$root/Library/Application Support"
install -d "$as/cardbridge" "$root/Library/LaunchAgents"
install -m 0755 "$bin" "$as/cardbridge/cardbridge"
install -m 0755 "$here/uninstall.sh" "$as/cardbridge/uninstall.sh"
install -m 0644 "$here/cardbridge.plist" "$root/Library/LaunchAgents/cardbridge.plist"
for d in "Google/Chrome" "Chromium" "Microsoft Edge"; do
	install -d "$as/$d/NativeMessagingHosts"
	install -m 0644 "$packaging/manifests/macos/chromium/org.cardbridge.host.json" "$as/$d/NativeMessagingHosts/"
done
install -d "$as/Mozilla/NativeMessagingHosts"
install -m 0644 "$packaging/manifests/macos/firefox/org.cardbridge.host.json" "$as/Mozilla/NativeMessagingHosts/"

# --install-location / : in a currentUserHome install the Installer roots
# the payload at the user's home folder.
pkgbuild --root "$root" --identifier org.cardbridge.pkg --version "$version" \
	--install-location / --scripts "$here/scripts" --ownership recommended \
	"$work/cardbridge-component.pkg"
sed "s|@VERSION@|$version|" "$here/distribution.xml" >"$work/distribution.xml"
productbuild --distribution "$work/distribution.xml" --package-path "$work" "$out"
echo "built $out"
