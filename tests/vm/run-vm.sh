#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-vm.sh KERNEL_TAG SCENARIO_SET: boot Debian's KERNEL_TAG kernel (6.1, 6.12, 5.10: fetch-kernel.sh) in qemu
# (q35, TCG, an emulated Intel IOMMU) with the vm suite's initramfs and check the scenarios' reports on the serial
# console. Exit 0 only when every expected "@@RESULT NAME PASS" line (and, for the 5.10 bug, the kernel's BUG line)
# appears; 77 when it cannot run here (not root, no qemu); 1 otherwise, with the console log.
#
# SCENARIO_SET: "host" (scenarios 1-6, one boot), "bug" (scenario 7: one boot without the daemon that must die of
# the vfio BUG, one with it that must live), or a comma-separated list of scenario names (one boot).
#
# Topology: root port rp1 (00:04.0) → pcie-pci-bridge → two e1000 (one IOMMU group with the bridge); root port rp2
# (00:05.0) → e1000e; empty root ports hp1 (00:06.0) and hp2 (00:07.0): the guest asks for a hot-add with
# "@@HOTADD SLOT" and this script answers with device_add on the qemu monitor (a unix socket).
#
# Environment: DMA_OWNERD_BUILD_DIR (default: a build/ directory next to this source tree's meson build, or
# $MESON_BUILD_ROOT), DMA_OWNERD_VM_TIMEOUT (seconds per boot, default 240), DMA_OWNERD_VM_KEEP=1 keeps the work
# folder, DMA_OWNERD_VM_NARRATE=1 prints the guest's "| " narration lines (tests/vm/demo.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tag=${1:?usage: run-vm.sh 6.1|6.12|5.10 host|bug|NAME[,NAME…]}
set_name=${2:?usage: run-vm.sh 6.1|6.12|5.10 host|bug|NAME[,NAME…]}
timeout_s=${DMA_OWNERD_VM_TIMEOUT:-240}

log() { printf '[vm %s %(%T)T] %s\n' "$tag" -1 "$*"; }

if [[ $(id -u) -ne 0 ]]; then
        echo "vm suite: needs root (apt-get, /var/cache); skipped"
        exit 77
fi

