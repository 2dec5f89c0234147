#!/usr/bin/env bash
# release.sh — builds every release artefact this Debian machine can build
# into dist/, under the stable download names (the version lives in the
# packages' metadata, never in the file name):
#   dist/cardbridge-windows-x64.msi     per-user Windows installer (wixl)
#   dist/cardbridge-linux-amd64.deb     Debian/Ubuntu package (nfpm)
#   dist/cardbridge-linux-x86_64.rpm    Fedora/RHEL package (nfpm)
#   dist/cardbridge-linux-amd64.cdx.json, dist/cardbridge-windows-x64.cdx.json
#                                       CycloneDX SBOMs of the two programs
#   dist/SHA256SUMS                     checksums of all of the above
# The macOS packages need a Mac: .github/workflows/release-macos.yml.
#
# Reproducible: -trimpath, the version from git (scripts/version.sh), no
# VCS stamping, and SOURCE_DATE_EPOCH (the commit time) for every
# timestamp nfpm writes; the SBOMs carry no serial number or timestamp.
# Two runs on the same commit give the same files, byte for byte (the
# MSI's summary, which wixl fills from the clock and a random source, is
# set from the commit time and the inputs afterwards).
#
# Tools: go (nfpm and cyclonedx-gomod come at pinned versions with `go
# run`/`go install pkg@version`, so they stay out of go.mod), gcc and
# libpcsclite-dev (the Linux binary links libpcsclite), wixl and msitools.
# scripts/setup.sh build pcsc release installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
CYCLONEDX=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0

for tool in wixl msiinfo msibuild gcc pkg-config; do
	command -v "$tool" >/dev/null || { echo "release: $tool missing (scripts/setup.sh release)" >&2; exit 1; }
done

eval "$(scripts/version.sh)"
export SOURCE_DATE_EPOCH
echo "== cardbridge $VERSION (MSI $MSI_VERSION), commit time $(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)"

# The staging directory is a fixed path because nfpm.yaml names the
# binary's source path (nfpm expands no variables there).
stage=bin/release
rm -rf dist "$stage"
mkdir -p dist "$stage"

# -buildvcs=false: the version is in main.version; VCS stamping would
# also record whether the tree is modified, and fails in a clone that
# belongs to another user.
goflags=(-trimpath -buildvcs=false)
ldflags="-s -w -X main.version=$VERSION"

echo "== linux/amd64 (cgo: libpcsclite)"
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build "${goflags[@]}" -ldflags "$ldflags" \
	-o "$stage/linux-amd64/cardbridge" ./cmd/cardbridge

echo "== windows/amd64 (pure Go)"
# -H windowsgui: started from the Run key at logon, a console-subsystem
# program would open a console window; the GUI subsystem opens none.
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build "${goflags[@]}" -ldflags "$ldflags -H windowsgui" \
	-o "$stage/windows-x64/cardbridge.exe" ./cmd/cardbridge

