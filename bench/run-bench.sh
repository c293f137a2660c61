#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The benchmark suite, run by `meson compile -C build bench`:
#   run-bench.sh GEN_SYSFS BENCH_ENGINE DMA_OWNERD [B_SANITIZE] [BUILDTYPE]
#
# 1. bench-engine: decisions per second of the pure engine (4096 devices, 1024 groups, 100 reservations, 100 000
#    events, best of 5).
# 2. scan: `dma-ownerd --scan-only` over synthetic trees of 256, 1024, 4096 and 16384 devices (groups = devices / 4)
#    with an empty /proc, best of 5 of the daemon's own scan_usec and maxrss_kib.
# Then a table with the targets: >= 1 M decisions/s, 4096-device scan <= 50 ms, peak RSS <= 8 MiB.
# Everything is written under a temporary folder (on /dev/shm when it is a writable tmpfs, else $TMPDIR or /tmp;
# BENCH_TMPDIR overrides), removed on exit; nothing outside it is touched.

set -eu
set -o pipefail

gen_sysfs=$1
bench_engine=$2
dma_ownerd=$3
sanitize=${4:-none}
buildtype=${5:-unknown}
runs=5
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

echo "== engine"
engine_output=$("$bench_engine")
echo "$engine_output"
engine_line=$(tail -n 1 <<<"$engine_output")

field() { # field NAME LINE: the value of NAME=VALUE in LINE
        sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

decisions_per_sec=$(field decisions_per_sec "$engine_line")
events_per_sec=$(field events_per_sec "$engine_line")

declare -A scan_usec=() scan_rss=() gen_msec=()
echo "== scan (dma-ownerd --scan-only, best of $runs)"
for n in "${sizes[@]}"; do
        tree="$work/sysfs-$n"
        start=$(date +%s%N)
        "$gen_sysfs" "$tree" --devices "$n" --groups $((n / 4)) >/dev/null
        gen_msec[$n]=$(( ($(date +%s%N) - start) / 1000000 ))

        best_usec="" best_rss=""
        for ((i = 0; i < runs; i++)); do
                line=$("$dma_ownerd" --scan-only --sysfs-root="$tree" --proc-root="$work/proc" --kernel-release=6.1.0)
                devices=$(field devices "$line")
                if [[ $devices != "$n" ]]; then
                        echo "error: the scan of $tree saw '$devices' devices, expected $n: $line" >&2
                        exit 1
                fi
                usec=$(field scan_usec "$line")
                rss=$(field maxrss_kib "$line")
                [[ -z $best_usec || $usec -lt $best_usec ]] && best_usec=$usec
                [[ -z $best_rss || $rss -lt $best_rss ]] && best_rss=$rss
        done
        scan_usec[$n]=$best_usec
        scan_rss[$n]=$best_rss
        echo "devices=$n groups=$((n / 4)) scan_usec=$best_usec maxrss_kib=$best_rss (tree generated in ${gen_msec[$n]} ms)"
        rm -rf "$tree"
done

verdict() { # verdict OK-CONDITION
        if eval "$1"; then echo "met"; else echo "MISSED"; fi
}

echo
echo "== dma-ownerd benchmarks (buildtype $buildtype, sanitizers $sanitize, $(nproc) CPUs, $(uname -r), trees in $tmp)"
printf '%-34s %-22s %-14s %s\n' "benchmark" "result" "target" "verdict"
printf '%-34s %-22s %-14s %s\n' "engine decisions/s" \
        "$(awk -v v="$decisions_per_sec" 'BEGIN { printf "%.2f M/s", v / 1e6 }')" ">= 1 M/s" \
        "$(verdict "[[ $decisions_per_sec -ge 1000000 ]]")"
printf '%-34s %-22s %-14s %s\n' "engine events/s" \
        "$(awk -v v="$events_per_sec" 'BEGIN { printf "%.2f M/s", v / 1e6 }')" "-" "-"
for n in "${sizes[@]}"; do
        target="-" result_verdict="-"
        if [[ $n -eq 4096 ]]; then
                target="<= 50 ms"
                result_verdict=$(verdict "[[ ${scan_usec[$n]} -le 50000 ]]")
        fi
        printf '%-34s %-22s %-14s %s\n' "scan $n devices ($((n / 4)) groups)" \
                "$(awk -v v="${scan_usec[$n]}" 'BEGIN { printf "%.1f ms", v / 1000 }')" "$target" "$result_verdict"
done
for n in "${sizes[@]}"; do
        target="-" result_verdict="-"
        if [[ $n -eq 4096 ]]; then
                target="<= 8 MiB"
                result_verdict=$(verdict "[[ ${scan_rss[$n]} -le 8192 ]]")
        fi
        printf '%-34s %-22s %-14s %s\n' "peak RSS, scan of $n devices" \
                "$(awk -v v="${scan_rss[$n]}" 'BEGIN { printf "%.1f MiB", v / 1024 }')" "$target" "$result_verdict"
done
