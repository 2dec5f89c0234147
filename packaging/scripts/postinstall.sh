#!/bin/sh
# Enable the user unit for every user: it starts at each user's next
# login. --global only creates a link under /etc/systemd/user and works
# without a running systemd (containers, chroots). DPKG_ROOT is set when
# dpkg installs into another root (dpkg --root --force-script-chrootless).
set -e
if [ "$1" = configure ] && command -v systemctl >/dev/null 2>&1; then
	systemctl --root="${DPKG_ROOT:-/}" --global enable cardbridge.service >/dev/null 2>&1 ||
		echo "cardbridge: could not enable the user service; run 'cardbridge install' as each user" >&2
fi
exit 0
