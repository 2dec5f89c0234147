#!/usr/bin/env bash
# setup.sh — install the Debian/Ubuntu packages that building and testing
# cardbridge need. Skips apt entirely when everything is already installed.
# Needs root, or sudo without a password prompt (it never reads stdin).
#
# Packages are grouped by what needs them; add a group for a new tool chain
# and list it in "groups" below.
set -euo pipefail

# cgo (github.com/ebfe/scard links libpcsclite through pkg-config).
build=(gcc libc6-dev pkg-config)
# The PC/SC stack and the virtual reader used by rig tests (scripts/rig.sh).
pcsc=(pcscd libpcsclite-dev vsmartcard-vpcd)

groups=("${build[@]}" "${pcsc[@]}")

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
