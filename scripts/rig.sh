#!/usr/bin/env bash
# rig.sh start|stop|restart|status — the PC/SC test rig.
#
# Runs pcscd in the foreground as a plain background process (no systemd
# needed, as in containers and CI), with the vsmartcard vpcd driver that
# gives the readers "Virtual PCD 00 00" (card side on TCP 35963) and
# "Virtual PCD 00 01" (35964). Tests plug software cards into them through
# internal/rig. Installs nothing: see scripts/setup.sh for that.
#
# Idempotent: start with pcscd already up (ours or the system's) and stop with
# nothing running both succeed. stop only stops a pcscd that start started.
#
# Environment: CARDBRIDGE_PCSCD_PIDFILE (default /tmp/cardbridge-pcscd.pid),
# CARDBRIDGE_PCSCD_LOG (default /tmp/cardbridge-pcscd.log),
# CARDBRIDGE_PCSCD_ARGS (extra pcscd options, e.g. "-d -a" for a debug log).
set -euo pipefail

pidfile=${CARDBRIDGE_PCSCD_PIDFILE:-/tmp/cardbridge-pcscd.pid}
logfile=${CARDBRIDGE_PCSCD_LOG:-/tmp/cardbridge-pcscd.log}
rundir=/run/pcscd
socket=$rundir/pcscd.comm
vpcd_conf=/etc/reader.conf.d/vpcd
vpcd_port_hex=8C7B # 35963, as it appears in /proc/net/tcp

say() { printf 'rig: %s\n' "$*"; }
die() { printf 'rig: error: %s\n' "$*" >&2; exit 1; }

# Root is needed to create /run/pcscd and to use the readers' config.
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "must run as root (or have sudo) to start pcscd"
	sudo=(sudo -n)
fi

is_pcscd() { # pid
	[ -n "${1:-}" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = pcscd ]
}

our_pid() { # prints the pid of the pcscd we started, if alive
	local pid
	[ -f "$pidfile" ] || return 1
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	is_pcscd "$pid" || return 1
	printf '%s\n' "$pid"
}

any_pid() { # prints the pid of any running pcscd (it writes its own pidfile)
	local pid
	if pid=$(our_pid); then printf '%s\n' "$pid"; return 0; fi
	pid=$(cat "$rundir/pcscd.pid" 2>/dev/null) || return 1
	is_pcscd "$pid" || return 1
	printf '%s\n' "$pid"
}

# vpcd listens once pcscd has loaded the driver; no tool needed to check it,
# and unlike connecting to the port it does not insert a phantom card.
vpcd_listening() {
	grep -Eqi ":${vpcd_port_hex} [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

ready() { [ -S "$socket" ] && vpcd_listening; }

# Right after the start the process may not be pcscd yet (still the shell's
# fork, or setsid, until it execs pcscd; slow on a loaded machine), so only
# its death ends the wait early. 30 s covers a cold start on a busy CI box.
wait_ready() { # pid
	local i
	for i in $(seq 300); do
		ready && return 0
		[ -d "/proc/$1" ] || return 1
		sleep 0.1
	done
	return 1
}

start() {
	local pid
	if pid=$(any_pid); then
		wait_ready "$pid" || die "pcscd (pid $pid) runs but the vpcd reader is not listening on port 35963; is vsmartcard-vpcd installed? (scripts/setup.sh)"
		say "pcscd already running (pid $pid)"
		return 0
	fi
	command -v pcscd >/dev/null 2>&1 || die "pcscd is not installed; run scripts/setup.sh"
	[ -f "$vpcd_conf" ] || die "$vpcd_conf missing: vsmartcard-vpcd is not installed; run scripts/setup.sh"
	# Leftovers of a pcscd that died would make clients talk to nobody.
	"${sudo[@]}" rm -f "$socket" "$rundir/pcscd.pid"
	: >"$logfile"
	# shellcheck disable=SC2086 # CARDBRIDGE_PCSCD_ARGS is a list of options
	"${sudo[@]}" setsid pcscd -f ${CARDBRIDGE_PCSCD_ARGS:-} </dev/null >>"$logfile" 2>&1 &
	pid=$!
	if [ ${#sudo[@]} -gt 0 ]; then
		# $! is sudo's pid; pcscd writes its own.
		sleep 0.5
		pid=$(cat "$rundir/pcscd.pid" 2>/dev/null || echo "$pid")
	fi
	printf '%s\n' "$pid" >"$pidfile"
	if ! wait_ready "$pid"; then
		tail -n 20 "$logfile" >&2 || true
		die "pcscd did not come up with the vpcd reader (log: $logfile)"
	fi
	say "pcscd started (pid $pid, log $logfile)"
}

stop() {
	local pid i
	if ! pid=$(our_pid); then
		rm -f "$pidfile"
		if pid=$(any_pid); then
			say "pcscd (pid $pid) was not started by rig.sh; leaving it running"
		else
			say "pcscd not running"
		fi
		return 0
	fi
	"${sudo[@]}" kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 100); do # pcscd takes about a second to exit
		is_pcscd "$pid" || break
		sleep 0.1
	done
	if is_pcscd "$pid"; then
		say "pcscd (pid $pid) ignored SIGTERM; killing it"
		"${sudo[@]}" kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
	say "pcscd stopped"
}

status() {
	local pid who=external
	if ! pid=$(any_pid); then
		say "pcscd not running"
		return 3
	fi
	our_pid >/dev/null && who="started by rig.sh"
	if ready; then
		say "pcscd running (pid $pid, $who); vpcd listening on 35963"
		return 0
	fi
	say "pcscd running (pid $pid, $who) but not ready (socket $socket, vpcd port 35963)"
	return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop && start ;;
status) status ;;
*)
	echo "usage: $0 start|stop|restart|status" >&2
	exit 2
	;;
esac
