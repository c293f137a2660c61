#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The vm suite's scenarios, run inside the guest (busybox sh) by /init: scenarios.sh NAME…
#
# Topology (tests/vm/run-vm.sh): a root port with a pcie-pci-bridge and two e1000 behind it (one IOMMU group with
# the bridge: E1000_A, E1000_B), a root port with one e1000e (its own group), two empty root ports hp1 (00:06.0)
# and hp2 (00:07.0) for hot-add, and a multifunction device (two pci-testdev functions, one group) on rp3. Each scenario prints "@@RESULT NAME PASS|FAIL detail", measured windows as
# "@@WINDOW NAME USEC", and asks the host for a hot-add with "@@HOTADD SLOT". Each starts from the host state
# (every NIC on its host driver, no daemon) and returns to it.

[ -n "${DMAO_TRACE:-}" ] && set -x

PCI=/sys/bus/pci
DAEMON_LOG=/tmp/daemon.log
DAEMON_PID=

say() { echo "@@ $*"; }
result() { echo "@@RESULT $1 $2 $3"; }
window() { echo "@@WINDOW $1 $2"; }

# wait_until TENTHS COMMAND…: poll every 0.1 s.
wait_until() {
        local n=$1
        shift
        while [ "$n" -gt 0 ]; do
                "$@" && return 0
                sleep 0.1
                n=$((n - 1))
        done
        "$@"
}

modload() {
        local m
        for m in $(cat "/etc/modules/$1"); do
                [ -d "/sys/module/$(basename "$m" .ko | tr - _)" ] || insmod "$m" || say "insmod $m failed"
        done
}

driver_of() {
        if [ -e "$PCI/devices/$1/driver" ]; then
                basename "$(readlink "$PCI/devices/$1/driver")"
        else
                echo -
        fi
}
override_of() { cat "$PCI/devices/$1/driver_override"; }
group_of() { basename "$(readlink "$PCI/devices/$1/iommu_group")"; }
is_driver() { [ "$(driver_of "$1")" = "$2" ]; }

# sysfs writes, reporting the kernel's refusal as the errno text ("ok" on success).
write_sysfs() {
        local out
        if out=$( (echo "$2" >"$1") 2>&1); then
                echo ok
        else
                echo "${out##*: }"
        fi
}

find_devices() {
        local d
        E1000=
        E1000E=
        BRIDGE=
        for d in "$PCI"/devices/*; do
                case "$(cat "$d/vendor"):$(cat "$d/device")" in
                0x8086:0x100e) E1000="$E1000 ${d##*/}" ;;
                0x8086:0x10d3) E1000E=${d##*/} ;;
                0x1b36:0x000e) BRIDGE=${d##*/} ;;
                esac
        done
        set -- $E1000
        E1000_A=$1
        E1000_B=$2
        GROUP=$(group_of "$E1000_A")
        GROUP_E=$(group_of "$E1000E")
}

# Bring a device back to its host driver: no override, bound to HOST.
to_host() {
        local addr=$1 host=$2 drv
        echo >"$PCI/devices/$addr/driver_override"
        drv=$(driver_of "$addr")
        if [ "$drv" != "$host" ]; then
                [ "$drv" != - ] && echo "$addr" >"$PCI/devices/$addr/driver/unbind"
                echo "$addr" >"$PCI/drivers_probe" 2>/dev/null
        fi
}

host_state() {
        local a
        for a in $E1000_A $E1000_B; do
                to_host "$a" e1000
        done
        to_host "$E1000E" e1000e
        echo >"$PCI/devices/$BRIDGE/driver_override"
}

# The kernel's view of what the scenarios touch: driver and override of every device.
snapshot() {
        local d
        for d in "$PCI"/devices/*; do
                echo "${d##*/} $(driver_of "${d##*/}") $(cat "$d/driver_override")"
        done
}

daemon_ready() { timeout 10 dma-ownerctl list >/dev/null 2>&1; }

