#!/usr/bin/env bash
# Builds cardbridge for release into dist/:
#   dist/linux-amd64/cardbridge            the Linux binary (cgo, libpcsclite)
#   dist/cardbridge_<version>_amd64.deb    the Debian package (nfpm)
#   dist/windows-amd64/cardbridge.exe      the Windows binary (cross-compiled, no cgo)
#   dist/darwin-arm64/cardbridge           only when a macOS cgo toolchain is set up
# Environment: VERSION (default 0.1.0 plus the git commit), NFPM_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM_VERSION=${NFPM_VERSION:-v2.45.2}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION=${VERSION:-0.1.0+git.$commit}
ldflags="-s -w -X main.version=$VERSION"
mkdir -p dist

echo "== linux/amd64 binary"
# cgo is required on Linux: the PC/SC transport links libpcsclite.
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "$ldflags" -o dist/linux-amd64/cardbridge ./cmd/cardbridge

echo "== .deb (nfpm $NFPM_VERSION)"
# nfpm runs through the Go module proxy at a pinned version; `go run
# pkg@version` keeps its dependencies out of this module's go.mod.
DEB_VERSION=$VERSION DEB_ARCH=amd64 \
	go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" package \
	--config packaging/nfpm.yaml --packager deb --target dist/
ls -l dist/*.deb

echo "== windows/amd64"
# Everything must compile for Windows (build tags keep Linux-only code out).
GOOS=windows GOARCH=amd64 go build ./...
# -H windowsgui: started from the Run key at logon, a console-subsystem
# program would open a console window; the GUI subsystem opens none.
GOOS=windows GOARCH=amd64 go build -trimpath -ldflags "$ldflags -H windowsgui" -o dist/windows-amd64/cardbridge.exe ./cmd/cardbridge

echo "== darwin/arm64 (attempt)"
# The PC/SC binding and the tray need cgo against the macOS SDK; without a
# macOS toolchain (osxcross, or a Mac) this cannot link. See docs/desktop.md.
if CGO_ENABLED=1 GOOS=darwin GOARCH=arm64 go build -trimpath -ldflags "$ldflags" -o dist/darwin-arm64/cardbridge ./cmd/cardbridge 2>dist/darwin-build.log; then
	echo "built dist/darwin-arm64/cardbridge"
else
	echo "skipped: no macOS cgo toolchain here (log: dist/darwin-build.log)"
fi
