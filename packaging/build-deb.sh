#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the Debian package from this tree: packaging/build-deb.sh OUTDIR [dpkg-buildpackage options…]
#
# dpkg-buildpackage wants debian/ at the top of the source tree, and the tree also holds build directories: copy
# the sources (without .git and meson build directories) to a temporary folder, put packaging/debian there as
# debian/, build the binary package (-us -uc -b), and move the .deb, .buildinfo and .changes into OUTDIR.
# Needs the Build-Depends of packaging/debian/control (`apt-get build-dep ./` from the copy, or
# `mk-build-deps`).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:?usage: build-deb.sh OUTDIR [dpkg-buildpackage options…]}
shift
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/dma-ownerd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/dma-ownerd"
mkdir "$src"

# Every top-level entry except .git and directories meson configured (they hold meson-private/).
for entry in "$repo"/* "$repo"/.[!.]*; do
        [[ -e $entry ]] || continue
        name=${entry##*/}
        [[ $name == .git ]] && continue
        [[ -d $entry/meson-private ]] && continue
        cp -a "$entry" "$src/"
done
rm -rf "$src/debian"
cp -a "$repo/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b "$@")

shopt -s nullglob
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes; do
        mv -f "$f" "$outdir/"
done
ls "$outdir"/dma-ownerd_*.deb
