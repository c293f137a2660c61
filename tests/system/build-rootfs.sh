#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# build-rootfs.sh: print the path of a cached Debian 12 minbase root file system for the system suite, building it
# with debootstrap first when the cache has none for this package list.
#
# Cache: ${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}/rootfs/KEY/, KEY a hash of the suite and the package list,
# so changing the list builds a new root and never reuses a stale one. A root is complete once its .complete stamp
# exists; a half-built one (interrupted) is thrown away. The mirror is the one this machine's apt uses.
set -euo pipefail

suite=bookworm
# What an admin's Debian 12 machine has for dma-ownerd: systemd as init, the system bus, udevd, polkitd; kmod for
# vfio-pci; iproute2 for the interfaces; procps, whose /bin/kill the unit's ExecReload uses before systemd 253;
# libpam-systemd (logind), which polkitd needs but debootstrap, not resolving virtual packages, would not pick; and
# the .deb's shared libraries (its Depends), so that dpkg -i needs no network.
packages=(systemd systemd-sysv dbus udev polkitd libpam-systemd kmod iproute2 procps libyaml-0-2 libnl-3-200 libnl-route-3-200)

cache=${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

key=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-16)
root="$cache/rootfs/$key"
if [[ -e $root/.complete ]]; then
        echo "$root"
        exit 0
fi

mirror=$("$here/apt-mirror.sh" "$suite")
mkdir -p "$cache/rootfs"
rm -rf "$root"
include=$(IFS=,; echo "${packages[*]}")
echo "build-rootfs: debootstrap $suite from $mirror into $root" >&2
debootstrap --variant=minbase --include="$include" --components=main "$suite" "$root" "$mirror" >&2
# The package cache is dead weight in every copy.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
touch "$root/.complete"
echo "$root"
