#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# build-boot-initramfs.sh MODDIR OUT: the small initramfs that boots the Debian 12 guests of the system suite and of
# bench/vm-bench.sh: busybox, the modules for virtio-blk and ext4 (from MODDIR, the kernel's lib/modules/VERSION),
# and an /init that mounts /dev/vda and switches to it.
set -eu
moddir=$1
out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ird=$(mktemp -d)
trap 'rm -rf "$ird"' EXIT
mkdir -p "$ird/bin" "$ird/modules"
cp /bin/busybox "$ird/bin/busybox"
: >"$ird/modules.list"
for m in $("$here/module-closure.py" "$moddir" virtio_pci virtio_blk crc32c_generic ext4); do
        cp "$moddir/$m" "$ird/modules/"
        echo "/modules/${m##*/}" >>"$ird/modules.list"
done
cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do
        insmod "$m" || echo "initramfs: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
        echo "initramfs: cannot mount /dev/vda"
        echo o >/proc/sysrq-trigger
fi
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