# Every file that goes into a package gets the commit time.
cp packaging/manifests/windows/*.json "$stage/windows-x64/"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

echo "== .deb and .rpm (nfpm)"
export PKG_VERSION=$VERSION
go run "$NFPM" package --config packaging/nfpm.yaml --packager deb --target dist/cardbridge-linux-amd64.deb
go run "$NFPM" package --config packaging/nfpm.yaml --packager rpm --target dist/cardbridge-linux-x86_64.rpm

echo "== .msi (wixl)"
# The ProductCode changes with every version (a major upgrade) and is the
# same for two builds of one version.
upgrade_code=0D858B28-04AB-4D30-BF1F-BF9A280E6A21
product_code=$(go run ./packaging/pkgtool uuid5 "$upgrade_code" "$VERSION")
msi=$PWD/dist/cardbridge-windows-x64.msi
# wixl reads File/@Source relative to the working directory. It drops an
# element or attribute it does not support with only a warning: any output
# on stderr fails the build, so nothing of cardbridge.wxs is lost silently.
(cd "$stage/windows-x64" && wixl --arch x64 -D "Version=$MSI_VERSION" -D "ProductCode=$product_code" \
	-o "$msi" "$OLDPWD/packaging/windows/cardbridge.wxs" 2>"$OLDPWD/$stage/wixl.log")
if [ -s "$stage/wixl.log" ]; then
	cat "$stage/wixl.log" >&2
	echo "release: wixl warned (above): cardbridge.wxs uses something wixl ignores" >&2
	exit 1
fi
# Two things wixl cannot express, patched into its tables:
# - the upgrade range's upper bound inclusive (IncludeMaximum: attribute
#   0x200), plus MigrateFeatures (0x1), next to the inclusive lower bound
#   (0x100): builds between two tags share X.Y.Z and must replace each other;
# - removing the registry keys themselves on uninstall, not only the
#   values: a Registry row whose Name is "-" and Value empty deletes the key
#   with its subkeys when its component is removed
#   (learn.microsoft.com/windows/win32/msi/registry-table).
msiinfo export "$msi" Upgrade >"$stage/Upgrade.idt"
awk -F'\t' -v OFS='\t' 'NR > 3 && $7 ~ /^CARDBRIDGE_OLDER/ { $5 = 769 } { print }' "$stage/Upgrade.idt" >"$stage/Upgrade.new" &&
	mv "$stage/Upgrade.new" "$stage/Upgrade.idt"
msiinfo export "$msi" Registry >"$stage/Registry.idt"
{
	printf 'regRemoveSettings\t1\tSoftware\\cardbridge\t-\t\tProgram\r\n'
	printf 'regRemoveChromeHost\t1\tSoftware\\Google\\Chrome\\NativeMessagingHosts\\org.cardbridge.host\t-\t\tChromiumHost\r\n'
	printf 'regRemoveEdgeHost\t1\tSoftware\\Microsoft\\Edge\\NativeMessagingHosts\\org.cardbridge.host\t-\t\tChromiumHost\r\n'
	printf 'regRemoveFirefoxHost\t1\tSoftware\\Mozilla\\NativeMessagingHosts\\org.cardbridge.host\t-\t\tFirefoxHost\r\n'
} >>"$stage/Registry.idt"
(cd "$stage" && msibuild "$msi" -i Upgrade.idt -i Registry.idt)
# Last, what makes two builds differ: wixl's random package code and the
# build time in the summary. The package code must change whenever the
# package does: derive it from the version and every input.
inputs=$(cat "$stage"/windows-x64/* packaging/windows/cardbridge.wxs | sha256sum | cut -c1-64)
package_code=$(go run ./packaging/pkgtool uuid5 "$upgrade_code" "package $VERSION $inputs")
go run ./packaging/pkgtool msi-summary "$msi" "$package_code" "$SOURCE_DATE_EPOCH"
msiinfo suminfo "$msi" | grep -qF "{$package_code}" || { echo "release: the MSI summary was not patched" >&2; exit 1; }

echo "== SBOM (CycloneDX)"
# From each binary's embedded build information (`go version -m`): the
# modules actually linked for that target, and the binary's own hashes.
# GOPROXY=off: license detection reads the module cache the build filled,
# and must not ask the proxy for this module's unpublished version.
GOBIN=$PWD/$stage/tools go install "$CYCLONEDX"
for t in linux-amd64/cardbridge windows-x64/cardbridge.exe; do
	name=cardbridge-${t%%/*}.cdx.json
	GOPROXY=off "$stage/tools/cyclonedx-gomod" bin -json -licenses -noserial -notimestamp -version "v$VERSION" \
		-output "dist/$name" "$stage/$t" 2> >(grep -v -e 'module download failed' -e "can't resolve module license" >&2)
done

echo "== SHA256SUMS"
(cd dist && sha256sum -- cardbridge-* >SHA256SUMS && sha256sum -c SHA256SUMS)
ls -l dist
