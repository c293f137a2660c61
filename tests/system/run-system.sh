#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The system suite: dma-ownerd's Debian package on a Debian 12 guest with systemd, udevd, the system bus and polkit,
# booted on Debian's 6.1 kernel in qemu (q35, TCG, an emulated Intel IOMMU) with a pcie-pci-bridge holding two e1000
# in one IOMMU group. Inside, guest/dma-ownerd-acceptance runs the steps of issue 5 as an administrator would and
# reports each on the serial console; this script checks the reports.
#
#   run-system.sh [--deb FILE]     (root; exit 77 = skipped when not root)
#
# Work: builds the .deb (packaging/build-deb.sh, unless --deb or $DMA_OWNERD_DEB names one), takes the cached
# minbase root (build-rootfs.sh), a fresh copy of it per run with the kernel's needed modules and the .deb installed
# (dpkg -i in a chroot), makes an ext4 image of it (mkfs.ext4 -d), a busybox initramfs that mounts it, and boots.
# Cache: ${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}. $DMA_OWNERD_SYSTEM_KEEP=1 keeps the work folder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
deb=${DMA_OWNERD_DEB:-}
if [[ ${1:-} == --deb ]]; then
        deb=$2
fi

if [[ $(id -u) -ne 0 ]]; then
        echo "system suite: needs root (debootstrap, chroot, mkfs); skipped"
        exit 77
fi

log() { printf '[system %(%T)T] %s\n' -1 "$*"; }

# Host tools: install what is missing (Debian package names).
host_packages=(debootstrap qemu-system-x86 busybox-static cpio e2fsprogs dpkg-dev debhelper meson ninja-build
               pkg-config scdoc libsystemd-dev libudev-dev libyaml-dev libnl-3-dev libnl-route-3-dev libcmocka-dev)
missing=()
for p in "${host_packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /var/tmp/dma-ownerd-system.XXXXXX)
cleanup() {
        if [[ ${DMA_OWNERD_SYSTEM_KEEP:-} == 1 ]]; then
                log "work folder kept: $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT

# The package.
if [[ -z $deb ]]; then
        log "building the .deb"
        deb=$("$here/build-guest-deb.sh" "$work/deb") || { echo "system suite: no package"; exit 1; }
fi
log "package: $deb"

# The kernel: tests/vm's fetcher when it is there, else our own.
fetch="$repo/tests/vm/fetch-kernel.sh" # the same cached kernels as the vm suite
kdir=$("$fetch" 6.1 | tail -1)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver"
log "kernel: $vmlinuz ($fetch)"

rootfs=$("$here/build-rootfs.sh")
log "root file system: $rootfs"

# The boot disk: a fresh copy of the root with the modules the guest needs, the package and the acceptance driver.
image="$work/root.img"
"$here/make-guest-image.sh" --moddir "$moddir" --rootfs "$rootfs" --hostname dmao-guest \
        --driver "$here/guest/dma-ownerd-acceptance" --unit "$here/guest/dma-ownerd-acceptance.service" \
        --deb "$deb" "$image"

# The initramfs: busybox, the modules for virtio-blk and ext4, an /init that mounts /dev/vda and switches to it.
"$here/build-boot-initramfs.sh" "$moddir" "$work/initramfs.img"

# Boot. The guest reboots once by itself (step 5) and powers off at the end; qemu then exits.
console="$work/console.log"
log "booting (console: $console)"
start=$(date +%s)
set +e
"$here/boot-guest.sh" --kernel "$vmlinuz" --initrd "$work/initramfs.img" --image "$image" --console "$console" \
        --timeout "${DMA_OWNERD_SYSTEM_TIMEOUT:-600}" --log "$work/qemu.log"
qemu_rc=$?
set -e
log "qemu exited with $qemu_rc after $(( $(date +%s) - start )) s"

# Evidence first, then the verdict.
tr -d '\r' <"$console" >"$work/console.txt"
sed -n '/^DMAO-/p;/^| /p' "$work/console.txt"

failed=0
for step in 1 2 3 4 5 6 7 8 9; do
        if grep -q "^DMAO-ACCEPTANCE step=$step PASS" "$work/console.txt"; then
                :
        elif grep -q "^DMAO-ACCEPTANCE step=$step FAIL" "$work/console.txt"; then
                failed=1
        else
                echo "step $step: no report"
                failed=1
        fi
done
grep -q '^DMAO-ACCEPTANCE done' "$work/console.txt" || { echo "the acceptance driver did not finish"; failed=1; }
if [[ $qemu_rc -ne 0 ]]; then
        echo "qemu: exit $qemu_rc"
        cat "$work/qemu.log"
        failed=1
fi
if [[ $failed -ne 0 ]]; then
        echo "---- console (last 120 lines) ----"
        tail -120 "$work/console.txt"
        echo "system suite: FAILED"
        exit 1
fi
echo "system suite: all 9 steps passed"
