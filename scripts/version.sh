#!/usr/bin/env bash
# version.sh — prints, as shell assignments for eval, the release version
# of the checked-out commit, derived from git alone so that every builder
# (scripts/release.sh here, the macOS workflow there) agrees:
#   VERSION            X.Y.Z on a tag vX.Y.Z; X.Y.Z+git.N.HASH N commits after it
#                      (0.1.0 and all commits when there is no tag yet);
#                      ".dirty" appended when the tree has uncommitted changes
#   MSI_VERSION        X.Y.Z.N: Windows Installer compares only X.Y.Z
#                      (the MSI makes same-X.Y.Z upgrades inclusive), N shows in Apps
#   SOURCE_DATE_EPOCH  the commit time: the one timestamp every artefact carries
#                      (reproducible-builds.org/specs/source-date-epoch)
set -euo pipefail
cd "$(dirname "$0")/.."

base=0.1.0
hash=$(git rev-parse --short=12 HEAD)
if desc=$(git describe --tags --long --match 'v[0-9]*.[0-9]*.[0-9]*' --abbrev=12 2>/dev/null); then
	# vX.Y.Z-N-gHASH
	n=${desc%-g*}
	n=${n##*-}
	base=${desc%-*-g*}
	base=${base#v}
else
	n=$(git rev-list --count HEAD)
fi
if [[ ! $base =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || ((BASH_REMATCH[1] > 255 || BASH_REMATCH[2] > 255 || BASH_REMATCH[3] > 65535 || n > 65535)); then
	echo "version: $base (+$n) does not fit an MSI ProductVersion" >&2
	exit 1
fi
version=$base
if [ "$n" -gt 0 ]; then
	version=$base+git.$n.$hash
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	version=$version.dirty
fi
printf 'VERSION=%s\nMSI_VERSION=%s.%s\nSOURCE_DATE_EPOCH=%s\n' "$version" "$base" "$n" "$(git log -1 --format=%ct HEAD)"
