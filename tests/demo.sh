#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The dma-ownerd demo: `bash tests/demo.sh`. Builds the daemon, writes a small fake machine into a temporary folder
# (a sysfs tree and a /proc), and shows what dma-ownerd decides and writes there at start-up, in audit mode and in
# enforce mode. It never touches the real /sys: every run passes --sysfs-root and --proc-root pointing into the
# temporary folder, which is removed at the end (DEMO_KEEP=1 keeps it).

set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo="$repo/tests/demo"
build="$repo/build"
started_mid=6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a68 # AUDIT_MID_STARTED in daemon/audit.h

if [[ -t 1 ]]; then
        bold=$'\e[1m' dim=$'\e[2m' plain=$'\e[0m'
else
        bold="" dim="" plain=""
fi

step() {
        printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}

say() {
        printf '%s    %s%s\n' "$dim" "$*" "$plain"
}

show() { # show COMMAND…: print the command, then run it
        printf '%s$ %s%s\n' "$bold" "$*" "$plain"
        "$@"
}

step "Installing the build dependencies (only those missing)"
bash "$repo/tests/run-tests.sh" --deps-only

step "Building dma-ownerd and the sysfs generator in $build"
if [[ ! -f $build/build.ninja ]]; then
        CC=gcc meson setup "$build" "$repo" >/dev/null
fi
meson compile -C "$build" daemon/dma-ownerd ctl/dma-ownerctl bench/gen-sysfs >/dev/null
daemon="$build/daemon/dma-ownerd"
ctl="$build/ctl/dma-ownerctl"
say "$("$daemon" --version)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dma-ownerd-demo.XXXXXX")
daemon_pid="" bus_pid=""
cleanup() {
        local pid
        for pid in $daemon_pid $bus_pid; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        if [[ -n ${DEMO_KEEP:-} ]]; then
                echo "kept $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT

sys="$work/sys"
proc="$work/proc"
empty="$work/empty"
mkdir -p "$proc" "$empty"

step "Writing a fake machine into $sys"
say "Eleven PCI devices from tests/demo/topology.txt: a root port without ACS sharing group 10 with a NIC, a second"
say "NIC, an AMD GPU + HDMI audio (group 12, on host drivers), an NVIDIA GPU + audio (group 13, driverless), an NVMe"
say "disk, an SR-IOV NIC whose first VF is on vfio-pci and held open by a VM."
"$build/bench/gen-sysfs" "$sys" --from "$demo/topology.txt" >/dev/null
# A VMM (pid 4242) holding the VF's group open: that group's DMA owner is user space.
mkdir -p "$proc/4242/fd"
echo qemu-system-x86 >"$proc/4242/comm"
ln -s /dev/vfio/16 "$proc/4242/fd/27"

list_devices() {
        printf '    %-13s %-10s %-7s %-6s %-14s %s\n' ADDRESS ID CLASS GROUP DRIVER OVERRIDE
        local dev address group driver override
        for dev in "$sys"/bus/pci/devices/*; do
                address=${dev##*/}
                group=$(readlink "$dev/iommu_group")
                driver=-
                [[ -L $dev/driver ]] && driver=$(basename "$(readlink "$dev/driver")")
                override=$(<"$dev/driver_override")
                printf '    %-13s %-10s %-7s %-6s %-14s %s\n' "$address" \
                        "$(sed 's/^0x//' "$dev/vendor"):$(sed 's/^0x//' "$dev/device")" \
                        "$(sed 's/^0x//' "$dev/class" | cut -c1-4)" "${group##*/}" "$driver" "$override"
        done
}
list_devices

step "Starting a private D-Bus bus in $work, so the daemon never talks to the machine's system bus"
# Everything may talk on this bus (it lives in a folder only we can reach); the project's own bus policy is included
# as it would be on the system bus.
cat >"$work/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <include>$repo/units/org.dmaownerd1.conf</include>
</busconfig>
EOF
bus_address=""
if command -v dbus-daemon >/dev/null; then
        exec {bus_out}< <(exec dbus-daemon --nofork --nopidfile --config-file="$work/bus.conf" --print-address=1 \
                                2>"$work/bus.log")
        bus_pid=$!
        read -r -t 10 -u "$bus_out" bus_address || bus_address=""
fi
if [[ $bus_address == unix:* ]]; then
        say "bus at $bus_address"
else
        bus_address="unix:path=$work/no-bus"
        say "dbus-daemon did not start ($(cat "$work/bus.log" 2>/dev/null)); the daemon runs without D-Bus"
fi
export DBUS_SYSTEM_BUS_ADDRESS="$bus_address"
unset DBUS_SESSION_BUS_ADDRESS

