/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fake sysfs and /proc trees in temporary folders, laid out as the kernel lays them out, for the unit tests and the
 * benchmark generator. `root` stands in for /sys:
 *
 *   root/devices/pci0000:00/ADDR/{vendor,device,subsystem_vendor,subsystem_device,class,config?,driver_override,
 *                                 iommu_group -> ../../../kernel/iommu_groups/N, driver -> ../../../bus/pci/drivers/D,
 *                                 physfn -> ../PF, sriov_numvfs, net/IFNAME/, vfio-dev/vfioN/}
 *   root/bus/pci/devices/ADDR -> ../../../devices/pci0000:00/ADDR
 *   root/bus/pci/drivers/D/{bind,unbind,new_id,remove_id}, root/bus/pci/drivers/D/ADDR -> device
 *   root/bus/pci/drivers_probe
 *   root/kernel/iommu_groups/N/devices/ADDR -> ../../../../devices/pci0000:00/ADDR
 *
 * The header type is written to a file `header_type` is not a sysfs attribute: the kernel exposes it only through
 * `config` (byte 0x0e), so the tree writes a 64-byte `config` with vendor, device, class and header type filled. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct TreeDevice {
        const char *address;
        uint16_t vendor;
        uint16_t device;
        uint16_t subsystem_vendor;
        uint16_t subsystem_device;
        uint32_t class;       /* 24-bit */
        uint8_t header_type;  /* including bit 7 (multifunction) */
        int64_t group;        /* -1: no iommu_group link */
        const char *driver;   /* NULL: unbound */
        const char *driver_override; /* NULL: "(null)" */
        const char *physfn;   /* PF address for a VF, NULL otherwise */
        unsigned sriov_numvfs;
        const char *net[4];   /* interface names, NULL-terminated (at most 3) */
        const char *vfio_cdev; /* "vfio0" or NULL */
} TreeDevice;

/* mkdtemp() a fresh tree under $TMPDIR with the skeleton above; *ret_root is malloc'ed. */
int sysfs_tree_new(char **ret_root);
int sysfs_tree_add_device(const char *root, const TreeDevice *d);
/* As the kernel does on remove: the device directory, its bus link, its group link. */
int sysfs_tree_remove_device(const char *root, const char *address);
/* Re-point (or remove, driver == NULL) the driver link, as a bind or unbind does. */
int sysfs_tree_set_driver(const char *root, const char *address, const char *driver);
/* Read a file relative to root, malloc'ed, trailing newline kept. NULL when missing. */
char *sysfs_tree_read(const char *root, const char *relpath);
int sysfs_tree_write(const char *root, const char *relpath, const char *contents);
/* rm -rf, refusing anything that is not under $TMPDIR or /tmp. */
int sysfs_tree_destroy(const char *root);

/* A fake /proc: root/PID/comm and root/PID/fd/FD -> target (a dangling link is fine: only readlink is used). */
int proc_tree_add_fd(const char *proc_root, pid_t pid, const char *comm, int fd, const char *target);