# start_daemon < POLICY: the daemon as the guest's only service, its records on $DAEMON_LOG. Not in a pipeline:
# it must run in this shell, which keeps DAEMON_PID.
start_daemon() {
        cat >/etc/dma-ownerd/policy.yaml
        rm -rf /run/dma-ownerd
        : >"$DAEMON_LOG"
        # Explicit paths: the build's default ones follow its prefix (/usr/local/etc/… for a plain meson setup).
        dma-ownerd --event-source=kernel --log-target=stderr --policy=/etc/dma-ownerd/policy.yaml \
                --policy-dir=/etc/dma-ownerd/policy.d --vendor-policy-dir=/usr/lib/dma-ownerd/policy.d \
                --runtime-dir=/run/dma-ownerd 2>>"$DAEMON_LOG" &
        DAEMON_PID=$!
        if ! wait_until 300 daemon_ready; then
                say "the daemon did not come up"
                cat "$DAEMON_LOG"
                return 1
        fi
}

stop_daemon() {
        [ -n "$DAEMON_PID" ] || return 0
        kill -TERM "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
        rm -rf /run/dma-ownerd
}

# Group JSON from the daemon (over D-Bus).
group_json() { dma-ownerctl --json show "$1" 2>&1; }
owner_is() { group_json "$1" | grep -q "\"Owner\":\"$2\""; }

# The owner the kernel state implies: user when a process holds /dev/vfio/N, kernel when a member is on a driver
# that does not manage its own DMA, else none.
expected_owner() {
        local g=$1 d drv owner=none fd
        for d in /sys/kernel/iommu_groups/"$g"/devices/*; do
                drv=$(driver_of "${d##*/}")
                case $drv in
                - | vfio-pci | pci-stub | pcieport) ;;
                *) owner=kernel ;;
                esac
        done
        for fd in /proc/[0-9]*/fd/*; do
                if [ "$(readlink "$fd" 2>/dev/null)" = "/dev/vfio/$g" ]; then
                        owner=user
                        break
                fi
        done
        echo $owner
}

window_of() {
        # "… bind 0000:01:01.0: 3 write(s) done 1234 usec after the uevent arrived"
        grep "$1 $2: [0-9]* write(s) done" "$DAEMON_LOG" | tail -1 | sed 's/.* done \([0-9]*\) usec after.*/\1/'
}

# last_window ADDR: "EVENT USEC" of the last uevent of ADDR that made the daemon write.
last_window() {
        grep " $1: [0-9]* write(s) done" "$DAEMON_LOG" | tail -1 |
                sed 's/.*: \([a-z]*\) [0-9a-f:.]*: [0-9]* write(s) done \([0-9]*\) usec after.*/\1 \2/'
}

fail_with_log() {
        result "$1" FAIL "$2"
        echo "---- daemon log ($1) ----"
        tail -40 "$DAEMON_LOG"
        echo "---- kernel state ----"
        snapshot
        echo "----"
}

# ---- setup: modules, device discovery ----
setup() {
        local m
        for m in vfio vfio_iommu_type1 vfio-pci pci-stub shpchp e1000 e1000e; do
                [ -e "/etc/modules/$m" ] && modload "$m"
        done
        find_devices
        say "bridge=$BRIDGE e1000=$E1000_A,$E1000_B group=$GROUP e1000e=$E1000E group_e=$GROUP_E"
        say "bridge driver: $(driver_of "$BRIDGE")"
        wait_until 50 is_driver "$E1000_B" e1000
        ls /sys/kernel/iommu_groups/"$GROUP"/devices
}

