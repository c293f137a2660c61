#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# boot-guest.sh: boot the Debian 12 guest disk that make-guest-image.sh wrote, the way the system suite and the
# real-kernel bench both do: q35 with an emulated Intel IOMMU, 2 CPUs, 1 GiB, the serial console to a file, and a
# pcie-pci-bridge holding two e1000 (one IOMMU group). Extra qemu arguments (more devices) go after "--".
#
#   boot-guest.sh --kernel VMLINUZ --initrd INITRD --image IMAGE --console FILE --timeout SECONDS
#                 [--accel tcg|kvm] [--log FILE] [-- QEMU-ARGS…]
#
# Exits with qemu's status (124 when the timeout ended it).
set -uo pipefail

kernel="" initrd="" image="" console="" timeout_s="" accel=tcg qemu_log=/dev/null
while (($#)); do
        case $1 in
        --kernel) kernel=$2; shift 2 ;;
        --initrd) initrd=$2; shift 2 ;;
        --image) image=$2; shift 2 ;;
        --console) console=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --accel) accel=$2; shift 2 ;;
        --log) qemu_log=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "boot-guest.sh: unknown argument $1" >&2; exit 2 ;;
        esac
done
[[ -n $kernel && -n $initrd && -n $image && -n $console && -n $timeout_s ]] ||
        { echo "usage: $0 --kernel F --initrd F --image F --console F --timeout S [--accel A] [--log F] [-- ARGS…]" >&2
          exit 2; }

timeout "$timeout_s" qemu-system-x86_64 \
        -machine q35 -accel "$accel" -cpu max -smp 2 -m 1024 \
        -nodefaults -display none -monitor none \
        -device intel-iommu \
        -serial "file:$console" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 intel_iommu=on quiet loglevel=4 systemd.show_status=false panic=-1" \
        -drive "file=$image,format=raw,if=none,id=root,cache=unsafe" -device virtio-blk-pci,drive=root \
        -device pcie-pci-bridge,id=pbr,bus=pcie.0,addr=0x5 \
        -device e1000,bus=pbr,addr=0x1 -device e1000,bus=pbr,addr=0x2 \
        "$@" >"$qemu_log" 2>&1
