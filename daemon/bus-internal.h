/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by bus.c and the per-interface files. */

#include <systemd/sd-bus.h>

#include "bus.h"
#include "polkit.h"

struct Bus {
        sd_bus *bus;
        Manager *manager;
        Polkit *polkit;
        char *policy_error; /* "" while the policy is good */
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

void bus_emit_manager_changed(Bus *b, const char *property);
void bus_emit_group_changed(Bus *b, unsigned number);
void bus_emit_device_changed(Bus *b, const char *address);
void bus_emit_all_changed(Bus *b);
