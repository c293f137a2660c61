#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the RPM from this tree: packaging/build-rpm.sh OUTDIR [rpmbuild options…]
#
# Makes the Source0 tarball (dma-ownerd-VERSION.tar.gz, top directory dma-ownerd-VERSION/, as GitHub's archive of
# tag vVERSION) from the working tree: with git, the tracked and the untracked-but-not-ignored files as they are
# on disk, so uncommitted changes are built; without git, every top-level entry except .git and meson build
# directories. Then `rpmbuild -bb` packaging/rpm/dma-ownerd.spec in a private _topdir and moves the binary RPMs
# into OUTDIR; the last lines of output are their paths.
#
# On a host whose rpm does not define %meson (Debian's `rpm` package), packaging/rpm/macros.fedora-standin stands
# in for Fedora's redhat-rpm-config, meson and systemd-rpm-macros, and %_unitdir/%_udevrulesdir follow this
# host's systemd.pc/udev.pc, since meson installs where those say. When rpm's database does not know rpm itself
# (not an RPM-based host) BuildRequires cannot be resolved and rpmbuild runs with --nodeps. On Fedora neither
# applies: the real macros are used and BuildRequires are checked.
#
# Environment: BUILD_RPM_REF=REF takes the sources from a git commit or tag (`git archive REF`) instead of the
# working tree. RPM_TOPDIR=DIR builds in DIR and keeps it (tests/packaging inspects it afterwards); by default a
# temporary folder is used and removed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec="$repo/packaging/rpm/dma-ownerd.spec"
standin="$repo/packaging/rpm/macros.fedora-standin"
outdir=${1:?usage: build-rpm.sh OUTDIR [rpmbuild options…]}
shift
command -v rpmbuild >/dev/null || { echo "build-rpm.sh: rpmbuild not found (Debian: apt-get install rpm)" >&2; exit 1; }
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

if [[ -n ${RPM_TOPDIR:-} ]]; then
        mkdir -p "$RPM_TOPDIR"
        topdir=$(cd "$RPM_TOPDIR" && pwd)
else
        topdir=$(mktemp -d "${TMPDIR:-/tmp}/dma-ownerd-rpm.XXXXXX")
        trap 'rm -rf "$topdir"' EXIT
fi
mkdir -p "$topdir"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}

macro_args=(--define "_topdir $topdir")
if [[ -z $(rpm --eval '%{?meson_build}') ]]; then
        macro_args+=(--load "$standin")
        if unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null) && [[ -n $unitdir ]]; then
                macro_args+=(--define "_unitdir $unitdir")
        fi
        if udevdir=$(pkg-config --variable=udevdir udev 2>/dev/null) && [[ -n $udevdir ]]; then
                macro_args+=(--define "_udevrulesdir $udevdir/rules.d")
        fi
        command -v eu-strip >/dev/null ||
                echo "build-rpm.sh: eu-strip not found (Debian: apt-get install elfutils): no -debuginfo package" >&2
fi
build_args=()
if ! rpm -q rpm >/dev/null 2>&1; then
        build_args+=(--nodeps)
fi

# The spec's Version names the tarball; meson.build's must agree or the package would carry the wrong version.
name=$(rpmspec -q --srpm --qf '%{name}' "${macro_args[@]}" "$spec")
version=$(rpmspec -q --srpm --qf '%{version}' "${macro_args[@]}" "$spec")
meson_version=$(sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" "$repo/meson.build" |
        head -n1)
if [[ $version != "$meson_version" ]]; then
        echo "build-rpm.sh: the spec's Version ($version) differs from meson.build's ($meson_version)" >&2
        exit 1
fi

stage="$topdir/SOURCES/stage"
rm -rf "$stage"
mkdir -p "$stage/$name-$version"
if [[ -n ${BUILD_RPM_REF:-} ]]; then
        git -C "$repo" archive --format=tar "$BUILD_RPM_REF" | tar -C "$stage/$name-$version" -xf -
elif git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # Files deleted in the working tree but still in the index are skipped (--ignore-failed-read).
        git -C "$repo" ls-files -z --cached --others --exclude-standard |
                tar -C "$repo" --null --files-from=- --ignore-failed-read -cf - |
                tar -C "$stage/$name-$version" -xf -
else
        for entry in "$repo"/* "$repo"/.[!.]*; do
                [[ -e $entry ]] || continue
                [[ ${entry##*/} == .git || -d $entry/meson-private ]] && continue
                cp -a "$entry" "$stage/$name-$version/"
        done
fi
tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$topdir/SOURCES/$name-$version.tar.gz" "$name-$version"
rm -rf "$stage"

rpmbuild -bb "${macro_args[@]}" "${build_args[@]}" "$@" "$spec"

shopt -s nullglob
rpms=("$topdir"/RPMS/*/"$name"-*.rpm)
[[ ${#rpms[@]} -gt 0 ]] || { echo "build-rpm.sh: rpmbuild made no package" >&2; exit 1; }
for f in "${rpms[@]}"; do
        mv -f "$f" "$outdir/"
        echo "$outdir/${f##*/}"
done
