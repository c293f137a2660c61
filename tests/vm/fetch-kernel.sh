#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# fetch-kernel.sh TAG: fetch and unpack one of the Debian kernels the vm suite boots, print the directory that holds
# its boot/vmlinuz-* and lib/modules/*/ (last line of stdout).
#
#   6.1   bookworm            (DMA-ownership tracking, the kernel Debian 12 runs)
#   6.12  bookworm-backports  (newest Debian ships; modules are .ko.xz)
#   5.10  bullseye            (before DMA ownership: vfio still BUG_ONs)
#
# The mirror is the one this machine's apt uses for bookworm (apt-mirror.sh), so no host name is written here; the
# other suites are taken from the same root. A private apt configuration (its own sources, lists and cache under
# the cache folder) keeps the machine's apt state untouched. Cache: ${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}
# /kernel/PACKAGE/, reused while it is complete; the resolved package name is remembered per tag for a day, so a
# warm run needs no network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tag=${1:?usage: fetch-kernel.sh 6.1|6.12|5.10}
cache=${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}

case $tag in
6.1) suite=bookworm ;;
6.12) suite=bookworm-backports ;;
5.10) suite=bullseye ;;
*)
        echo "fetch-kernel: unknown tag '$tag' (known: 6.1 6.12 5.10)" >&2
        exit 2
        ;;
esac

mkdir -p "$cache/kernel"
remembered="$cache/kernel/tag-$tag"
if [[ -s $remembered && -n $(find "$remembered" -mmin -1440 2>/dev/null) ]]; then
        package=$(cat "$remembered")
        if [[ -e $cache/kernel/$package/.complete ]]; then
                echo "$cache/kernel/$package"
                exit 0
        fi
fi

mirror=$("$here/../system/apt-mirror.sh" bookworm)

# The private apt: only the one suite, signed by Debian's keyring, everything under $aptdir.
aptdir="$cache/apt/$suite"
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$aptdir/etc/preferences.d" "$aptdir/etc/trusted.gpg.d"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $keyring ]] || { echo "fetch-kernel: $keyring missing (install debian-archive-keyring)" >&2; exit 1; }
cat >"$aptdir/sources.list" <<SOURCES
deb [signed-by=$keyring] $mirror $suite main
SOURCES
apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::Etc::Preferences=$aptdir/etc/preferences" -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
          -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir" -o "Dir::Cache::Archives=$aptdir/archives"
          -o "Dir::State::status=/dev/null" -o "APT::Get::List-Cleanup=false" -o "Acquire::Languages=none"
          -o "APT::Architecture=amd64" -o "APT::Architectures=amd64" -o "APT::Sandbox::User=root")

if [[ -z $(find "$aptdir/lists" -name '*_Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
        apt-get "${apt_opts[@]}" -q update >&2
fi

# The metapackage names the current ABI's image (linux-image-6.1.0-NN-amd64, linux-image-6.12.NN+deb12-amd64).
package=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null |
          awk -v want="linux-image-$tag." '$1 == "Depends:" && index($2, want) == 1 { print $2; exit }')
if [[ -z $package ]]; then
        echo "fetch-kernel: $suite on $mirror offers no linux-image-$tag.*" >&2
        exit 1
fi

dir="$cache/kernel/$package"
if [[ ! -e $dir/.complete ]]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        (cd "$tmp" && apt-get "${apt_opts[@]}" -q download "$package" >&2)
        dpkg -x "$tmp"/"$package"_*.deb "$dir"
        ls "$dir"/boot/vmlinuz-* >/dev/null
        touch "$dir/.complete"
fi
echo "$package" >"$remembered"
echo "$dir"
