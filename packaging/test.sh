#!/usr/bin/env bash
# Builds the .deb and checks it: control fields, file list, and an install
# with dpkg into a throw-away root (maintainer scripts included) where the
# binary and the user unit must land and the unit must be enabled.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "packaging test: FAIL: $*"; exit 1; }

rm -f dist/cardbridge_*.deb
packaging/build.sh
deb=$(ls dist/cardbridge_*_amd64.deb)

info=$(dpkg-deb --info "$deb")
echo "$info" | sed -n '/Package:/,$p'
grep -Eq '^ Depends:.*\bpcscd\b' <<<"$info" || fail "Depends lacks pcscd"
grep -Eq '^ Depends:.*\blibpcsclite1\b' <<<"$info" || fail "Depends lacks libpcsclite1"
grep -q '^ Package: cardbridge$' <<<"$info" || fail "wrong package name"

contents=$(dpkg-deb --contents "$deb")
echo "$contents"
grep -Eq '^-rwxr-xr-x .* \./usr/bin/cardbridge$' <<<"$contents" || fail "/usr/bin/cardbridge missing or not 0755"
grep -Eq '^-rw-r--r-- .* \./usr/lib/systemd/user/cardbridge.service$' <<<"$contents" || fail "user unit missing"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# A minimal dpkg database; --force-script-chrootless runs the maintainer
# scripts on this host with DPKG_ROOT=$root (they honour it), and
# --force-depends because pcscd is not installed inside the empty root.
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-depends --force-not-root -i "$deb"
test -x "$root/usr/bin/cardbridge" || fail "binary did not land"
test -f "$root/usr/lib/systemd/user/cardbridge.service" || fail "unit did not land"
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
	rm -rf "$rt"
	echo "systemd-analyze --user verify: ok"
fi
dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-not-root --purge cardbridge
test ! -e "$root/usr/bin/cardbridge" || fail "binary left after purge"
test ! -e "$root/etc/systemd/user/default.target.wants/cardbridge.service" || fail "enablement left after purge"
echo "packaging test: PASS"
