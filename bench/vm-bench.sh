#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The two real-kernel benchmarks of issue 6, in the system suite's guest (tests/system): Debian 12 with systemd on
# Debian's 6.1 kernel under qemu (q35, an emulated Intel IOMMU, a pcie-pci-bridge holding two e1000 in one IOMMU
# group and a second one holding four), with dma-ownerd's .deb and Debian's driverctl installed and
# bench/vm-guest-bench as the boot's driver.
#
#   vm-bench.sh [--deb FILE]      (root; exit 77 with "skip: why" on stderr when it cannot run)
#
# Prints the guest's "@@BENCH" lines, then three summary lines for run-bench.sh:
#   vm-assign devices=D rounds=R ownerd_usec=… driverctl_usec=… ownerd_per_device_usec=… driverctl_per_device_usec=…
#     (one line per group size: D = 2 and 4)
#   vm-window binds=N p50_usec=… p99_usec=… max_usec=…
#   vm-refusal attempts=N refused=N bound=0 p50_usec=… max_usec=… error=…
# (medians over the rounds after the first, which is a warm-up; percentiles by nearest rank.)
#
# Pieces reused from tests/system, unchanged: the kernel fetcher, build-rootfs.sh (the cached root is only copied,
# never modified, and its package list is not touched), build-guest-deb.sh, make-guest-image.sh,
# build-boot-initramfs.sh and boot-guest.sh. driverctl is
# downloaded on the host through tests/vm's private bookworm apt configuration when it is there (else the machine's
# apt) into ${DMA_OWNERD_CACHE}/debs/ and installed into the per-run copy with dpkg -i. tests/vm/vfio-claim.c is
# compiled statically here (into the work folder) to claim the group through VFIO.
# Environment: BENCH_GUEST_TOOLS (a folder holding gen-sysfs and bench-events: they are run in the guest as well,
# printed as "vm-events …"), DMA_OWNERD_DEB (a .deb instead of building one), BENCH_VM_ACCEL (tcg, the default, as in the system
# suite; or kvm), BENCH_VM_TIMEOUT (s, default 900), BENCH_VM_KEEP=1 (keep the work folder).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
system="$repo/tests/system"
cache=${DMA_OWNERD_CACHE:-/var/cache/dma-ownerd-tests}
deb=${DMA_OWNERD_DEB:-}
[[ ${1:-} == --deb ]] && deb=$2
accel=${BENCH_VM_ACCEL:-tcg}

