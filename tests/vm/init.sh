#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# /init of the vm suite's guest: mount the API file systems, load the vfio and NIC modules, start the system bus,
# run the scenarios named by dmao.scenarios=a,b,… on the kernel command line (scenarios.sh), power off. Everything
# the host checks comes over the serial console as "@@…" lines.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER=cat PAGER=cat SYSTEMD_COLORS=0 TERM=dumb
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
        dmao.trace=1) export DMAO_TRACE=1 ;; # scenarios.sh under set -x
        esac
done

mkdir -p /run/dbus
dbus-daemon --config-file=/etc/dbus-1/system.conf --nofork --nopidfile 2>/tmp/dbus.log &
i=0
while [ ! -S /run/dbus/system_bus_socket ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
done

/usr/bin/scenarios.sh $(echo "$scenarios" | tr , ' ')

echo "@@DONE"
sync
poweroff -f