# ---- 1: the model over D-Bus equals /sys ----
s1() {
        local d g a
        start_daemon </dev/null || { result s1 FAIL "daemon did not start"; return; }
        {
                for g in /sys/kernel/iommu_groups/*; do
                        echo "G ${g##*/} $(expected_owner "${g##*/}")"
                        for d in "$g"/devices/*; do
                                echo "D ${g##*/} ${d##*/} $(driver_of "${d##*/}")"
                        done
                done
        } | sort >/tmp/s1.sys
        dma-ownerctl list | awk '
                /^group / { g = $2; print "G", g, $4; next }
                /^    [0-9a-f][0-9a-f][0-9a-f][0-9a-f]:/ { print "D", g, $1, $4 }' | sort >/tmp/s1.model
        local n_sys n_model
        n_sys=$(ls "$PCI/devices" | wc -l)
        n_model=$(grep -c '^D ' /tmp/s1.model)
        # The multifunction device (two pci-testdev functions without ACS) must be one group, in /sys and in the model.
        local mf_groups
        mf_groups=$(for d in "$PCI"/devices/*; do
                [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1b36:0x0005 ] && group_of "${d##*/}"
        done | sort | uniq -c | awk '{ print $1 "x" $2 }')
        if [ "$n_model" -gt 0 ] && [ "$n_sys" -eq "$n_model" ] && cmp -s /tmp/s1.sys /tmp/s1.model &&
           [ "${mf_groups%%x*}" = 2 ]; then
                result s1 PASS "$n_model devices in $(grep -c '^G ' /tmp/s1.model) groups, drivers and owners equal; multifunction: 2 functions in group ${mf_groups#*x}"
        else
                diff /tmp/s1.sys /tmp/s1.model
                fail_with_log s1 "model differs from /sys ($n_model of $n_sys devices)"
        fi
        stop_daemon
}

# ---- 3: a claimed group: Owner user, the kernel refuses a host driver, pci-stub binds ----
s3() {
        local a=$E1000_A b=$E1000_B r1 r2 r3 pid
        start_daemon </dev/null || { result s3 FAIL "daemon did not start"; return; }
        # A to vfio-pci, B driverless: what a VMM's launcher does before opening the group.
        echo vfio-pci >"$PCI/devices/$a/driver_override"
        echo "$a" >"$PCI/devices/$a/driver/unbind"
        echo "$a" >"$PCI/drivers_probe"
        echo "$b" >"$PCI/devices/$b/driver/unbind"
        if ! wait_until 50 is_driver "$a" vfio-pci; then
                fail_with_log s3 "$a did not bind vfio-pci"
                stop_daemon
                return
        fi
        vfio-claim "$GROUP" >/tmp/claim.out 2>&1 &
        pid=$!
        if ! wait_until 100 grep -q claimed /tmp/claim.out; then
                fail_with_log s3 "vfio-claim: $(cat /tmp/claim.out)"
                kill "$pid"
                stop_daemon
                return
        fi
        if ! wait_until 50 owner_is "$GROUP" user || ! group_json "$GROUP" | grep -q "\"Pid\":$pid,"; then
                group_json "$GROUP"
                fail_with_log s3 "Owner is not user with holder $pid"
                kill "$pid"
                stop_daemon
                return
        fi
        # The daemon's pin refuses first; without it, the kernel's DMA ownership does (EBUSY).
        r1=$(write_sysfs "$PCI/drivers/e1000/bind" "$b")
        echo >"$PCI/devices/$b/driver_override"
        r2=$(write_sysfs "$PCI/drivers/e1000/bind" "$b")
        sleep 0.5
        local after_bind
        after_bind=$(driver_of "$b")
        local model_ok=no
        group_json "$GROUP" | grep -q "\"Address\":\"$b\",[^}]*\"Driver\":\"\"" && owner_is "$GROUP" user &&
                model_ok=yes
        echo pci-stub >"$PCI/devices/$b/driver_override"
        r3=$(write_sysfs "$PCI/drivers/pci-stub/bind" "$b")
        kill "$pid"
        wait "$pid" 2>/dev/null
        local expected
        expected=$(expected_owner "$GROUP")
        local owner_back=no
        wait_until 50 owner_is "$GROUP" "$expected" && owner_back=yes
        local detail="pinned-bind=$r1 unpinned-bind=$r2 driver-after=$after_bind model-true=$model_ok pci-stub=$r3"
        detail="$detail owner-after-exit=$expected:$owner_back"
        if [ "$r1" != ok ] && [ "$r2" = "Device or resource busy" ] && [ "$after_bind" = - ] && [ $model_ok = yes ] &&
           [ "$r3" = ok ] && is_driver "$b" pci-stub && [ "$expected" != user ] && [ $owner_back = yes ]; then
                result s3 PASS "holder $pid; $detail"
        else
                group_json "$GROUP"
                fail_with_log s3 "$detail"
        fi
        stop_daemon
        host_state
}

