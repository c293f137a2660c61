#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-list.sh DMA_OWNERD DMA_OWNERCTL BENCH_BUS GEN_SYSFS UNITS_DIR WORK
#
# The listing admins run today against `dma-ownerctl list`, on the same synthetic tree in the same run, and the D-Bus
# round trips of an sd-bus client:
#   - the shell loop passthrough guides print, with /sys pointed at the tree and lspci reading it through
#     `-A linux-sysfs -O sysfs.path=TREE/bus/pci` (one lspci per device, as in the guides);
#   - `dma-ownerctl list` against dma-ownerd running on that tree, over a private dbus-daemon whose configuration
#     includes the shipped units/org.dmaownerd1.conf (no polkit needed: listing is not privileged);
#   - bench-bus (ListGroups, GetAll per group) against a daemon on a 4096-device tree in 1024 groups.
# Everything lives under WORK; every process started here is stopped by its PID on exit.
# Last lines: "list devices=N shell_msec=S ctl_msec=C" and bench-bus's line prefixed with "bus ".

set -eu
set -o pipefail

dma_ownerd=$1
dma_ownerctl=$2
bench_bus=$3
gen_sysfs=$4
units=$5
work=$6
list_devices=${BENCH_LIST_DEVICES:-1024}
runs=5

pids=()
cleanup() {
        for pid in "${pids[@]}"; do
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
}
trap cleanup EXIT

if ! command -v lspci >/dev/null || ! lspci -O help 2>&1 | grep -q sysfs.path; then
        echo "skip: lspci with -O sysfs.path (pciutils) is needed" >&2
        exit 77
fi
if ! command -v dbus-daemon >/dev/null; then
        echo "skip: dbus-daemon is needed" >&2
        exit 77
fi

msec() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

mkdir -p "$work/proc"
sed -e "s|@SOCKET@|$work/bus.sock|" -e "s|@POLICY@|$units/org.dmaownerd1.conf|" \
        "$units/../tests/data/system-bus.conf.in" >"$work/bus.conf"
dbus-daemon --nofork --nopidfile --config-file="$work/bus.conf" --print-address=3 3>"$work/bus.address" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/bus.address ]] && break; sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS=$(head -n 1 "$work/bus.address")
unset DBUS_SESSION_BUS_ADDRESS
: >"$work/netdev"

start_daemon() { # start_daemon TREE: dma-ownerd on TREE with the built-in policy, until its name is on the bus
        "$dma_ownerd" --sysfs-root="$1" --proc-root="$work/proc" --policy="$work/none.yaml" \
                --policy-dir="$work/none.d" --vendor-policy-dir="$work/none.d" --log-target=stderr \
                --event-source=kernel --netdev-fake="$work/netdev" --kernel-release=6.1.0 2>"$work/daemon.log" &
        daemon_pid=$!
        pids+=("$daemon_pid")
        for _ in $(seq 200); do
                if busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" status org.dmaownerd1 >/dev/null 2>&1; then
                        return 0
                fi
                kill -0 "$daemon_pid" 2>/dev/null || break
                sleep 0.05
        done
        echo "dma-ownerd did not come up on $1:" >&2
        cat "$work/daemon.log" >&2
        exit 1
}

stop_daemon() {
        kill "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null || true
}

# --- dma-ownerctl list against the shell loop
tree="$work/sysfs-list"
"$gen_sysfs" "$tree" --devices "$list_devices" --groups $((list_devices / 4)) >/dev/null
start_daemon "$tree"

best_ctl=""
for ((i = 0; i < runs; i++)); do
        start=$(date +%s%N)
        "$dma_ownerctl" list >"$work/ctl.out"
        t=$(msec "$start")
        [[ -z $best_ctl || $t -lt $best_ctl ]] && best_ctl=$t
done
ctl_lines=$(wc -l <"$work/ctl.out")
stop_daemon

# The loop as the guides print it, with /sys replaced by the tree. One run: it takes seconds.
shell_loop() {
        shopt -s nullglob
        for g in $(find "$tree"/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V); do
                echo "IOMMU Group ${g##*/}:"
                for d in "$g"/devices/*; do
                        echo -e "\t$(lspci -A linux-sysfs -O sysfs.path="$tree/bus/pci" -nns "${d##*/}")"
                done
        done
}
start=$(date +%s%N)
shell_loop >"$work/shell.out"
shell_msec=$(msec "$start")
shell_devices=$(grep -c $'^\t' "$work/shell.out")
if [[ $shell_devices -ne $list_devices ]]; then
        echo "the shell loop listed $shell_devices devices, expected $list_devices" >&2
        exit 1
fi
echo "list: shell loop ${shell_msec} ms for $shell_devices devices; dma-ownerctl list best of $runs ${best_ctl} ms" \
     "($ctl_lines lines)"
rm -rf "$tree"

# --- D-Bus round trips on 1024 groups
tree="$work/sysfs-bus"
"$gen_sysfs" "$tree" --devices 4096 --groups 1024 >/dev/null
start_daemon "$tree"
bus_line=$("$bench_bus")
stop_daemon
rm -rf "$tree"

echo "list devices=$list_devices shell_msec=$shell_msec ctl_msec=$best_ctl"
echo "bus $bus_line"
