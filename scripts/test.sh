#!/usr/bin/env bash
# test.sh — the project's full test run, as CI does it (.ci/run calls this).
#
# Installs what is missing (scripts/setup.sh), starts the PC/SC rig
# (scripts/rig.sh), then vets and tests everything with the rig required, so
# rig tests fail instead of skipping. A rig this script started is stopped on
# exit; one that was already running is left alone.
#
# Each step is a function run by main at the bottom: add new steps (node,
# browser tests, ...) as functions and call them from main.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n=== %s ===\n' "$*"; }

cleanups=()
cleanup() {
	local i
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do
		eval "${cleanups[i]}" || true
	done
}
trap cleanup EXIT

go_env() {
	if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
		PATH=$PATH:/usr/local/go/bin
	fi
	command -v go >/dev/null 2>&1 || { echo "test: go not found in PATH" >&2; exit 1; }
	go version
}

setup() {
	section "setup"
	scripts/setup.sh all
}

# The browser tests need the JS client's node modules (playwright-core,
# puppeteer-core, ws: no browser download) before go test runs the
# end-to-end tests in e2e/, which include the extension in Chromium and
# Firefox ESR and the public-portal (Local Network Access) cases; the policy
# case writes its own file in /etc/chromium/policies/managed (CI runs as root).
web_setup() {
	section "web: npm ci"
	(cd web && npm ci --no-audit --no-fund --loglevel=error)
	export CARDBRIDGE_E2E=required
}

# Tray, native dialogs under Xvfb, installer, Windows cross-build (the
# packages are built and checked by release_checks).
desktop_checks() {
	section "desktop: tray, dialogs, installer"
	tray/ci.sh
}

# Without pcscd (the client library pointed at a socket that does not
# exist), every package's tests must still pass, the rig tests skipping
# with their loud message: the pure packages depend on no service.
without_pcscd() {
	section "go test without pcscd (rig tests skip)"
	local out skipped
	if ! out=$(PCSCLITE_CSOCK_NAME=/nonexistent/pcscd.comm CARDBRIDGE_RIG= CARDBRIDGE_E2E= \
		go test -count=1 -v ./... 2>&1); then
		# The failing tests with the lines they logged (-v output: a
		# test's log lines come right before its --- FAIL line).
		printf '%s\n' "$out" | grep -E -B25 -A5 '^(\s*--- FAIL|FAIL|panic)' >&2 || printf '%s\n' "$out" | tail -40 >&2
		return 1
	fi
	skipped=$(printf '%s\n' "$out" | grep -c '^\*\*\* .*RIG TEST SKIPPED' || true)
	printf '%s\n' "$out" | grep -E '^(ok|FAIL) '
	echo "rig tests skipped without pcscd: $skipped"
	[ "$skipped" -gt 0 ] || { echo "test: no rig test reported its skip" >&2; return 1; }
}

web_checks() {
	section "web: JS client tests"
	(cd web && node --test test/)
}

rig_start() {
	section "PC/SC rig"
	if scripts/rig.sh status >/dev/null 2>&1; then
		scripts/rig.sh status
	else
		scripts/rig.sh start
		cleanups+=("section 'stop PC/SC rig'; scripts/rig.sh stop")
	fi
	export CARDBRIDGE_RIG=required
}

go_checks() {
	section "gofmt"
	local unformatted
	unformatted=$(gofmt -l . | grep -v '^vendor/' || true)
	if [ -n "$unformatted" ]; then
		printf 'gofmt needed on:\n%s\n' "$unformatted" >&2
		return 1
	fi
	section "go vet"
	go vet ./...
	section "staticcheck"
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	section "go test"
	go test -count=1 ./...
}