reserve_group_policy() {
        cat <<POLICY
mode: $1
reservations:
  - name: bridge-nics
    match:
      address: "$E1000_A"
POLICY
}

# ---- 4: a host driver bound by hand into a reserved group: audit records, enforce undoes it ----
s4() {
        local a=$E1000_A w detail
        # Audit: the group stays on e1000; the violation is only recorded.
        reserve_group_policy audit >/tmp/policy.yaml
        start_daemon </tmp/policy.yaml || { result s4 FAIL "daemon did not start"; return; }
        echo "$a" >"$PCI/drivers/e1000/unbind"
        echo "$a" >"$PCI/drivers/e1000/bind"
        sleep 1
        local audit_ok=no
        if is_driver "$a" e1000 && [ "$(override_of "$a")" = "(null)" ] &&
           grep "KIND=violation" "$DAEMON_LOG" | grep "DEVICE=$a" | grep -q "DRY_RUN=1" &&
           ! grep -q "KIND=action" "$DAEMON_LOG"; then
                audit_ok=yes
        fi
        stop_daemon
        # Enforce: at start the whole group goes to vfio-pci.
        reserve_group_policy enforce >/tmp/policy.yaml
        start_daemon </tmp/policy.yaml || { result s4 FAIL "daemon did not start"; return; }
        if ! wait_until 50 is_driver "$a" vfio-pci || ! wait_until 50 is_driver "$E1000_B" vfio-pci; then
                fail_with_log s4 "the reserved group did not go to vfio-pci at start"
                stop_daemon
                host_state
                return
        fi
        # Off vfio-pci (the override stays, so the daemon lets it be), then the hand bind: clear the override and
        # bind e1000. Clearing an override sends no uevent: the bind is the first thing the daemon hears.
        echo "$a" >"$PCI/drivers/vfio-pci/unbind"
        sleep 1
        : >"$DAEMON_LOG.mark"
        echo >"$PCI/devices/$a/driver_override"
        local r
        r=$(write_sysfs "$PCI/drivers/e1000/bind" "$a")
        wait_until 50 is_driver "$a" vfio-pci
        sleep 0.5
        w=$(window_of bind "$a")
        detail="audit-recorded-only=$audit_ok hand-bind=$r driver-now=$(driver_of "$a") override=$(override_of "$a")"
        if [ $audit_ok = yes ] && [ "$r" = ok ] && is_driver "$a" vfio-pci && [ -n "$w" ] &&
           grep "KIND=violation" "$DAEMON_LOG" | grep "DEVICE=$a" | grep -q "DRIVER=e1000"; then
                window s4-violation "$w"
                result s4 PASS "$detail window=${w}us"
        else
                fail_with_log s4 "$detail window=$w"
        fi
        stop_daemon
        host_state
}

# ---- 2: AssignGroup / ReleaseGroup through dma-ownerctl ----
s2() {
        local out rel bridge_drv
        start_daemon </dev/null || { result s2 FAIL "daemon did not start"; return; }
        out=$(dma-ownerctl assign "$E1000_A" 2>&1)
        local rc=$?
        echo "$out"
        wait_until 50 is_driver "$E1000_B" vfio-pci
        bridge_drv=$(driver_of "$BRIDGE")
        local assigned=no
        is_driver "$E1000_A" vfio-pci && is_driver "$E1000_B" vfio-pci && assigned=yes
        case $bridge_drv in - | pcieport) bridge_ok=yes ;; *) bridge_ok=no ;; esac
        rel=$(dma-ownerctl release "$E1000_A" 2>&1)
        local rc2=$?
        echo "$rel"
        wait_until 50 is_driver "$E1000_B" e1000
        local released=no
        is_driver "$E1000_A" e1000 && is_driver "$E1000_B" e1000 &&
                [ "$(override_of "$E1000_A")" = "(null)" ] && [ "$(override_of "$E1000_B")" = "(null)" ] && released=yes
        local detail="assign-rc=$rc assigned=$assigned bridge=$bridge_drv release-rc=$rc2 released=$released"
        if [ $rc = 0 ] && [ $assigned = yes ] && [ $bridge_ok = yes ] && [ $rc2 = 0 ] && [ $released = yes ]; then
                result s2 PASS "$detail"
        else
                fail_with_log s2 "$detail"
        fi
        stop_daemon
        host_state
}

