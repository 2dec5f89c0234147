#!/bin/sh
# Removes what the macOS package installed for this user: the agent (it
# is unloaded first), the program and the browsers' host manifests, and
# forgets the package's receipt. The settings (allowed websites) and logs
# stay unless --purge is given. Installed as
# ~/Library/Application Support/cardbridge/uninstall.sh.
set -eu
home=${HOME:?}
as="$home/Library/Application Support"
purge=false
[ "${1:-}" = --purge ] && purge=true
if command -v launchctl >/dev/null 2>&1; then
	launchctl bootout "gui/$(id -u)/cardbridge" >/dev/null 2>&1 || true
fi
rm -f "$home/Library/LaunchAgents/cardbridge.plist" \
	"$as/Google/Chrome/NativeMessagingHosts/org.cardbridge.host.json" \
	"$as/Chromium/NativeMessagingHosts/org.cardbridge.host.json" \
	"$as/Microsoft Edge/NativeMessagingHosts/org.cardbridge.host.json" \
	"$as/Mozilla/NativeMessagingHosts/org.cardbridge.host.json" \
	"$as/cardbridge/cardbridge" "$as/cardbridge/uninstall.sh"
# Directories the package created, if nothing else is left in them (a
# browser's own directories are not empty and stay).
for d in "$as/Google/Chrome/NativeMessagingHosts" "$as/Google/Chrome" "$as/Google" \
	"$as/Chromium/NativeMessagingHosts" "$as/Chromium" \
	"$as/Microsoft Edge/NativeMessagingHosts" "$as/Microsoft Edge" \
	"$as/Mozilla/NativeMessagingHosts" "$as/Mozilla" "$as/cardbridge"; do
	rmdir "$d" 2>/dev/null || true
done
if $purge; then
	rm -rf "$as/cardbridge" "$home/Library/Logs/cardbridge"
fi
if command -v pkgutil >/dev/null 2>&1; then
	pkgutil --forget org.cardbridge.pkg >/dev/null 2>&1 || true
fi
echo "cardbridge removed"
