/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Client-side views of the org.dmaownerd1 objects, filled from one GetAll each. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Holder {
        uint32_t pid;
        char *comm;
        char *unit;
} Holder;

typedef struct DeviceInfo {
        char *path;
        char *address;
        uint16_t vendor_id;
        uint16_t device_id;
        uint16_t subsystem_vendor_id;
        uint16_t subsystem_device_id;
        uint32_t class;
        char *driver;
        char *driver_override;
        bool driver_manages_dma;
        char *group; /* "/" when the device has no IOMMU group */
        char **network_interfaces;
        bool is_bridge;
        bool pinned; /* driver_override pinned by the daemon to keep a host driver out of a user-owned group */
} DeviceInfo;

typedef struct GroupInfo {
        char *path;
        uint32_t number;
        char **devices; /* object paths */
        char *owner;
        Holder *holders;
        size_t n_holders;
        bool reserved;
        bool viable;
        char **blockers;

        /* Filled by group_fetch_devices(), sorted by address. */
        DeviceInfo *device_infos;
        size_t n_device_infos;
} GroupInfo;

typedef struct ManagerInfo {
        char *version;
        char *mode;
        bool kernel_dma_ownership;
        char **policy_files;
        char *policy_error;
        uint64_t violations;
} ManagerInfo;

void device_info_clear(DeviceInfo *d);
void group_info_clear(GroupInfo *g);
void manager_info_clear(ManagerInfo *m);

/* Each returns 0 or a negative errno with `error` set when the bus said why. */
int device_fetch(sd_bus *bus, const char *path, DeviceInfo *ret, sd_bus_error *error);
int group_fetch(sd_bus *bus, const char *path, GroupInfo *ret, sd_bus_error *error);
int group_fetch_devices(sd_bus *bus, GroupInfo *g, sd_bus_error *error);
int manager_fetch(sd_bus *bus, ManagerInfo *ret, sd_bus_error *error);

/* ListGroups() / ListDevices(): the object paths, in the order the daemon sent them. Accepts "ao" as well as arrays
 * of structs that carry one object path ("a(uo)", "a(so)"). */
int manager_list_objects(sd_bus *bus, const char *method, char ***ret, sd_bus_error *error);

/* All groups, sorted by number, each with its devices. */
int fetch_all_groups(sd_bus *bus, GroupInfo **ret, size_t *ret_n, sd_bus_error *error);
void group_infos_free(GroupInfo *g, size_t n);

/* GetGroup(u) → o and GetDevice(s) → o */
int manager_get_group(sd_bus *bus, uint32_t number, char **ret, sd_bus_error *error);
int manager_get_device(sd_bus *bus, const char *address, char **ret, sd_bus_error *error);