# ---- 6: a broken policy on reload keeps the old one; the kernel is untouched ----
s6() {
        local before after rc
        start_daemon <<POLICY || { result s6 FAIL "daemon did not start"; return; }
mode: enforce
reservations:
  - name: the-e1000e
    match:
      address: "$E1000E"
POLICY
        wait_until 50 is_driver "$E1000E" vfio-pci
        before=$(snapshot)
        printf 'mode: enforce\nreservations:\n  - name: broken\n    match:\n      adress: "0000:*"\n' \
                >/etc/dma-ownerd/policy.yaml
        dma-ownerctl reload
        rc=$?
        kill -HUP "$DAEMON_PID"
        sleep 1
        after=$(snapshot)
        local kept=no
        grep "KIND=policy-rejected" "$DAEMON_LOG" | grep -q "KEPT_PREVIOUS=1" &&
                group_json "$GROUP_E" | grep -q '"Reserved":true' && kept=yes
        local errors
        errors=$(grep -c "KIND=policy-error" "$DAEMON_LOG")
        local detail="reload-rc=$rc kept-previous=$kept policy-errors=$errors e1000e=$(driver_of "$E1000E")"
        if [ $rc != 0 ] && [ $kept = yes ] && [ "$errors" -ge 2 ] && [ "$before" = "$after" ] &&
           is_driver "$E1000E" vfio-pci; then
                result s6 PASS "$detail kernel-state=unchanged"
        else
                echo "$before" >/tmp/s6.before
                echo "$after" >/tmp/s6.after
                diff /tmp/s6.before /tmp/s6.after
                fail_with_log s6 "$detail"
        fi
        stop_daemon
        host_state
}

# Hot-add one e1000 into SLOT (a root port whose secondary bus is known), wait for it.
hot_add() {
        local slot=$1 addr=$2
        echo "@@HOTADD $slot"
        wait_until 200 test -e "$PCI/devices/$addr"
}

secondary_bus_of() { basename "$(ls -d "$PCI/devices/$1"/pci_bus/* | head -1)"; }

# ---- 5: a reserved device hot-added, with its host driver's module loaded and not loaded ----
s5() {
        local bus1 bus2 addr1 addr2 w1 w2
        bus1=$(secondary_bus_of 0000:00:06.0)
        bus2=$(secondary_bus_of 0000:00:07.0)
        addr1=$bus1:00.0
        addr2=$bus2:00.0
        start_daemon <<POLICY || { result s5 FAIL "daemon did not start"; return; }
reservations:
  - name: hot-slot-1
    match:
      address: "$addr1"
  - name: hot-slot-2
    match:
      address: "$addr2"
POLICY
        # Not loaded: nothing can probe before the daemon's override.
        rmmod e1000
        hot_add hp1 "$addr1" || { fail_with_log s5 "$addr1 did not appear"; stop_daemon; return; }
        wait_until 50 is_driver "$addr1" vfio-pci
        sleep 0.5
        w1=$(last_window "$addr1")
        local r1
        r1=$(driver_of "$addr1")
        # Loaded: e1000 binds as soon as the device is added; the daemon undoes it.
        modload e1000
        hot_add hp2 "$addr2" || { fail_with_log s5 "$addr2 did not appear"; stop_daemon; return; }
        wait_until 50 is_driver "$addr2" vfio-pci
        sleep 0.5
        w2=$(last_window "$addr2")
        local r2
        r2=$(driver_of "$addr2")
        # The window is counted from the uevent whose handling wrote: "add" when the daemon saw the device before
        # any driver, "bind" when e1000 won the race and had to be unbound.
        local detail="not-loaded: $addr1 on $r1 after ${w1% *} ${w1#* }us;"
        detail="$detail loaded: $addr2 on $r2 after ${w2% *} ${w2#* }us"
        if [ "$r1" = vfio-pci ] && [ "$r2" = vfio-pci ] && [ -n "$w1" ] && [ -n "$w2" ]; then
                # No host driver could probe before the override: no violation, a host-driver window of zero.
                grep "KIND=violation" "$DAEMON_LOG" | grep -q "DEVICE=$addr1" ||
                        window s5-hotadd-not-loaded-host-driver 0
                window s5-hotadd-not-loaded "${w1#* }"
                window s5-hotadd-loaded "${w2#* }"
                result s5 PASS "$detail"
        else
                fail_with_log s5 "$detail"
        fi
        stop_daemon
}