step "Checking the policies shipped in policy/examples"
for f in "$repo"/policy/examples/*.yaml; do
        show "$daemon" --check-policy "$f" >/dev/null && say "${f#"$repo"/}: valid"
done

step "The demo's policy, as dma-ownerd reads it (each setting with the file:line it came from)"
show "$daemon" --check-policy "$demo/policy.yaml"

step "An invalid policy is refused, every error with file:line:column"
set +e
show "$daemon" --check-policy "$demo/invalid.yaml"
rc=$?
set -e
say "exit status $rc; at start-up the daemon exits with 78 (EX_CONFIG) on such a policy, and a reload keeps the old one"

snapshot() { # snapshot FILE: every text file of the tree with its contents, one line each ("" when empty)
        local f content
        (cd "$sys" && find . -type f ! -name config -print0 | sort -z |
                while IFS= read -r -d '' f; do
                        content=$(tr '\n' ' ' <"$f")
                        printf '%s\t%s\n' "${f#./}" "${content:-\"\"}"
                done) >"$1"
}

# run_daemon LOG WHILE-RUNNING EXTRA-OPTIONS…: start dma-ownerd on the fake machine, wait for its start-up record
# (after the start-up reconciliation), run the command WHILE-RUNNING (or ":"), then stop the daemon with SIGTERM.
run_daemon() {
        local log="$1" while_running="$2"
        shift 2
        local cmd=("$daemon" --sysfs-root="$sys" --proc-root="$proc" --kernel-release=6.1.0 --log-target=stderr
                   --netdev-fake="$demo/netdev.txt" --policy="$demo/policy.yaml" --vendor-policy-dir="$empty" "$@")
        printf '%s$ %s%s\n' "$bold" "${cmd[*]}" "$plain"
        "${cmd[@]}" 2>"$log" &
        daemon_pid=$!
        for ((i = 0; i < 100; i++)); do
                grep -q "MESSAGE_ID=$started_mid" "$log" && break
                kill -0 "$daemon_pid" 2>/dev/null || break
                sleep 0.1
        done
        sed 's/^/    /' "$log"
        local shown
        shown=$(wc -l <"$log")
        "$while_running"
        kill -TERM "$daemon_pid" 2>/dev/null || true
        local rc=0
        wait "$daemon_pid" || rc=$?
        daemon_pid=""
        tail -n +"$((shown + 1))" "$log" | sed 's/^/    /'
        if [[ $rc -ne 0 ]]; then
                echo "dma-ownerd exited with status $rc" >&2
                return 1
        fi
}

show_writes() { # show_writes BEFORE AFTER
        local changes
        changes=$(join -t $'\t' -a 2 -e '(new file)' -o '0,1.2,2.2' "$1" "$2" | awk -F '\t' '$2 != $3')
        if [[ -z $changes ]]; then
                say "no file of the tree changed"
                return
        fi
        awk -F '\t' '{ printf "    %-50s %-14s -> %s\n", $1, $2, $3 }' <<<"$changes"
}

step "Audit mode: dma-ownerd decides and records, but writes nothing"
say "tests/demo/audit.d/50-audit.yaml is merged after policy.yaml and sets mode: audit."
snapshot "$work/before-audit"
run_daemon "$work/audit.log" : --policy-dir="$demo/audit.d"
snapshot "$work/after-audit"
step "Files the audit-mode run wrote"
show_writes "$work/before-audit" "$work/after-audit"

step "Enforce mode: the start-up reconciliation acts through driver_override, unbind and drivers_probe"
say "The driverless NVIDIA group is claimed for vfio-pci (override + probe); the AMD GPU's host drivers are a"
say "violation (override, unbind, probe); the NIC behind the root port carries the default route, so it is"
say "protected; the VF already on vfio-pci gets its own override pinned, so a re-probe cannot give it to iavf."
snapshot "$work/before-enforce"
# While the daemon runs: what an admin sees through its D-Bus API.
ask_daemon() {
        [[ $bus_address == *bus.sock* ]] || return 0
        local i
        for ((i = 0; i < 50; i++)); do # the name is taken right after start-up: wait for it, never for long
                "$ctl" --address="$bus_address" mode >/dev/null 2>&1 && break
                sleep 0.1
        done
        step "The same machine through the daemon's D-Bus API, with dma-ownerctl"
        show "$ctl" --address="$bus_address" list || true
        show "$ctl" --address="$bus_address" check 0000:04:00.0 || true
        step "Stopping the daemon (SIGTERM): the overrides stay in place"
}
run_daemon "$work/enforce.log" ask_daemon --policy-dir="$empty"
snapshot "$work/after-enforce"
step "Files the enforce-mode run wrote (in the temporary tree; a real kernel would bind vfio-pci on the probe)"
say "unbind and drivers_probe are plain files here: each write replaces the last, so only the last address shows."
show_writes "$work/before-enforce" "$work/after-enforce"

step "The machine afterwards, as the fake tree shows it"
say "Nothing rebinds here (no kernel behind the tree): the driver links are unchanged, the overrides are set."
list_devices

step "Done"
say "On a real system the same records go to the journal, each kind with its own MESSAGE_ID (see"
say "units/dma-ownerd.catalog). The tests: bash tests/run-tests.sh"
