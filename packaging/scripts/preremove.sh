#!/bin/sh
# Undo postinstall's global enablement. Running instances stop at logout
# (or with `systemctl --user stop cardbridge` in each session).
set -e
if [ "$1" = remove ] && command -v systemctl >/dev/null 2>&1; then
	systemctl --root="${DPKG_ROOT:-/}" --global disable cardbridge.service >/dev/null 2>&1 || true
fi
exit 0
