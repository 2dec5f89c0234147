#!/usr/bin/env bash
# build-pkg.sh BINARY VERSION OUT.pkg — builds the per-user macOS
# installer package around an already built (universal) cardbridge
# binary. macOS only: pkgbuild and productbuild come with Xcode's
# command line tools. .github/workflows/release-macos.yml runs it; signing
# and notarization are separate steps there. The payload is stage.sh's.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 BINARY VERSION OUT.pkg" >&2; exit 2; }
bin=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/stage.sh" "$work/root" "$bin"
# --install-location / : in a currentUserHome install (distribution.xml)
# the Installer roots the payload at the user's home folder.
pkgbuild --root "$work/root" --identifier org.cardbridge.pkg --version "$version" \
	--install-location / --scripts "$here/scripts" \
	"$work/cardbridge-component.pkg"
sed "s|@VERSION@|$version|" "$here/distribution.xml" >"$work/distribution.xml"
mkdir -p "$(dirname "$out")"
productbuild --distribution "$work/distribution.xml" --package-path "$work" "$out"
echo "built $out"
