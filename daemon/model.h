/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The model: IOMMU groups, PCI devices, their drivers and the DMA owner of each group, built from sysfs. The kernel is
 * the truth: the model is re-read from sysfs after every write and on every uevent, never updated from intentions.
 *
 * Paths: `sysfs_root` stands in for /sys (so "<sysfs_root>/bus/pci/devices/…", "<sysfs_root>/kernel/iommu_groups/…")
 * and `proc_root` for /proc. Production uses "/sys" and "/proc"; tests and benchmarks use trees in temporary
 * folders. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

/* Stored in Device.driver / Device.driver_override when sysfs names a driver that fails driver_name_is_valid() (or
 * the attribute cannot be read): the device is bound (or overridden) to something, but the name is not repeated.
 * Never a real driver name, and not one of the driver_managed_dma set, so such a group counts as kernel-owned. */
#define DEVICE_DRIVER_UNKNOWN "(unknown)"

typedef enum DmaOwner {
        DMA_OWNER_NONE,
        DMA_OWNER_KERNEL, /* a member is bound to a driver that does not manage its own DMA */
        DMA_OWNER_USER,   /* a process holds the group's /dev/vfio/N or a member's vfio cdev open */
} DmaOwner;

/* Network state of one interface, filled by netdev (libnl-route) before a decision; all false after a scan. */
typedef struct NetInterface {
        char name[IFNAME_MAX];
        bool up;            /* IFF_UP */
        bool has_address;   /* holds at least one IPv4/IPv6 address */
        bool default_route; /* is the output interface of a default route */
} NetInterface;

typedef struct Device {
        PciIdentity id;          /* address, ids, class, iommu group (-1 = none) */
        uint8_t header_type;     /* config header type without the multifunction bit */
        bool is_bridge;          /* header type 1 (PCI-PCI) or 2 (CardBus) */
        bool multifunction;      /* bit 7 of the header type */
        bool is_virtfn;          /* an SR-IOV VF: has a physfn link */
        char physfn[PCI_ADDRESS_STRLEN]; /* the PF's address when is_virtfn, else "" */
        unsigned sriov_numvfs;   /* VFs enabled on a PF */
        char *driver;            /* bound driver's name, NULL when unbound */
        char *driver_override;   /* NULL when the file reads "(null)" or is empty */
        char *vfio_cdev;         /* "vfioN" from vfio-dev/, NULL when none */
        NetInterface *net;       /* interfaces under net/ */
        size_t n_net;
        bool pinned;             /* dma-ownerd wrote this driver_override; survives refreshes while it is unchanged */
} Device;

typedef struct Holder {
        pid_t pid;
        char *comm;
        char *unit;     /* systemd unit from sd_pid_get_unit(), NULL when none or unknown */
        char *dev_path; /* "/dev/vfio/12" or "/dev/vfio/devices/vfio0" */
} Holder;

typedef struct Group {
        unsigned number;
        size_t *members; /* indices into Model.devices, in address order */
        size_t n_members;
        Holder *holders;
        size_t n_holders;
        DmaOwner owner;
} Group;

typedef struct Model {
        char *sysfs_root;
        char *proc_root;
        bool kernel_dma_ownership; /* the running kernel tracks DMA ownership (5.19+) */
        Device *devices;           /* sorted by address */
        size_t n_devices;
        Group *groups;             /* sorted by number */
        size_t n_groups;
        size_t n_skipped;          /* bus entries skipped by the last scan: invalid names, unreadable, gone */
} Model;

/* Scan a whole tree: every PCI device, its group, the holders from proc_root. kernel_dma_ownership is read from
 * uname(2) unless `kernel_release` is given (tests). */
int model_scan(const char *sysfs_root, const char *proc_root, const char *kernel_release, Model **ret);

Model *model_free(Model *m);
static inline void model_freep(Model **m) {
        if (*m)
                model_free(*m);
}
#define _cleanup_model_ __attribute__((cleanup(model_freep)))

/* Re-read one device from sysfs after a uevent or a write: updates it, adds it when it is new, removes it when it is
 * gone (returns 0 in all three cases), then re-indexes its old and new group and their owners. Never leaves the model
 * half-updated: on -ENOMEM the device keeps its previous state. */
int model_refresh_device(Model *m, const char *address);

/* Re-scan /proc for holders of /dev/vfio files and recompute every owner. */
int model_refresh_holders(Model *m);

/* Rebuild the model from scratch (monitor overflow, reload); pins of devices that are still pinned carry over. */
int model_rescan(Model *m);

const Device *model_find_device(const Model *m, const char *address);
Device *model_find_device_mutable(Model *m, const char *address);
const Group *model_find_group(const Model *m, int64_t number);
static inline const Device *model_group_member(const Model *m, const Group *g, size_t i) {
        return &m->devices[g->members[i]];
}

/* Record that dma-ownerd placed (or lifted) the device's override, so the pin can be lifted later. */
int model_set_pinned(Model *m, const char *address, bool pinned);

/* Equal as far as the kernel is concerned: same devices, drivers, overrides, groups and owners. */
bool model_equal(const Model *a, const Model *b);

/* In-memory construction, for tests and benchmarks: add copies of devices (deep copy of strings and net), then
 * index them into groups and compute owners. */
int model_new_empty(Model **ret);
int model_add_device(Model *m, const Device *d);
int model_add_holder(Model *m, unsigned group, pid_t pid, const char *comm, const char *unit, const char *dev_path);
int model_index(Model *m);

/* "5.19.0-…" and later track DMA ownership. */
bool kernel_release_has_dma_ownership(const char *release);

const char *dma_owner_to_string(DmaOwner o);
