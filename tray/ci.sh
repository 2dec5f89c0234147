#!/usr/bin/env bash
# CI for the desktop side of cardbridge: config, logging, prompt, tray,
# installer. Installs what it needs from Debian, then runs
#   - the unit tests of these packages (vet and gofmt clean),
#   - the tray's D-Bus test under a private session bus,
#   - test B: the real consent/PIN/signature dialogs under Xvfb, driven
#     with xdotool (prompt/desktop_test.go),
#   - an end-to-end test: a page's WebSocket requests reach the real
#     dialogs, the consent store and the tray (desktop-tests/),
#   - test A: the tray icon in a real tray host under Xvfb (tray/xtest.sh),
#   - the installer test with a throw-away HOME and systemd-analyze,
#   - the Windows cross-build.
# Screenshots go to $CARDBRIDGE_SCREENSHOTS, default a temporary
# directory; run `CARDBRIDGE_SCREENSHOTS=tray/screenshots tray/ci.sh` to
# refresh the committed ones.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(xvfb xdotool zenity xfce4-panel dbus-daemon imagemagick x11-utils systemd pcscd libpcsclite-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "== apt-get install ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
fi

work=$(mktemp -d)
xvfb_pid=
cleanup() {
	[ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
export CARDBRIDGE_SCREENSHOTS=${CARDBRIDGE_SCREENSHOTS:-$work/screenshots}
case $CARDBRIDGE_SCREENSHOTS in /*) ;; *) CARDBRIDGE_SCREENSHOTS=$PWD/$CARDBRIDGE_SCREENSHOTS ;; esac
mine=(./config/... ./logging/... ./prompt/... ./tray/... ./installer/... ./desktop-tests/...)

echo "== gofmt, vet (linux, windows)"
unformatted=$(gofmt -l config logging prompt tray installer desktop-tests cmd/cardbridge/install.go cmd/cardbridge/install_test.go)
[ -z "$unformatted" ] || { echo "not gofmt'ed: $unformatted"; exit 1; }
go vet "${mine[@]}"
GOOS=windows go vet "${mine[@]}"

echo "== unit tests"
# The desktop tests skip here (no display, no bus); they run below with
# CARDBRIDGE_DESKTOP=required, which turns a skip into a failure.
go test -count=1 "${mine[@]}"
CARDBRIDGE_DESKTOP=required go test -count=1 -run 'TestInstall' ./installer ./cmd/cardbridge

echo "== tray over D-Bus"
CARDBRIDGE_DESKTOP=required dbus-run-session -- go test -count=1 -run TestTrayOverDBus -v ./tray 2> >(grep -v "fd limit" >&2)

echo "== Xvfb"
for n in $(seq 90 130); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || break; done
# -noreset: by default the X server resets when its last client leaves,
# which happens between two dialogs (xdotool connects only for a moment);
# a zenity starting during the reset, a longer moment on a loaded machine,
# fails with "cannot open display" and exits 1, which reads as Cancel.
# -r: no key auto-repeat: xdotool sends a key's press and release apart,
# and a release that comes late must not repeat the key into the next
# dialog.
Xvfb ":$n" -noreset -r -screen 0 1024x768x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
export DISPLAY=":$n"
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
xdpyinfo >/dev/null || { echo "Xvfb did not start"; cat "$work/xvfb.log"; exit 1; }

echo "== test B: native dialogs (zenity) driven by xdotool"
CARDBRIDGE_DESKTOP=required go test -count=1 -run 'TestDesktop' -v ./prompt

echo "== end to end: page -> bridge -> native dialogs -> consent store -> tray"
mkdir -p "$work/panelcfg/xfce4/xfconf/xfce-perchannel-xml"
cp tray/testdata/xfce4-panel.xml "$work/panelcfg/xfce4/xfconf/xfce-perchannel-xml/"
CARDBRIDGE_DESKTOP=required XDG_CONFIG_HOME=$work/panelcfg dbus-run-session -- bash -c '
	xfce4-panel --disable-wm-check >/dev/null 2>&1 &
	panel=$!
	sleep 2
	go test -count=1 -v ./desktop-tests
	rc=$?
	kill $panel
	exit $rc' 2> >(grep -v "fd limit" >&2)

echo "== test A: tray icon in a tray host"
tray/xtest.sh

echo "== windows/amd64 cross-build"
GOOS=windows GOARCH=amd64 go build ./...

echo "desktop CI: all passed (screenshots in $CARDBRIDGE_SCREENSHOTS)"