# The release artefacts (scripts/release.sh: MSI, .deb, .rpm, SBOMs,
# SHA256SUMS), their checksums, the Go tests that read them, and the
# packages installed into and removed from throw-away roots.
release_checks() {
	section "release: build dist/"
	scripts/release.sh
	(cd dist && sha256sum -c SHA256SUMS)
	# A second build must give the same files byte for byte (the Go build
	# cache serves the programs; nfpm, wixl and the SBOM tool run again).
	section "release: reproducible"
	local first
	first=$(cat dist/SHA256SUMS)
	scripts/release.sh >/dev/null
	if [ "$first" != "$(cat dist/SHA256SUMS)" ]; then
		diff <(printf '%s\n' "$first") dist/SHA256SUMS >&2
		echo "test: a second scripts/release.sh gave different files" >&2
		return 1
	fi
	echo "second build: identical"
	section "release: package tests"
	local out
	if ! out=$(CARDBRIDGE_RELEASE=required go test -count=1 -v ./packaging/... 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | grep -E '^(--- |ok )'
	packaging/test.sh
}

# Tests that disturb the whole machine's PC/SC service run on their own,
# after everything else.
rig_disruptive() {
	section "PC/SC service restart"
	local out
	if ! out=$(CARDBRIDGE_RIG_RESTART=1 go test -count=1 -run '^TestServiceRestart$' -v ./pcsc/ 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | grep -E '^(--- |ok )'
}

# The vpcd latency fix (TCP_QUICKACK) keeps an APDU round trip far below
# the 44 ms it costs without it; fail if that regresses.
rig_latency() {
	section "APDU latency through pcscd+vpcd"
	local out median
	if ! out=$(go test -count=1 -run '^$' -bench '^BenchmarkTransmit$' -benchtime 300x ./pcsc/ 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | grep -E '^Benchmark'
	median=$(printf '%s\n' "$out" | awk '/^BenchmarkTransmit/ { for (i = 2; i <= NF; i++) if ($i == "median-ns") print $(i-1) }')
	[ -n "$median" ] || { echo "test: no median in benchmark output" >&2; return 1; }
	if [ "${median%.*}" -gt 5000000 ]; then
		echo "test: median Transmit ${median} ns exceeds 5 ms (TCP_QUICKACK fix lost?)" >&2
		return 1
	fi
}

# Resilience: the daemon through a pcscd restart (it stops the machine's
# pcscd, hence a step of its own; the other fault and soak tests run with
# go test above), the fuzz targets for a bounded time, and the bench in its
# short form (figures (a), (h) and (i), timing ratios, are advisory on a shared machine).
resilience_checks() {
	section "daemon through a pcscd restart"
	local out
	if ! out=$(CARDBRIDGE_RIG_RESTART=1 go test -count=1 -run '^TestServiceRestart$' -v ./internal/resilience/ 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | grep -E '^(--- |ok )'

	section "fuzzing, a fixed number of executions per target"
	# Budgets are counts, not durations: with a -fuzztime duration, Go 1.26's
	# fuzz coordinator can report "context deadline exceeded" as a failure when
	# the clock runs out while a worker is mid-call (go.dev/issue/75804, fixed in
	# Go 1.27), which failed CI once with no input found. Each count is about ten
	# seconds of fuzzing on a two-core machine.
	local t pkg name budget
	for t in ./bridge:FuzzHandle:200000 ./bridge/nativemsg:FuzzHostInput:20000 ./apdu/beid:FuzzCardResponses:300000 \
		./apdu/beid:FuzzCertificate:40000 ./apdu/beid:FuzzParseCardData:400000 \
		./apdu/beid:FuzzParseIdentity:400000 ./apdu:FuzzParseResponse:1000000 \
		./webeid:FuzzOCSPResponse:40000 ./webeid:FuzzValidateToken:20000; do
		IFS=: read -r pkg name budget <<<"$t"
		if ! out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "${budget}x" -fuzzminimizetime 200x "$pkg" 2>&1); then
			printf '%s\n' "$out" >&2
			if printf '%s\n' "$out" | grep -q 'Failing input written to'; then
				echo "test: $name found a failing input; it is saved under $pkg/testdata/fuzz/$name/ to keep as a regression seed" >&2
			else
				echo "test: $name failed without writing an input (see the output above)" >&2
			fi
			return 1
		fi
		printf '%s: %s\n' "$name" "$(printf '%s\n' "$out" | grep -E '^fuzz: elapsed' | tail -n 1)"
	done

	section "bench (short)"
	go run ./bench -short -advisory a,h,i
}

main() {
	go_env
	setup
	rig_start
	web_setup
	go_checks
	without_pcscd
	web_checks
	desktop_checks
	release_checks
	rig_disruptive
	rig_latency
	resilience_checks
	section "all tests passed"
}

main "$@"
