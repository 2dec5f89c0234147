#!/usr/bin/env bash
# run.sh — set up a machine and run cardbridge on it.
#
# Installs what is missing (scripts/setup.sh), makes sure the smart card
# service runs (scripts/rig.sh), builds cardbridge and the simulated card into
# bin/, and, when no reader holds a Belgian eID, inserts a simulated one
# (profile from CARDBRIDGE_SIM_PROFILE: ecc, rsa or rsa-ecrrn, default ecc) into the
# virtual reader. It then reads the card once with `cardbridge read` and runs
# the daemon in the foreground (Ctrl-C stops it and the simulated card).
#
# Arguments are passed to `cardbridge run`, e.g.
#   scripts/run.sh --allow-origin https://portal.example
# With CARDBRIDGE_READ_ONLY=1 it stops after the read.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'run: %s\n' "$*"; }
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi

scripts/setup.sh
scripts/rig.sh start

say "building bin/cardbridge and bin/beidsim"
mkdir -p bin
go build -o bin/ ./cmd/cardbridge ./cmd/beidsim

sim_pid=
stop_sim() {
	if [ -n "$sim_pid" ]; then
		kill "$sim_pid" 2>/dev/null || true
		wait "$sim_pid" 2>/dev/null || true
	fi
}
trap stop_sim EXIT

has_belgian_card() {
	bin/cardbridge readers --json 2>/dev/null | grep -q '"card": "Belgian eID'
}

if has_belgian_card; then
	say "a Belgian eID card is present; using it"
else
	profile=${CARDBRIDGE_SIM_PROFILE:-ecc}
	# One test PKI per profile: their keys differ (beidsim refuses a
	# hierarchy of another profile).
	pki=bin/testpki
	[ "$profile" = ecc ] || pki=bin/testpki-$profile
	say "no Belgian eID card found: inserting a simulated one (profile $profile, PIN 1234)"
	say "test PKI in $pki (go run ./cmd/demoportal --sim-pki $pki trusts it; beidsim runs its OCSP responder)"
	bin/beidsim --profile "$profile" --pki-dir "$pki" &
	sim_pid=$!
	for _ in $(seq 1 100); do
		has_belgian_card && break
		kill -0 "$sim_pid" 2>/dev/null || { say "the simulated card stopped"; exit 1; }
		sleep 0.1
	done
	has_belgian_card || { say "the simulated card did not appear in any reader"; exit 1; }
fi

bin/cardbridge readers
echo
bin/cardbridge read
if [ "${CARDBRIDGE_READ_ONLY:-}" = 1 ]; then
	exit 0
fi
echo
say "starting the daemon (Ctrl-C to stop)"
bin/cardbridge run "$@"
