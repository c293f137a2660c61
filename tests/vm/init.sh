#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# /init of the vm suite's guest: mount the API file systems, load the vfio and NIC modules, start the system bus,
# run the scenarios named by dmao.scenarios=a,b,… on the kernel command line (scenarios.sh), power off. Everything
# the host checks comes over the serial console as "@@…" lines.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

echo "@@BOOTED $(uname -r)"

scenarios=
for word in $(cat /proc/cmdline); do
        case $word in
        dmao.scenarios=*) scenarios=${word#dmao.scenarios=} ;;
        esac
done

mkdir -p /run/dbus
dbus-daemon --config-file=/etc/dbus-1/system.conf --fork --nopidfile || echo "@@ERROR dbus-daemon did not start"

/usr/bin/scenarios.sh $(echo "$scenarios" | tr , ' ')

echo "@@DONE"
sync
poweroff -f