# Host tools, from Debian's packages.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v dbus-daemon >/dev/null || need+=(dbus-daemon)
command -v busctl >/dev/null || need+=(systemd)
command -v xz >/dev/null || need+=(xz-utils)
if [[ ${#need[@]} -gt 0 ]]; then
        log "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -q >/dev/null &&
               apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }; then
                echo "vm suite: cannot install ${need[*]}; skipped"
                exit 77
        fi
fi

build=${DMA_OWNERD_BUILD_DIR:-${MESON_BUILD_ROOT:-$repo/build}}
if [[ ! -x $build/daemon/dma-ownerd || ! -x $build/ctl/dma-ownerctl ]]; then
        echo "vm suite: no built dma-ownerd/dma-ownerctl in $build (set DMA_OWNERD_BUILD_DIR)"
        exit 1
fi

kdir=$("$here/fetch-kernel.sh" "$tag" | tail -1)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)

work=$(mktemp -d /var/tmp/dma-ownerd-vm.XXXXXX)
qemu_pid=
cleanup() {
        [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null
        if [[ ${DMA_OWNERD_VM_KEEP:-} == 1 ]]; then
                log "work folder kept: $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT

"$here/build-initramfs.sh" "$kdir" "$work/initramfs.img" "$build"

# monitor_command SOCKET COMMAND: one human-monitor command, its answer on stdout.
monitor_command() {
        /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
def drain():
    data = b""
    try:
        while not data.endswith(b"(qemu) "):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data
drain()
s.sendall(sys.argv[2].encode() + b"\n")
print(drain().decode(errors="replace").replace("(qemu) ", "").strip())
PY
}

# boot NAME SCENARIOS EXTRA_CMDLINE: one guest; its console in $work/NAME.console. Returns qemu's status, or 124
# when the boot ran out of time (qemu killed).
boot() {
        local name=$1 scenarios=$2 extra=$3
        local console="$work/$name.console" mon="$work/$name.monitor"
        local start now answered=0 rc
        local cmdline_extra="${DMA_OWNERD_VM_CMDLINE:-} $extra"
        : >"$console"
        log "boot $name: scenarios $scenarios"
        start=$(date +%s)
        qemu-system-x86_64 \
                -machine q35 -accel tcg -cpu max -smp 2 -m 768 \
                -nodefaults -nographic -no-reboot \
                -device intel-iommu \
                -serial "file:$console" -monitor "unix:$mon,server=on,wait=off" \
                -kernel "$vmlinuz" -initrd "$work/initramfs.img" \
                -append "console=ttyS0 intel_iommu=on panic=-1 loglevel=4 dmao.scenarios=$scenarios $cmdline_extra" \
                -device pcie-root-port,id=rp1,bus=pcie.0,addr=0x4,chassis=1 \
                -device pcie-pci-bridge,id=pbr,bus=rp1,addr=0x0 \
                -device e1000,bus=pbr,addr=0x1,romfile= -device e1000,bus=pbr,addr=0x2,romfile= \
                -device pcie-root-port,id=rp2,bus=pcie.0,addr=0x5,chassis=2 \
                -device e1000e,bus=rp2,addr=0x0,romfile= \
                -device pcie-root-port,id=hp1,bus=pcie.0,addr=0x6,chassis=3 \
                -device pcie-root-port,id=hp2,bus=pcie.0,addr=0x7,chassis=4 \
                -device pcie-root-port,id=rp3,bus=pcie.0,addr=0x8,chassis=5 \
                -device pci-testdev,bus=rp3,addr=0x0.0,multifunction=on \
                -device pci-testdev,bus=rp3,addr=0x0.1 \
                >"$work/$name.qemu.log" 2>&1 &
        qemu_pid=$!
        while kill -0 "$qemu_pid" 2>/dev/null; do
                now=$(date +%s)
                if ((now - start > timeout_s)); then
                        log "boot $name: no end after ${timeout_s} s; killing qemu"
                        kill "$qemu_pid" 2>/dev/null
                        wait "$qemu_pid" 2>/dev/null
                        qemu_pid=
                        return 124
                fi
                # Hot-add requests, answered in order, each once.
                local requests
                requests=$(tr -d '\r' <"$console" | grep -c '^@@HOTADD ' || true)
                while ((answered < requests)); do
                        answered=$((answered + 1))
                        local slot
                        slot=$(tr -d '\r' <"$console" | grep '^@@HOTADD ' | sed -n "${answered}p" | awk '{print $2}')
                        log "boot $name: device_add e1000 into $slot"
                        monitor_command "$mon" "device_add e1000,bus=$slot,id=hot$answered,romfile=" >/dev/null || true
                done
                sleep 0.2
        done
        set +e
        wait "$qemu_pid"
        rc=$?
        set -e
        qemu_pid=
        log "boot $name: qemu exited $rc after $(($(date +%s) - start)) s"
        return "$rc"
}

failed=0
show_console() {
        echo "---- console of boot $1 ----"
        tr -d '\r' <"$work/$1.console"
        echo "---- qemu ----"
        cat "$work/$1.qemu.log"
        echo "----"
}

# check_boot NAME RC SCENARIO…: every scenario reported PASS, the guest finished.
check_boot() {
        local name=$1 rc=$2 s ok=1
        shift 2
        local text
        text=$(tr -d '\r' <"$work/$name.console")
        # The demo's narration.
        [[ ${DMA_OWNERD_VM_NARRATE:-} == 1 ]] && { grep '^| ' <<<"$text" | cut -c3- || true; }
        grep '^@@\(RESULT\|WINDOW\) ' <<<"$text" || true
        for s in "$@"; do
                if ! grep -q "^@@RESULT $s PASS" <<<"$text"; then
                        echo "scenario $s: no PASS"
                        ok=0
                fi
        done
        if ! grep -q '^@@DONE' <<<"$text"; then
                echo "boot $name: the guest did not finish (qemu status $rc)"
                ok=0
        fi
        if [[ $ok -ne 1 ]]; then
                show_console "$name"
                failed=1
        fi
}

case $set_name in
host)
        scenarios=(s1 s3 s4 s2 s6 s5)
        rc=0
        boot host "$(IFS=,; echo "${scenarios[*]}")" "" || rc=$?
        check_boot host "$rc" "${scenarios[@]}"
        ;;
bug)
        # Without the daemon the guest must die of the vfio BUG (oops=panic turns the oops into the end of the
        # guest); the test fails if it does not, so the scenario proves it can fail.
        rc=0
        boot nodaemon s7-nodaemon "oops=panic" || rc=$?
        text=$(tr -d '\r' <"$work/nodaemon.console")
        grep -m1 'kernel BUG at' <<<"$text" || true
        if grep -q 'kernel BUG at drivers/vfio/vfio.c' <<<"$text" && ! grep -q '^@@RESULT s7-nodaemon' <<<"$text"; then
                echo "@@RESULT s7-nodaemon PASS the guest died of the vfio BUG without the daemon"
        else
                echo "scenario s7-nodaemon: no vfio BUG on the console (qemu status $rc)"
                show_console nodaemon
                failed=1
        fi
        rc=0
        boot daemon s7-daemon "" || rc=$?
        check_boot daemon "$rc" s7-daemon
        ;;
*)
        IFS=, read -r -a scenarios <<<"$set_name"
        rc=0
        boot custom "$set_name" "" || rc=$?
        check_boot custom "$rc" "${scenarios[@]}"
        ;;
esac

if [[ $failed -ne 0 ]]; then
        echo "vm suite ($tag, $set_name): FAILED"
        exit 1
fi
echo "vm suite ($tag, $set_name): passed"
