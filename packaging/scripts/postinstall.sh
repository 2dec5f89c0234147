#!/bin/sh
# Enable the user unit for every user: it starts at each user's next
# login. --global only creates a link under /etc/systemd/user and works
# without a running systemd (containers, chroots). DPKG_ROOT is set when
# dpkg installs into another root (dpkg --root --force-script-chrootless).
# dpkg calls this with "configure"; rpm with the number of installed
# versions after the transaction (1: install, 2: upgrade).
set -e
case "$1" in
configure | [0-9]*)
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --root="${DPKG_ROOT:-/}" --global enable cardbridge.service >/dev/null 2>&1 ||
			echo "cardbridge: could not enable the user service; run 'cardbridge install' as each user" >&2
	fi
	;;
esac
exit 0
