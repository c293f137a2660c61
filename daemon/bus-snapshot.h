/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the bus last said about an object: the values of its changing properties, encoded from what the property
 * getters themselves put into a message, so PropertiesChanged names only the properties whose values differ. The
 * encoding is exact (no hashes): two values compare equal only when a client would read the same thing.
 *
 * Memory is one small allocation per object, kept in sorted tables (one per kind of object) and dropped with the
 * object. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* The most properties flagged SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE one interface may have (ours have 6). */
#define BUS_SNAPSHOT_PROPERTIES_MAX 8

typedef struct BusSnapshot {
        uint8_t *data;      /* the encoded values back to back; NULL: nothing emitted yet */
        size_t n_properties;
        uint32_t ends[BUS_SNAPSHOT_PROPERTIES_MAX]; /* value i is data[ends[i - 1] (or 0) .. ends[i]) */
} BusSnapshot;

/* Call the getter of every property of `vtable` that emits changes, in vtable order, for the object at `path`, as
 * sd-bus would (userdata plus the property's offset), and encode the values into *ret. Fails with the getter's error
 * (the object is gone, for instance), -E2BIG beyond BUS_SNAPSHOT_PROPERTIES_MAX, -ENOMEM. */
int bus_snapshot_take(sd_bus *bus, const sd_bus_vtable *vtable, const char *path, const char *interface,
                      void *userdata, BusSnapshot *ret);

/* Fill `ret_names` (room for BUS_SNAPSHOT_PROPERTIES_MAX + 1) with the names, pointing into `vtable`, of the
 * properties whose values differ between two snapshots of the same interface, NULL-terminated; returns how many. */
size_t bus_snapshot_diff(const sd_bus_vtable *vtable, const BusSnapshot *old, const BusSnapshot *now,
                         const char **ret_names);

static inline bool bus_snapshot_is_set(const BusSnapshot *s) {
        return s->data;
}

/* Hand the contents over: *s is left empty. */
static inline BusSnapshot bus_snapshot_take_over(BusSnapshot *s) {
        BusSnapshot t = *s;
        *s = (BusSnapshot) {};
        return t;
}

void bus_snapshot_done(BusSnapshot *s);

/* ---- a table of snapshots keyed by a number (a group number, or a packed PCI address) ---- */

typedef struct BusSnapshotEntry {
        uint64_t key;
        int64_t group; /* devices: the group last emitted, so the group a removed device left hears of it; -1 none */
        bool seen;     /* mark of a full pass: entries left unmarked belong to objects that are gone */
        BusSnapshot snapshot;
} BusSnapshotEntry;

typedef struct BusSnapshotTable {
        BusSnapshotEntry *entries; /* sorted by key */
        size_t n, allocated;
} BusSnapshotTable;

BusSnapshotEntry *bus_snapshot_table_find(BusSnapshotTable *t, uint64_t key);

/* Returns the entry for `key`, adding an empty one (group -1) when there is none; pointers into the table do not
 * survive an insertion or a removal. */
int bus_snapshot_table_ensure(BusSnapshotTable *t, uint64_t key, BusSnapshotEntry **ret);

void bus_snapshot_table_remove(BusSnapshotTable *t, uint64_t key);
void bus_snapshot_table_clear_seen(BusSnapshotTable *t);
/* Drop every entry not marked seen since the last bus_snapshot_table_clear_seen(); returns how many. */
size_t bus_snapshot_table_sweep(BusSnapshotTable *t);
void bus_snapshot_table_done(BusSnapshotTable *t);

/* "dddd:bb:dd.f" as a number ordered like the string; -EINVAL when the address is not valid. */
int bus_snapshot_device_key(const char *address, uint64_t *ret);
