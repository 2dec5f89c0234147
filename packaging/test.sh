#!/usr/bin/env bash
# Installs the packages scripts/release.sh built into throw-away roots and
# removes them again: the .deb with dpkg --root (maintainer scripts
# included: the binary and the user unit must land, the unit be enabled
# for all users, the installed binary run, and purge leave nothing), the
# .rpm with rpm --root. The packages' contents, metadata and the MSI are
# checked by the Go tests in packaging/ (CARDBRIDGE_RELEASE=required).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "packaging test: FAIL: $*"; exit 1; }

deb=dist/cardbridge-linux-amd64.deb
rpm=dist/cardbridge-linux-x86_64.rpm
[ -f "$deb" ] && [ -f "$rpm" ] || fail "run scripts/release.sh first"

root=$(mktemp -d)
rt=
trap 'rm -rf "$root" ${rt:+"$rt"}' EXIT

echo "== dpkg --root install"
# A minimal dpkg database; --force-script-chrootless runs the maintainer
# scripts on this host with DPKG_ROOT=$root (they honour it), and
# --force-depends because pcscd is not installed inside the empty root.
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-depends --force-not-root -i "$deb"
test -x "$root/usr/bin/cardbridge" || fail "binary did not land"
test -f "$root/usr/lib/systemd/user/cardbridge.service" || fail "unit did not land"
for d in etc/opt/chrome/native-messaging-hosts etc/chromium/native-messaging-hosts \
	etc/opt/edge/native-messaging-hosts usr/lib/mozilla/native-messaging-hosts; do
	test -f "$root/$d/org.cardbridge.host.json" || fail "/$d/org.cardbridge.host.json did not land"
done
"$root/usr/bin/cardbridge" version | grep -q '^cardbridge ' || fail "installed binary does not run"
if command -v systemctl >/dev/null; then
	link="$root/etc/systemd/user/default.target.wants/cardbridge.service"
	test -L "$link" || fail "postinst did not enable the unit for all users"
	echo "enabled: $link -> $(readlink "$link")"
fi
if command -v systemd-analyze >/dev/null; then
	# Verify the unit as it is installed: ExecStart must resolve to the
	# installed binary, so check a copy pointing into the throw-away root.
	rt=$(mktemp -d) && chmod 700 "$rt"
	sed "s|/usr/bin/cardbridge|$root/usr/bin/cardbridge|g" "$root/usr/lib/systemd/user/cardbridge.service" >"$rt/cardbridge.service"
	out=$(HOME="$rt" XDG_RUNTIME_DIR="$rt" systemd-analyze --user verify "$rt/cardbridge.service" 2>&1) || fail "systemd-analyze: $out"
	[ -z "$out" ] || fail "systemd-analyze warnings: $out"
	echo "systemd-analyze --user verify: ok"
fi
dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-not-root --purge cardbridge
left=$(find "$root" -mindepth 1 -not -path "$root/var/lib/dpkg*" -not -type d)
[ -z "$left" ] || fail "left after purge: $left"
echo "dpkg install/purge: ok"

echo "== rpm --root install"
# The scriptlets would run chrooted into the empty root, which has no
# shell: --noscripts (TestScriptletsArguments runs them with rpm's
# arguments); --nodeps because the root holds none of the dependencies.
rm -rf "$root" && mkdir -p "$root"
rpm --root="$root" --dbpath=/var/lib/rpm --initdb
rpm --root="$root" --dbpath=/var/lib/rpm -i --nodeps --noscripts "$rpm"
for f in usr/bin/cardbridge usr/lib/systemd/user/cardbridge.service \
	etc/opt/chrome/native-messaging-hosts/org.cardbridge.host.json etc/chromium/native-messaging-hosts/org.cardbridge.host.json \
	etc/opt/edge/native-messaging-hosts/org.cardbridge.host.json usr/lib/mozilla/native-messaging-hosts/org.cardbridge.host.json \
	usr/lib64/mozilla/native-messaging-hosts/org.cardbridge.host.json; do
	test -f "$root/$f" || fail "/$f did not land (rpm)"
done
rpm --root="$root" --dbpath=/var/lib/rpm -q cardbridge
rpm --root="$root" --dbpath=/var/lib/rpm -e --noscripts cardbridge
left=$(find "$root" -mindepth 1 -not -path "$root/var/lib/rpm*" -not -type d)
[ -z "$left" ] || fail "left after rpm -e: $left"
echo "rpm install/erase: ok"
echo "packaging test: PASS"
