#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The benchmark suite, run by `meson compile -C build bench`:
#   run-bench.sh BUILD_DIR SOURCE_DIR B_SANITIZE BUILDTYPE
# with the programs found under BUILD_DIR (bench/, daemon/, ctl/).
#
# 1. bench-engine: decisions per second of the pure engine (4096 devices, 1024 groups, 100 reservations, 100 000
#    events, best of 5).
# 2. scan: `dma-ownerd --scan-only` over synthetic trees of 256, 1024, 4096 and 16384 devices (groups = devices / 4)
#    with an empty /proc: best of 11 of the daemon's own scan_usec, and its peak RSS.
# 3. bench-events: a storm of 10 000 bind uevents through the daemon's event path, in process (see bench-events.c);
#    and the hostile suite's storm with overflows (tests/hostile/test-storm), for the proof that nothing stays lost.
# 4. bench-list.sh: the guides' shell loop (lspci per device) against `dma-ownerctl list` on one tree, and D-Bus
#    round trips on 1024 groups. Skipped (and said so) without lspci or dbus-daemon.
# 5. vm-bench.sh: in a qemu guest on Debian's 6.1 kernel (tests/system's guest), `dma-ownerctl assign` against
#    `driverctl set-override` per device, and the daemon's violation window against the kernel's refusal. Needs root
#    and qemu (skipped, and said so, otherwise; BENCH_VM=0 skips it too); it takes several minutes under TCG.
# Then a table with the targets, printed and written with the machine and the date to SOURCE_DIR/docs/PERFORMANCE.md
# (followed by bench/performance-notes.md).
# Everything is written under a temporary folder (on /dev/shm when it is a writable tmpfs, else $TMPDIR or /tmp;
# BENCH_TMPDIR overrides), removed on exit; nothing outside it is touched but docs/PERFORMANCE.md.

set -eu
set -o pipefail

build=$1
source=$2
sanitize=${3:-none}
buildtype=${4:-unknown}
gen_sysfs=$build/bench/gen-sysfs
bench_engine=$build/bench/bench-engine
bench_events=$build/bench/bench-events
bench_bus=$build/bench/bench-bus
dma_ownerd=$build/daemon/dma-ownerd
dma_ownerctl=$build/ctl/dma-ownerctl
runs=11
sizes=(256 1024 4096 16384)

# sysfs lives in memory, so the trees go to a tmpfs when one is writable (/dev/shm), unless BENCH_TMPDIR says
# otherwise: on a disk-backed /tmp, creating a 16384-device tree is dominated by the file system, not by gen-sysfs.
tmp=${BENCH_TMPDIR:-}
if [[ -z $tmp ]]; then
        tmp=${TMPDIR:-/tmp}
        if [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs && -w /dev/shm ]]; then
                tmp=/dev/shm
        fi