# ---- 7 (5.10): the vfio BUG without the daemon, and its prevention with it ----
claim_with_a_on_vfio() {
        echo vfio-pci >"$PCI/devices/$E1000_A/driver_override"
        echo "$E1000_A" >"$PCI/devices/$E1000_A/driver/unbind"
        echo "$E1000_A" >"$PCI/drivers_probe"
        echo "$E1000_B" >"$PCI/devices/$E1000_B/driver/unbind"
        wait_until 50 is_driver "$E1000_A" vfio-pci || return 1
}

s7_nodaemon() {
        claim_with_a_on_vfio || { result s7-nodaemon FAIL "$E1000_A did not bind vfio-pci"; return; }
        vfio-claim "$GROUP" >/tmp/claim.out 2>&1 &
        if ! wait_until 100 grep -q claimed /tmp/claim.out; then
                result s7-nodaemon FAIL "vfio-claim: $(cat /tmp/claim.out)"
                return
        fi
        say "binding e1000 to $E1000_B in claimed group $GROUP without the daemon: the kernel should BUG now"
        local r
        r=$(write_sysfs "$PCI/drivers/e1000/bind" "$E1000_B")
        sleep 2
        result s7-nodaemon FAIL "the guest survived the bind (bind=$r, driver=$(driver_of "$E1000_B"))"
}

s7_daemon() {
        start_daemon </dev/null || { result s7-daemon FAIL "daemon did not start"; return; }
        claim_with_a_on_vfio || { fail_with_log s7-daemon "$E1000_A did not bind vfio-pci"; return; }
        local pinned=no w
        wait_until 50 test "$(override_of "$E1000_B")" = vfio-pci && pinned=yes
        sleep 0.5
        w=$(window_of bind "$E1000_A")
        local pid
        vfio-claim "$GROUP" >/tmp/claim.out 2>&1 &
        pid=$!
        if ! wait_until 100 grep -q claimed /tmp/claim.out; then
                fail_with_log s7-daemon "vfio-claim: $(cat /tmp/claim.out)"
                return
        fi
        local r
        r=$(write_sysfs "$PCI/drivers/e1000/bind" "$E1000_B")
        sleep 1
        local detail="pinned=$pinned bind=$r driver=$(driver_of "$E1000_B") pin-window=${w}us"
        if [ $pinned = yes ] && [ "$r" = "No such device" ] && is_driver "$E1000_B" - && [ -n "$w" ]; then
                window s7-pin "$w"
                result s7-daemon PASS "$detail guest-alive=yes"
        else
                fail_with_log s7-daemon "$detail"
        fi
        kill "$pid"
        stop_daemon
}


# ---- the README's demo (tests/vm/demo.sh): a narrated walk-through, "| " lines ----
narrate() { echo "| $*"; }
run() {
        echo "| \$ $*"
        "$@" 2>&1 | sed 's/^/|   /'
}

