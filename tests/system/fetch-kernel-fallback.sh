#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# fetch-kernel-fallback.sh 6.1: the system suite's own way to a Debian 6.1 kernel, used only when
# tests/vm/fetch-kernel.sh is not there. Same interface: prints a directory holding boot/vmlinuz-* and
# lib/modules/*, cached in ${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}/kernel/PACKAGE/. The package is the one
# this machine's apt offers through linux-image-amd64 (bookworm: 6.1).
set -euo pipefail

want=${1:?usage: fetch-kernel-fallback.sh 6.1}
cache=${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}

package=$(apt-cache depends linux-image-amd64 2>/dev/null |
          awk -v want="linux-image-$want." '$1 == "Depends:" && index($2, want) == 1 { print $2; exit }')
if [[ -z $package ]]; then
        echo "fetch-kernel-fallback: apt offers no linux-image-$want.* (run apt-get update?)" >&2
        exit 1
fi

dir="$cache/kernel/$package"
if [[ ! -e $dir/.complete ]]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        (cd "$tmp" && apt-get download -q "$package" >&2)
        dpkg-deb -x "$tmp"/"$package"_*.deb "$dir"
        touch "$dir/.complete"
fi
echo "$dir"
