#!/usr/bin/env bash
# setup.sh [GROUP...] — install the Debian/Ubuntu packages that building,
# running and testing cardbridge need. Skips apt entirely when everything is
# already installed. Needs root, or sudo without a password prompt (it never
# reads stdin).
#
# Groups: build, pcsc (the default pair: enough to build and run the daemon
# and the simulated card), browser (Chromium for the end-to-end tests),
# desktop (X server, tray host and dialog tools for the desktop tests),
# release (scripts/release.sh's packaging tools), and all. scripts/test.sh asks for all; scripts/run.sh for the default.
set -euo pipefail

# cgo (github.com/ebfe/scard links libpcsclite through pkg-config).
group_build=(gcc libc6-dev pkg-config)
# The PC/SC stack and the virtual reader used by rig tests (scripts/rig.sh),
# and OpenSC, the independent BELPIC client the rig tests hold the simulated
# card against (internal/cardstack TestOpenSC).
group_pcsc=(pcscd libpcsclite-dev vsmartcard-vpcd opensc)
# Debian's Chromium, driven by playwright-core, and Firefox ESR, driven by
# puppeteer-core over WebDriver BiDi (never a downloaded browser).
group_browser=(chromium firefox-esr)
# The desktop tests (tray/ci.sh): a virtual X server, a StatusNotifier tray
# host (xfce4-panel), zenity for the dialogs, xdotool to answer them,
# screenshots, and systemd-analyze for the installer's unit.
group_desktop=(xvfb xdotool zenity xfce4-panel dbus-daemon imagemagick x11-utils systemd)
# scripts/release.sh and its checks: wixl builds the MSI, msitools reads it
# back (msiinfo, msiextract, msibuild), rpm queries the .rpm.
group_release=(wixl msitools rpm)

[ $# -gt 0 ] || set -- build pcsc
[ "$*" != all ] || set -- build pcsc browser desktop release
groups=()
for g in "$@"; do
	case $g in
	build) groups+=("${group_build[@]}") ;;
	pcsc) groups+=("${group_pcsc[@]}") ;;
	browser) groups+=("${group_browser[@]}") ;;
	desktop) groups+=("${group_desktop[@]}") ;;
	release) groups+=("${group_release[@]}") ;;
	*) printf 'setup: unknown group %q (build, pcsc, browser, desktop, release, all)\n' "$g" >&2; exit 2 ;;
	esac
done

die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

installed() { # package
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

command -v dpkg-query >/dev/null 2>&1 || die "not a Debian-based system; install by hand: ${groups[*]}"

missing=()
for p in "${groups[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all packages already installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		die "need root (or passwordless sudo) to install: ${missing[*]}"
	fi
fi

echo "setup: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