demo() {
        local ok=yes r pid w
        narrate "dma-ownerd on Linux $(uname -r): qemu q35 with an emulated Intel IOMMU, a PCIe-to-PCI bridge with"
        narrate "two e1000 behind it (one IOMMU group), an e1000e on a root port of its own."
        narrate ""
        narrate "The policy reserves the e1000e for vfio (enforce mode):"
        start_daemon <<POLICY || { result demo FAIL "daemon did not start"; return; }
mode: enforce
reservations:
  - name: the-e1000e
    match:
      address: "$E1000E"
POLICY
        sed 's/^/|   /' /etc/dma-ownerd/policy.yaml
        wait_until 50 is_driver "$E1000E" vfio-pci || ok=no
        narrate ""
        narrate "1. The IOMMU groups, their devices and drivers, and who owns each group's DMA:"
        run dma-ownerctl list
        narrate ""
        narrate "2. Hand the bridge group to user space (AssignGroup over D-Bus):"
        run dma-ownerctl check "$E1000_A"
        run dma-ownerctl assign "$E1000_A"
        is_driver "$E1000_A" vfio-pci && is_driver "$E1000_B" vfio-pci || ok=no
        narrate ""
        narrate "3. A VMM opens the group (VFIO_GROUP_SET_CONTAINER); one NIC is left driverless; root tries to give"
        narrate "   it back to e1000 by hand:"
        vfio-claim "$GROUP" >/tmp/claim.out 2>&1 &
        pid=$!
        wait_until 100 grep -q claimed /tmp/claim.out || ok=no
        echo "$E1000_B" >"$PCI/drivers/vfio-pci/unbind"
        wait_until 50 owner_is "$GROUP" user || ok=no
        run dma-ownerctl show "$GROUP"
        narrate "\$ echo $E1000_B > /sys/bus/pci/drivers/e1000/bind"
        r=$(write_sysfs "$PCI/drivers/e1000/bind" "$E1000_B")
        narrate "   refused: $r (driver_override is pinned to $(override_of "$E1000_B"); without the pin the kernel"
        narrate "   says EBUSY on 5.19+, and BUGs on older kernels)"
        [ "$r" != ok ] && is_driver "$E1000_B" - || ok=no
        kill "$pid"
        wait "$pid" 2>/dev/null
        wait_until 50 owner_is "$GROUP" none
        run dma-ownerctl release "$E1000_A"
        wait_until 50 is_driver "$E1000_B" e1000 || ok=no
        narrate ""
        narrate "4. An enforced violation: bind the reserved e1000e to its host driver by hand:"
        echo "$E1000E" >"$PCI/drivers/vfio-pci/unbind"
        sleep 1
        echo >"$PCI/devices/$E1000E/driver_override"
        r=$(write_sysfs "$PCI/drivers/e1000e/bind" "$E1000E")
        narrate "\$ echo $E1000E > /sys/bus/pci/drivers/e1000e/bind   → $r"
        wait_until 50 is_driver "$E1000E" vfio-pci || ok=no
        sleep 0.5
        w=$(window_of bind "$E1000E")
        narrate "   the daemon unbound e1000e and vfio-pci took the device back, ${w:-?} usec after the bind uevent:"
        narrate "   $E1000E is on $(driver_of "$E1000E") again"
        narrate ""
        narrate "5. The audit records (stderr here; the journal on a systemd machine):"
        grep -E 'KIND=(violation|pin)|DECISION=violation' "$DAEMON_LOG" | sed 's/^/|   /'
        stop_daemon
        host_state
        if [ $ok = yes ]; then
                result demo PASS "walk-through complete"
        else
                fail_with_log demo "a step of the walk-through did not behave"
        fi
}

setup
for s in "$@"; do
        say "scenario $s"
        case $s in
        s1 | s2 | s3 | s4 | s5 | s6) $s ;;
        s7-nodaemon) s7_nodaemon ;;
        s7-daemon) s7_daemon ;;
        demo) demo ;;
        *) result "$s" FAIL "unknown scenario" ;;
        esac
done
