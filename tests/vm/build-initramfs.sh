#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# build-initramfs.sh KERNEL_DIR OUT BUILD_DIR: the vm suite's guest, a busybox-static initramfs written to OUT
# (gzip'd newc cpio). It carries:
#   - busybox (static), the built dma-ownerd and dma-ownerctl from BUILD_DIR, dbus-daemon and busctl, all with
#     their shared libraries (ldd) and a minimal system bus configuration plus units/org.dmaownerd1.conf;
#   - the kernel's vfio, NIC and stub modules with their dependencies (6.12's .ko.xz are decompressed once, in the
#     cache), and per module the insmod order in /etc/modules/NAME;
#   - vfio-claim (tests/vm/vfio-claim.c, built static here), the scenario script and /init (tests/vm/init.sh),
#     which runs the scenarios named on the kernel command line (dmao.scenarios=a,b,…).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
kdir=${1:?usage: build-initramfs.sh KERNEL_DIR OUT BUILD_DIR}
out=${2:?usage: build-initramfs.sh KERNEL_DIR OUT BUILD_DIR}
build=${3:?usage: build-initramfs.sh KERNEL_DIR OUT BUILD_DIR}

vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver"

for f in "$build/daemon/dma-ownerd" "$build/ctl/dma-ownerctl"; do
        [[ -x $f ]] || { echo "build-initramfs: $f not built" >&2; exit 1; }
done

# Compressed modules (6.12): decompress the whole tree once, next to the .ko.xz, so module-closure.py can read the
# .ko files' dependencies. The marker makes it a one-time cost per cached kernel.
if [[ ! -e $moddir/.ko-decompressed ]] && [[ -n $(find "$moddir/kernel" -name '*.ko.xz' -print -quit) ]]; then
        find "$moddir/kernel" -name '*.ko.xz' -print0 | xargs -0 -n 64 -P "$(nproc)" xz -dkqf
        touch "$moddir/.ko-decompressed"
fi

root=$(mktemp -d /var/tmp/dma-ownerd-initramfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,run,tmp,root} \
         "$root"/{etc/modules,etc/dbus-1,usr/share/dbus-1/system.d} \
         "$root"/{etc/dma-ownerd/policy.d,usr/lib/dma-ownerd/policy.d}

# A binary and the shared objects it loads, at the same paths as on the host.
copy_with_libs() {
        local bin=$1 dest=$2 lib
        install -D -m 0755 "$bin" "$root$dest"
        for lib in $(ldd "$bin" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
                [[ -e $root$lib ]] || install -D -m 0755 "$lib" "$root$lib"
        done
}

install -m 0755 "$(command -v busybox)" "$root/bin/busybox"
if ldd "$root/bin/busybox" >/dev/null 2>&1; then
        echo "build-initramfs: busybox is not static (install busybox-static)" >&2
        exit 1
fi
copy_with_libs "$build/daemon/dma-ownerd" /usr/sbin/dma-ownerd
copy_with_libs "$build/ctl/dma-ownerctl" /usr/bin/dma-ownerctl
copy_with_libs "$(command -v dbus-daemon)" /usr/bin/dbus-daemon
copy_with_libs "$(command -v busctl)" /usr/bin/busctl
# The dynamic loader at its canonical path too (ldd names it as /lib64/…).
loader=/lib64/ld-linux-x86-64.so.2
[[ -e $root$loader ]] || install -D -m 0755 "$loader" "$root$loader"

gcc -static -O2 -Wall -Wextra -Werror -o "$root/usr/bin/vfio-claim" "$here/vfio-claim.c"

# The system bus: root only, no activation, the daemon's own policy file.
cat >"$root/etc/dbus-1/system.conf" <<'CONF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
</busconfig>
CONF
install -m 0644 "$repo/units/org.dmaownerd1.conf" "$root/usr/share/dbus-1/system.d/"
printf 'root:x:0:0:root:/root:/bin/sh\nmessagebus:x:100:101::/run/dbus:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nmessagebus:x:101:\n' >"$root/etc/group"
echo 0123456789abcdef0123456789abcdef >"$root/etc/machine-id"

# Modules: each wanted name with its closure, in insmod order. shpchp is optional (built in on some kernels).
cp "$moddir/modules.builtin" "$root/lib/modules/" 2>/dev/null || true
for name in vfio vfio_iommu_type1 vfio-pci irqbypass e1000 e1000e pci-stub shpchp; do
        if grep -qE "/${name//-/[-_]}\.ko" "$moddir/modules.builtin"; then
                : >"$root/etc/modules/$name" # built in: nothing to load
                continue
        fi
        if ! list=$("$here/../system/module-closure.py" "$moddir" "$name" 2>/dev/null); then
                [[ $name == shpchp ]] && continue
                echo "build-initramfs: no module $name in $moddir" >&2
                exit 1
        fi
        : >"$root/etc/modules/$name"
        for m in $list; do
                [[ -e $root/lib/modules/${m##*/} ]] || install -m 0644 "$moddir/$m" "$root/lib/modules/${m##*/}"
                echo "/lib/modules/${m##*/}" >>"$root/etc/modules/$name"
        done
done

install -m 0755 "$here/init.sh" "$root/init"
install -m 0755 "$here/scenarios.sh" "$root/usr/bin/scenarios.sh"
echo "$kver" >"$root/etc/kernel-release"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