skip() { echo "skip: $*" >&2; exit 77; }
log() { printf '[vm-bench %(%T)T] %s\n' -1 "$*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "the qemu guest bench needs root (debootstrap, chroot, mkfs); run as root"
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 cpio gzip gcc dpkg-deb; do
        command -v "$tool" >/dev/null || skip "the qemu guest bench needs $tool"
done
[[ -x /bin/busybox ]] || skip "the qemu guest bench needs /bin/busybox (busybox-static)"
[[ -r $repo/tests/vm/vfio-claim.c ]] || skip "tests/vm/vfio-claim.c is missing"
if [[ -z $deb ]]; then
        command -v dpkg-buildpackage >/dev/null || skip "the qemu guest bench needs dpkg-buildpackage (or DMA_OWNERD_DEB)"
fi

work=$(mktemp -d /var/tmp/dma-ownerd-vm-bench.XXXXXX)
cleanup() {
        if [[ ${BENCH_VM_KEEP:-} == 1 ]]; then
                log "work folder kept: $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT

if [[ -z $deb ]]; then
        log "building the .deb"
        deb=$("$system/build-guest-deb.sh" "$work/deb") || { echo "vm-bench: no package" >&2; exit 1; }
fi

# driverctl, from bookworm: tests/vm's private apt when it has lists, else the machine's own apt.
mkdir -p "$cache/debs"
driverctl_deb=$(ls "$cache"/debs/driverctl_*_all.deb 2>/dev/null | tail -1 || true)
if [[ -z $driverctl_deb ]]; then
        aptdir="$cache/apt/bookworm"
        apt_opts=()
        if [[ -r $aptdir/sources.list ]] && compgen -G "$aptdir/lists/*_Packages*" >/dev/null; then
                apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=-"
                          -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir"
                          -o "Dir::State::status=/dev/null" -o "APT::Architecture=amd64"
                          -o "APT::Sandbox::User=root")
        fi
        (cd "$cache/debs" && apt-get "${apt_opts[@]}" -q download driverctl >&2) ||
                skip "cannot download driverctl with apt-get"
        driverctl_deb=$(ls "$cache"/debs/driverctl_*_all.deb | tail -1)
fi
log "packages: $deb $driverctl_deb"

gcc -static -O2 -o "$work/vfio-claim" "$repo/tests/vm/vfio-claim.c" ||
        skip "cannot link tests/vm/vfio-claim.c statically (libc6-dev)"

fetch="$repo/tests/vm/fetch-kernel.sh"
[[ -x $fetch ]] || fetch="$system/fetch-kernel-fallback.sh"
kdir=$("$fetch" 6.1 | tail -1)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver"
rootfs=$("$system/build-rootfs.sh")
log "kernel $kver, root $rootfs"

# The system suite's boot disk, with Debian's driverctl beside our package and the bench driver in place of the
# acceptance one; the in-process event-path bench, to run in the guest too (the same code on both sides of the
# emulation), when BENCH_GUEST_TOOLS has it.
extra=(--install "$work/vfio-claim=/usr/local/sbin/vfio-claim")
if [[ -n ${BENCH_GUEST_TOOLS:-} && -x $BENCH_GUEST_TOOLS/gen-sysfs && -x $BENCH_GUEST_TOOLS/bench-events ]]; then
        extra+=(--install "$BENCH_GUEST_TOOLS/gen-sysfs=/usr/local/lib/dma-ownerd-bench/gen-sysfs"
                --install "$BENCH_GUEST_TOOLS/bench-events=/usr/local/lib/dma-ownerd-bench/bench-events")
fi
image="$work/root.img"
"$system/make-guest-image.sh" --moddir "$moddir" --rootfs "$rootfs" --hostname dmao-bench \
        --driver "$here/vm-guest-bench" --unit "$here/vm-guest-bench.service" \
        --deb "$deb" --deb "$driverctl_deb" "${extra[@]}" "$image"

# The system suite's initramfs: busybox, virtio-blk and ext4, mount /dev/vda, switch to it.
"$system/build-boot-initramfs.sh" "$moddir" "$work/initramfs.img"

console="$work/console.log"
log "booting ($accel; console: $console)"
start=$(date +%s)
set +e
# The system suite's machine, plus a second bridge holding four e1000 (a second, larger group).
"$system/boot-guest.sh" --kernel "$vmlinuz" --initrd "$work/initramfs.img" --image "$image" --console "$console" \
        --timeout "${BENCH_VM_TIMEOUT:-900}" --accel "$accel" --log "$work/qemu.log" -- \
        -device pcie-pci-bridge,id=pbr2,bus=pcie.0,addr=0x6 \
        -device e1000,bus=pbr2,addr=0x1 -device e1000,bus=pbr2,addr=0x2 \
        -device e1000,bus=pbr2,addr=0x3 -device e1000,bus=pbr2,addr=0x4
qemu_rc=$?
set -e
log "qemu exited with $qemu_rc after $(( $(date +%s) - start )) s"

tr -d '\r' <"$console" | sed -n 's/^.*\(@@BENCH \)/\1/p' >"$work/bench.txt"
cat "$work/bench.txt"
if grep -q '^@@BENCH error' "$work/bench.txt" || ! grep -q '^@@BENCH done' "$work/bench.txt"; then
        echo "---- console (last 60 lines) ----" >&2
        tr -d '\r' <"$console" | tail -60 >&2
        cat "$work/qemu.log" >&2
        echo "vm-bench: the guest did not complete the bench" >&2
        exit 1
fi

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
# pick Q VALUES…: the nearest-rank Q-quantile (Q in percent).
pick() {
        local q=$1
        shift
        printf '%s\n' "$@" | sort -n | awk -v q="$q" '{ v[NR] = $1 } END { r = int((q * NR + 99) / 100); if (r < 1) r = 1; print v[r] }'
}

for devices in $(sed -n 's/^@@BENCH assign .* devices=\([0-9]*\).*/\1/p' "$work/bench.txt" | sort -nu); do
        ownerd=() driverctl=() by_hand=() check=()
        while read -r _ _ line; do
                [[ $(field round "$line") -ge 1 ]] || continue # round 0 warms the caches
                [[ $(field devices "$line") == "$devices" ]] || continue
                case $(field tool "$line") in
                dma-ownerctl) ownerd+=("$(field usec "$line")") ;;
                driverctl) driverctl+=("$(field usec "$line")") ;;
                sysfs) by_hand+=("$(field usec "$line")") ;;
                ctl-check) check+=("$(field usec "$line")") ;;
                esac
        done < <(grep '^@@BENCH assign ' "$work/bench.txt")
        # The daemon's own time for the same assignments (its journal), warm-up included: the group's number
        # from the assign lines.
        g=$(sed -n "s/^@@BENCH assign .*group=\([0-9]*\) .*devices=$devices .*/\1/p" "$work/bench.txt" | head -1)
        inside=($(sed -n "s/^@@BENCH assign-daemon group=$g .*usec=\([0-9]*\)$/\1/p" "$work/bench.txt"))
        o=$(pick 50 "${ownerd[@]}")
        d=$(pick 50 "${driverctl[@]}")
        echo "vm-assign devices=$devices rounds=${#ownerd[@]} ownerd_usec=$o driverctl_usec=$d" \
             "ownerd_per_device_usec=$((o / devices)) driverctl_per_device_usec=$((d / devices))" \
             "ownerd_min_usec=$(pick 0 "${ownerd[@]}") ownerd_max_usec=$(pick 100 "${ownerd[@]}")" \
             "driverctl_min_usec=$(pick 0 "${driverctl[@]}") driverctl_max_usec=$(pick 100 "${driverctl[@]}")" \
             "sysfs_per_device_usec=$(( $(pick 50 "${by_hand[@]}") / devices ))" \
             "ctl_check_usec=$(pick 50 "${check[@]}") daemon_usec=$( ((${#inside[@]})) && pick 50 "${inside[@]}" || echo 0)" \
             "accel=$accel"
