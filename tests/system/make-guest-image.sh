#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-guest-image.sh: the boot disk of a Debian 12 systemd guest, shared by the system suite (run-system.sh) and
# the real-kernel benchmarks (bench/vm-bench.sh). From the cached root file system (build-rootfs.sh, only copied,
# never modified) it makes a fresh copy with the kernel's modules for vfio-pci, e1000 and their dependencies, the
# given packages installed with dpkg -i, a hostname, /dev/vda as root, no getty on the console (it belongs to the
# driver), the driver script and its unit enabled, extra files, and writes it as a 2 GiB ext4 image (mkfs.ext4 -d).
#
#   make-guest-image.sh --moddir DIR --rootfs DIR --hostname NAME --driver SCRIPT --unit UNIT
#                       [--deb FILE]… [--install SRC=DEST]… OUT_IMAGE
#
# SCRIPT goes to /usr/local/sbin/, UNIT to /etc/systemd/system/ and is wanted by multi-user.target; --install
# copies SRC to DEST in the guest (mode 0755 when SRC is executable, else 0644). Root only (chroot).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moddir="" rootfs="" hostname="" driver="" unit="" out=""
debs=() installs=()

usage() { echo "usage: $0 --moddir DIR --rootfs DIR --hostname NAME --driver SCRIPT --unit UNIT [--deb FILE]… [--install SRC=DEST]… OUT_IMAGE" >&2; exit 2; }
while (($#)); do
        case $1 in
        --moddir) moddir=$2; shift 2 ;;
        --rootfs) rootfs=$2; shift 2 ;;
        --hostname) hostname=$2; shift 2 ;;
        --driver) driver=$2; shift 2 ;;
        --unit) unit=$2; shift 2 ;;
        --deb) debs+=("$2"); shift 2 ;;
        --install) installs+=("$2"); shift 2 ;;
        -*) echo "make-guest-image.sh: unknown option $1" >&2; usage ;;
        *) [[ -z $out ]] || usage; out=$1; shift ;;
        esac
done
[[ -n $moddir && -n $rootfs && -n $hostname && -n $driver && -n $unit && -n $out ]] || usage
[[ -d $moddir ]] || { echo "make-guest-image.sh: --moddir $moddir: no such folder" >&2; exit 1; }
[[ -d $rootfs ]] || { echo "make-guest-image.sh: --rootfs $rootfs: no such folder" >&2; exit 1; }
for f in "$driver" "$unit" "${debs[@]}"; do
        [[ -r $f ]] || { echo "make-guest-image.sh: $f: not readable" >&2; exit 1; }
done

kver=${moddir%/}
kver=${kver##*/}
root=$(mktemp -d "${TMPDIR:-/var/tmp}/dma-ownerd-guest-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
rmdir "$root"

cp -a "$rootfs" "$root"
rm -f "$root/.complete"
mkdir -p "$root/lib/modules/$kver"
cp "$moddir"/modules.builtin "$moddir"/modules.order "$root/lib/modules/$kver/"
[[ -e $moddir/modules.builtin.modinfo ]] && cp "$moddir/modules.builtin.modinfo" "$root/lib/modules/$kver/"
for m in $("$here/module-closure.py" "$moddir" vfio-pci vfio_iommu_type1 e1000 crc32c_generic); do
        install -D -m 0644 "$moddir/$m" "$root/lib/modules/$kver/$m"
done
chroot "$root" depmod -a "$kver"

if ((${#debs[@]})); then
        in_guest=()
        for deb in "${debs[@]}"; do
                cp "$deb" "$root/tmp/"
                in_guest+=("/tmp/${deb##*/}")
        done
        if ! log=$(chroot "$root" dpkg -i "${in_guest[@]}" 2>&1); then
                echo "$log" >&2
                echo "make-guest-image.sh: dpkg -i failed in the guest root" >&2
                exit 1
        fi
        rm -f "${in_guest[@]/#/$root}"
fi

echo "$hostname" >"$root/etc/hostname"
echo "/dev/vda / ext4 rw,errors=remount-ro 0 0" >"$root/etc/fstab"
mkdir -p "$root/var/log/journal"
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
install -m 0755 "$driver" "$root/usr/local/sbin/${driver##*/}"
install -m 0644 "$unit" "$root/etc/systemd/system/"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf "../${unit##*/}" "$root/etc/systemd/system/multi-user.target.wants/"
for pair in "${installs[@]}"; do
        src=${pair%%=*} dest=${pair#*=}
        [[ -n $src && -n $dest && $dest == /* && $src != "$pair" ]] ||
                { echo "make-guest-image.sh: --install $pair: expected SRC=/absolute/destination" >&2; exit 1; }
        mode=0644
        [[ -x $src ]] && mode=0755
        install -D -m "$mode" "$src" "$root$dest"
done

truncate -s 2G "$out"
mkfs.ext4 -q -F -L dmao-root -d "$root" "$out"
