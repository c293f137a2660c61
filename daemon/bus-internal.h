/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by bus.c and the per-interface files. */

#include <systemd/sd-bus.h>

#include "bus-snapshot.h"
#include "bus.h"
#include "polkit.h"

struct Bus {
        sd_bus *bus;
        Manager *manager;
        Polkit *polkit;
        char *policy_error; /* "" while the policy is good */

        /* What PropertiesChanged last said (or, for objects never mentioned, what they showed when first seen), so
         * only values that differ go out again. */
        BusSnapshot manager_snapshot;
        BusSnapshotTable group_snapshots;  /* keyed by group number */
        BusSnapshotTable device_snapshots; /* keyed by bus_snapshot_device_key() */
        bool announce_new; /* false while the first snapshots are taken: nobody has seen anything yet */
};

extern const sd_bus_vtable bus_manager_vtable[];
extern const sd_bus_vtable bus_group_vtable[];
extern const sd_bus_vtable bus_device_vtable[];

int bus_group_path(unsigned number, char **ret);
int bus_device_path(const char *address, char **ret);

/* Object lookups for the fallback vtables: 1 and *ret_found = the Bus when the object exists, 0 when not. */
int bus_group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                   sd_bus_error *error);
int bus_device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                    sd_bus_error *error);
int bus_group_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error);
int bus_device_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error);

/* Strings from sysfs and /proc go on the bus only when they are plain printable ASCII. */
const char *bus_safe_string(const char *s);

/* Strict decimal, 0..INT32_MAX. */
int bus_parse_group_number(const char *s, unsigned *ret);

/* Emit PropertiesChanged for the properties of an object whose values differ from what was last emitted, and
 * nothing when none does. An object new to the bus has all its changing properties emitted (as it had before the
 * comparison existed); a gone one is forgotten. */
void bus_sync_manager(Bus *b);
void bus_sync_group(Bus *b, unsigned number);
void bus_sync_device(Bus *b, const char *address);
/* The manager, every group and every device, forgetting objects that are gone. */
void bus_sync_all(Bus *b);
