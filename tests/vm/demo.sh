#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# demo.sh: dma-ownerd on a real kernel in a couple of minutes. Installs what it needs (build dependencies, qemu,
# busybox-static), builds the daemon and dma-ownerctl in build-demo/, boots Debian 12's 6.1 kernel in qemu with an
# emulated Intel IOMMU and narrates, from inside the guest: the IOMMU groups and their owners, an assignment, a
# refused bind, an enforced violation and the audit records. As root (apt-get, the kernel cache in
# ${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/build-demo"

if [[ $(id -u) -ne 0 ]]; then
        echo "demo: run me as root (sudo bash tests/vm/demo.sh): I install packages and boot a guest" >&2
        exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
bash "$repo/tests/run-tests.sh" --deps-only
need=()
for p in qemu-system-x86 busybox-static cpio dbus-daemon systemd xz-utils gcc libc6-dev; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

step "build ($build)"
if [[ -f $build/build.ninja ]]; then
        meson setup --reconfigure "$build" "$repo" >/dev/null
else
        meson setup "$build" "$repo" >/dev/null
fi
ninja -C "$build" daemon/dma-ownerd ctl/dma-ownerctl >/dev/null

step "kernel: Debian 12's 6.1 ($("$here/fetch-kernel.sh" 6.1 | tail -1))"

step "booting the guest (qemu, TCG: about 20 s)"
DMA_OWNERD_BUILD_DIR="$build" DMA_OWNERD_VM_NARRATE=1 "$here/run-vm.sh" 6.1 demo
