#!/bin/sh
# Undo postinstall's global enablement when the package goes away, not
# on upgrade. Running instances stop at logout (or with `systemctl --user
# stop cardbridge` in each session). dpkg calls this with "remove" (and
# "upgrade" on upgrade); rpm with the number of versions left after the
# transaction (0: erase, 1: upgrade).
set -e
case "$1" in
remove | 0)
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --root="${DPKG_ROOT:-/}" --global disable cardbridge.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