fi
work=$(mktemp -d "$tmp/dma-ownerd-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/proc"

if [[ $sanitize != none ]]; then
        echo "warning: this build uses -Db_sanitize=$sanitize: the figures are not representative" >&2
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

field() { # field NAME LINE: the value of NAME=VALUE in LINE
        sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}
ms() { awk -v v="$1" 'BEGIN { printf "%.1f ms", v / 1000 }'; }
us() { awk -v v="$1" 'BEGIN { printf "%d µs", v }'; }

echo "== engine"
engine_output=$("$bench_engine")
echo "$engine_output"
engine_line=$(tail -n 1 <<<"$engine_output")
decisions_per_sec=$(field decisions_per_sec "$engine_line")
events_per_sec=$(field events_per_sec "$engine_line")

declare -A scan_usec=() scan_median=() scan_rss=() gen_msec=()
scan_syscalls=""
echo "== scan (dma-ownerd --scan-only, best of $runs)"
for n in "${sizes[@]}"; do
        tree="$work/sysfs-$n"
        start=$(date +%s%N)
        "$gen_sysfs" "$tree" --devices "$n" --groups $((n / 4)) >/dev/null
        gen_msec[$n]=$(( ($(date +%s%N) - start) / 1000000 ))

        usecs=() best_rss=""
        for ((i = 0; i < runs; i++)); do
                line=$("$dma_ownerd" --scan-only --sysfs-root="$tree" --proc-root="$work/proc" --kernel-release=6.1.0)
                devices=$(field devices "$line")
                if [[ $devices != "$n" ]]; then
                        echo "error: the scan of $tree saw '$devices' devices, expected $n: $line" >&2
                        exit 1
                fi
                usecs+=("$(field scan_usec "$line")")
                rss=$(field maxrss_kib "$line")
                [[ -z $best_rss || $rss -lt $best_rss ]] && best_rss=$rss
        done
        sorted=($(printf '%s\n' "${usecs[@]}" | sort -n))
        scan_usec[$n]=${sorted[0]}
        scan_median[$n]=${sorted[$((runs / 2))]}
        scan_rss[$n]=$best_rss
        echo "devices=$n groups=$((n / 4)) scan_usec=${scan_usec[$n]} (median ${scan_median[$n]})" \
             "maxrss_kib=$best_rss (tree generated in ${gen_msec[$n]} ms)"
        # System calls do not move with the load of the machine, the time does: count them once.
        if [[ $n -eq 4096 ]] && command -v strace >/dev/null; then
                strace -f -c -o "$work/strace.out" "$dma_ownerd" --scan-only --sysfs-root="$tree" \
                        --proc-root="$work/proc" --kernel-release=6.1.0 >/dev/null
                scan_syscalls=$(awk '$NF == "total" { print $4 }' "$work/strace.out")
                echo "system calls of the whole --scan-only process: $scan_syscalls"
        fi
        rm -rf "$tree"
done

echo "== event path (in process, 10 000 bind uevents)"
"$gen_sysfs" "$work/sysfs-events" --devices 4096 --groups 1024 >/dev/null
events_output=$("$bench_events" "$work/sysfs-events") || { echo "$events_output"; exit 1; }
echo "$events_output"
events_line=$(tail -n 1 <<<"$events_output")
rm -rf "$work/sysfs-events" "$work/sysfs-events.events"
# The same run as the qemu guest makes of it (1024 devices, 1000 events): the two side by side tell how much slower
# the daemon's own code runs under the guest's emulation.
"$gen_sysfs" "$work/sysfs-events-small" --devices 1024 --groups 256 >/dev/null
events_small_line=$("$bench_events" "$work/sysfs-events-small" 1000 | tail -n 1) ||
        { echo "$events_small_line"; exit 1; }
echo "small (as in the guest): $events_small_line"
rm -rf "$work/sysfs-events-small" "$work/sysfs-events-small.events"
# Overflow: the hostile suite's storm (tests/hostile/test-storm.c), whose lost windows end as the daemon's do on
# ENOBUFS, in a rescan; its figure line is the proof that nothing stays lost.
storm_line="" storm_msec=""
storm=$build/tests/hostile/test-storm
if [[ -x $storm ]]; then
        storm_start=$(date +%s%N)
        storm_line=$("$storm" storm 10000 2>/dev/null | grep '^figure: storm:') || storm_line=""
        storm_msec=$(( ($(date +%s%N) - storm_start) / 1000000 ))
        echo "overflow: $storm_line ($storm_msec ms)"
fi

echo "== list and D-Bus"
list_line="" bus_line="" list_skip=""
mkdir "$work/list"
if list_output=$("$source/bench/bench-list.sh" "$dma_ownerd" "$dma_ownerctl" "$bench_bus" "$gen_sysfs" \
                 "$source/units" "$work/list" 2>"$work/list.err"); then
        echo "$list_output"
        list_line=$(grep '^list ' <<<"$list_output")
        bus_line=$(grep '^bus ' <<<"$list_output")
else
        status=$?
        list_skip=$(grep -m1 '^skip:' "$work/list.err" || true)
        [[ $status -eq 77 ]] || { cat "$work/list.err" >&2; exit 1; }
        echo "$list_skip"
fi

echo "== qemu guest (assign vs driverctl; violation window vs the kernel's refusal)"
vm_assign="" vm_window="" vm_refusal="" vm_events="" vm_skip=""
if [[ ${BENCH_VM:-1} == 0 ]]; then
        vm_skip="skip: BENCH_VM=0"
        echo "$vm_skip"
elif vm_output=$(BENCH_GUEST_TOOLS="$build/bench" "$source/bench/vm-bench.sh" 2>"$work/vm.err"); then
        echo "$vm_output"
        vm_events=$(grep '^vm-events ' <<<"$vm_output" || true)
        vm_assign=$(grep '^vm-assign ' <<<"$vm_output")
        vm_window=$(grep '^vm-window ' <<<"$vm_output")
        vm_refusal=$(grep '^vm-refusal ' <<<"$vm_output")
else
        status=$?
        vm_skip=$(grep -m1 '^skip:' "$work/vm.err" || true)
        [[ $status -eq 77 ]] || { cat "$work/vm.err" >&2; exit 1; }
        echo "$vm_skip"
fi

verdict() { # verdict OK-CONDITION
        if eval "$1"; then echo "met"; else echo "**missed**"; fi
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

row "engine: decisions/s (100 000 events, 4096 devices, 100 rules)" \
    "$(awk -v v="$decisions_per_sec" 'BEGIN { printf "%.2f M/s", v / 1e6 }')" "≥ 1 M/s" \
    "$(verdict "[[ $decisions_per_sec -ge 1000000 ]]")"
row "engine: events/s" "$(awk -v v="$events_per_sec" 'BEGIN { printf "%.2f M/s", v / 1e6 }')" "" ""
for n in "${sizes[@]}"; do
        target="" v=""
        if [[ $n -eq 4096 ]]; then
                target="≤ 50 ms"
                v=$(verdict "[[ ${scan_usec[$n]} -le 50000 ]]")
        fi
        per=$(awk -v u="${scan_usec[$n]}" -v n="$n" 'BEGIN { printf "%.1f", u / n }')
        row "scan: $n devices in $((n / 4)) groups (best; median)" \
            "$(ms "${scan_usec[$n]}"); $(ms "${scan_median[$n]}") ($per µs/device)" "$target" "$v"
done
if [[ -n $scan_syscalls ]]; then
        row "scan: system calls per device, 4096 devices (strace -c)" \
            "$(awk -v v="$scan_syscalls" 'BEGIN { printf "%.1f", v / 4096 }')" "" ""
fi
for n in "${sizes[@]}"; do
        target="" v=""
        if [[ $n -eq 4096 ]]; then
                target="≤ 8 MiB"
                v=$(verdict "[[ ${scan_rss[$n]} -le 8192 ]]")
        fi
        row "scan: peak RSS, $n devices" "$(awk -v v="${scan_rss[$n]}" 'BEGIN { printf "%.1f MiB", v / 1024 }')" \
            "$target" "$v"
done
lost=$(field lost "$events_line")
row "event path: 10 000 bind uevents, none lost (in process)" \
    "lost $lost of $(field events "$events_line"); $(field writes "$events_line") writes" "0 lost" \
    "$(verdict "[[ $lost -eq 0 ]]")"
row "event path: uevent → last sysfs write, p50 / p99 / max" \
    "$(us "$(field service_p50_usec "$events_line")") / $(us "$(field service_p99_usec "$events_line")") / $(us "$(field service_max_usec "$events_line")")" \
    "p99 ≤ 1 ms" "$(verdict "[[ $(field service_p99_usec "$events_line") -le 1000 ]]")"
if [[ -n $storm_line ]]; then
        storm_lost=$(sed -n 's/.* \([0-9]*\) lost in \([0-9]*\) overflows.*/\1 \2/p' <<<"$storm_line")
        storm_fresh=$(sed -n 's/.*model equals a fresh scan: \([a-z]*\).*/\1/p' <<<"$storm_line")
        storm_left=$(sed -n 's/.*reserved devices left on a host driver: \([0-9]*\).*/\1/p' <<<"$storm_line")
        row "event path under overflow: 10 000 mixed uevents, windows of them lost as on ENOBUFS, each followed by the rescan the daemon makes (tests/hostile/test-storm)" \
            "${storm_lost% *} of 10000 lost in ${storm_lost#* } overflows; afterwards the model equals a fresh scan: $storm_fresh; reserved devices left on a host driver: $storm_left (${storm_msec} ms in all)" \
            "none lost for good" "$(verdict "[[ $storm_fresh == yes && $storm_left == 0 ]]")"
else
        row "event path under overflow (tests/hostile/test-storm)" "not run: built only with -Dtests=true" \
            "none lost for good" "not measured"
fi
row "event path: same, all 10 000 arriving at once, p50 / p99 / max" \
    "$(ms "$(field burst_p50_usec "$events_line")") / $(ms "$(field burst_p99_usec "$events_line")") / $(ms "$(field burst_max_usec "$events_line")")" \
    "" ""
if [[ -n $list_line ]]; then
        shell_msec=$(field shell_msec "$list_line")
        ctl_msec=$(field ctl_msec "$list_line")
        (( ctl_msec > 0 )) || ctl_msec=1
        ratio=$(( shell_msec / ctl_msec ))
        row "list: $(field devices "$list_line") devices, shell loop (lspci per device) vs dma-ownerctl list" \
            "${shell_msec} ms vs ${ctl_msec} ms: ${ratio}×" "≥ 20×" "$(verdict "[[ $ratio -ge 20 ]]")"
        row "D-Bus: ListGroups on $(field groups "$bus_line") groups, p50 / p99" \
            "$(us "$(field list_p50_usec "$bus_line")") / $(us "$(field list_p99_usec "$bus_line")")" "" ""
        row "D-Bus: GetAll of one group, p50 / p99" \
            "$(us "$(field getall_p50_usec "$bus_line")") / $(us "$(field getall_p99_usec "$bus_line")")" "" ""
else
        row "list vs the shell loop; D-Bus round trips" "not run: ${list_skip:-skipped}" "≥ 20×" "not measured"
fi
if [[ -n $vm_assign ]]; then
        while read -r line; do
                accel=$(field accel "$line")
                o=$(field ownerd_per_device_usec "$line")
                d=$(field driverctl_per_device_usec "$line")
                (( o > 0 )) || o=1
                k=$(field sysfs_per_device_usec "$line")
                ratio=$(awk -v d="$d" -v o="$o" 'BEGIN { printf "%.1f", d / o }')
                row "assign a group of $(field devices "$line") vs \`driverctl set-override\` per device (qemu guest, $accel, median of $(field rounds "$line") rounds)" \
                    "$(ms "$o") vs $(ms "$d") per device: ${ratio}× (the whole call $(ms "$(field ownerd_usec "$line")"), of which inside the daemon $(ms "$(field daemon_usec "$line")"); the same three writes per device by hand, one device after the other: $(ms "$k") per device; \`dma-ownerctl check\` alone: $(ms "$(field ctl_check_usec "$line")"))" \
                    "≥ 5×" "$(verdict "awk -v r=$ratio 'BEGIN { exit !(r >= 5) }'")"
        done <<<"$vm_assign"
        row "violation window: the daemon's own time, uevent → last write less the kernel's time inside the writes, $(field binds "$vm_window") manual binds of e1000, p50 / p99 / max (qemu guest, $accel)" \
            "$(ms "$(field daemon_p50_usec "$vm_window")") / $(ms "$(field daemon_p99_usec "$vm_window")") / $(ms "$(field daemon_max_usec "$vm_window")"); on the CPU $(ms "$(field daemon_cpu_p50_usec "$vm_window")") / $(ms "$(field daemon_cpu_p99_usec "$vm_window")") at p50 / p99 (the whole uevent → last write: $(ms "$(field p50_usec "$vm_window")") / $(ms "$(field p99_usec "$vm_window")") / $(ms "$(field max_usec "$vm_window")"), of which the kernel's unbind of e1000 and probe of vfio-pci $(ms "$(field kernel_p50_usec "$vm_window")") at p50)" \
            "p99 ≤ 1 ms" "$(verdict "[[ $(field daemon_p99_usec "$vm_window") -le 1000 ]]") under emulation"
        if [[ -n $vm_events ]]; then
                gp50=$(field service_p50_usec "$vm_events") hp50=$(field service_p50_usec "$events_small_line")
                (( hp50 > 0 )) || hp50=1
                slow=$(awk -v g="$gp50" -v h="$hp50" 'BEGIN { printf "%.0f", g / h }')
                (( slow > 0 )) || slow=1
                row "emulation factor: the in-process event path (1024 devices, 1000 binds) in the guest vs on this host, p50 / p99" \
                    "$(us "$gp50") / $(us "$(field service_p99_usec "$vm_events")") vs $(us "$hp50") / $(us "$(field service_p99_usec "$events_small_line")"): ${slow}× slower in the guest; the guest's daemon time above ÷ ${slow}: $(us $(( $(field daemon_p50_usec "$vm_window") / slow ))) / $(us $(( $(field daemon_p99_usec "$vm_window") / slow ))) (p50 / p99), CPU $(us $(( $(field daemon_cpu_p99_usec "$vm_window") / slow ))) at p99" \
                    "p99 ≤ 1 ms" "$(verdict "[[ $(( $(field daemon_p99_usec "$vm_window") / slow )) -le 1000 ]]") (estimate)"
        fi
        row "kernel's refusal: e1000 bind into a group claimed through VFIO ($(field attempts "$vm_refusal") attempts)" \
            "refused $(field refused "$vm_refusal"), bound $(field bound "$vm_refusal") ($(field error "$vm_refusal" | tr _ ' ')): window 0; the failing write takes $(ms "$(field p50_usec "$vm_refusal")") (p50)" \
            "window 0" "$(verdict "[[ $(field bound "$vm_refusal") -eq 0 && $(field refused "$vm_refusal") -eq $(field attempts "$vm_refusal") ]]")"
else
        row "assign a group vs \`driverctl set-override\` per device (qemu guest)" "not run: ${vm_skip:-skipped}" "≥ 5×" \
            "not measured"
        row "violation window vs the kernel's synchronous refusal (qemu guest)" "not run: ${vm_skip:-skipped}" \
            "p99 ≤ 1 ms" "not measured"
fi

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
machine="$(nproc) CPUs (${cpu_model:-unknown}), kernel $(uname -r), load average before: $load_before, after: \
$(cut -d' ' -f1-3 /proc/loadavg); build: $buildtype, sanitizers: $sanitize; trees on $(stat -f -c %T "$tmp") ($tmp)"

table=$(printf '%s\n' "| benchmark | result | target | |" "|---|---|---|---|" "${rows[@]}")

echo
echo "== dma-ownerd benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "$machine"
echo "$table"

doc="$source/docs/PERFORMANCE.md"
mkdir -p "$source/docs"
{
        echo "# Performance"
        echo
        echo "Written by \`meson compile -C build bench\` (bench/run-bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
        echo
        echo "Machine: $machine."
        echo
        echo "$table"
        echo
        cat "$source/bench/performance-notes.md"
} >"$doc.tmp"
mv "$doc.tmp" "$doc"
echo
echo "written to $doc"