done

window=($(sed -n 's/^@@BENCH window .* usec=\([0-9]*\).*/\1/p' "$work/bench.txt"))
window_kernel=($(sed -n 's/^@@BENCH window .* kernel_usec=\([0-9]*\).*/\1/p' "$work/bench.txt"))
window_own=($(sed -n 's/^@@BENCH window .* daemon_usec=\([0-9]*\).*/\1/p' "$work/bench.txt"))
window_cpu=($(sed -n 's/^@@BENCH window .* daemon_cpu_usec=\([0-9]*\).*/\1/p' "$work/bench.txt"))
summary=$(grep '^@@BENCH window-summary' "$work/bench.txt")
[[ ${#window[@]} -gt 0 && ${#window_own[@]} -eq ${#window[@]} ]] ||
        { echo "vm-bench: no window figures: $summary" >&2; exit 1; }
echo "vm-window binds=${#window[@]} p50_usec=$(pick 50 "${window[@]}") p99_usec=$(pick 99 "${window[@]}")" \
     "max_usec=$(pick 100 "${window[@]}") kernel_p50_usec=$(pick 50 "${window_kernel[@]}")" \
     "daemon_p50_usec=$(pick 50 "${window_own[@]}") daemon_p99_usec=$(pick 99 "${window_own[@]}")" \
     "daemon_max_usec=$(pick 100 "${window_own[@]}") daemon_cpu_p50_usec=$(pick 50 "${window_cpu[@]}")" \
     "daemon_cpu_p99_usec=$(pick 99 "${window_cpu[@]}") manual_binds=$(field binds "$summary") accel=$accel"

refusal=($(sed -n 's/^@@BENCH refusal .*usec=\([0-9]*\).*/\1/p' "$work/bench.txt"))
refused=$(grep '^@@BENCH refusal rc=[1-9]' "$work/bench.txt" | grep -c 'driver_after=none' || true)
bound=$(grep '^@@BENCH refusal' "$work/bench.txt" | grep -c 'driver_after=e1000' || true)
error=$(sed -n 's/^@@BENCH refusal .*error=\(.*\)$/\1/p' "$work/bench.txt" | sort | uniq -c | sort -rn | head -1 |
        sed 's/^ *[0-9]* //; s/ /_/g')
echo "vm-refusal attempts=${#refusal[@]} refused=$refused bound=$bound p50_usec=$(pick 50 "${refusal[@]}")" \
     "max_usec=$(pick 100 "${refusal[@]}") error=${error:-none} accel=$accel"
events=$(sed -n 's/^@@BENCH events-in-guest //p' "$work/bench.txt")
[[ -n $events ]] && echo "vm-events $events accel=$accel"
echo "vm-machine kernel=$kver accel=$accel qemu_seconds=$(( $(date +%s) - start ))"
