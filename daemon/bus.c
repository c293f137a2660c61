/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "assign.h"
#include "audit.h"
#include "bus-args.h"
#include "bus-internal.h"
#include "dma-ownerd/macro.h"

const char *bus_safe_string(const char *s) {
        if (!s)
                return "";
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        return "(unprintable)";
        return s;
}

int bus_parse_group_number(const char *s, unsigned *ret) {
        /* The pure parser, fuzzed by tests/fuzz/fuzz-bus-args.c. */
        return bus_args_parse_group_number(s, ret);
}

int bus_group_path(unsigned number, char **ret) {
        char *p;

        /* Plain decimal, as the API promises; digits are valid in object path elements. */
        if (asprintf(&p, DMAOWNERD_GROUP_PATH_PREFIX "/%u", number) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int bus_device_path(const char *address, char **ret) {
        if (!pci_address_is_valid(address))
                return -EINVAL;
        return sd_bus_path_encode(DMAOWNERD_DEVICE_PATH_PREFIX, address, ret);
}

/* Compare the object's values now with `last` and emit only the names that differ; `last` then holds what was
 * emitted. An unset `last` is an object the bus has not shown before. */
static void sync_properties(Bus *b, const char *path, const char *interface, const sd_bus_vtable *vtable,
                            BusSnapshot *last) {
        _cleanup_(bus_snapshot_done) BusSnapshot now = {};
        const char *names[BUS_SNAPSHOT_PROPERTIES_MAX + 1];
        int r;

        r = bus_snapshot_take(b->bus, vtable, path, interface, b, &now);
        if (r < 0) {
                /* Nothing to compare: say everything may have changed, and start afresh next time. */
                log_msg(LOG_WARNING, "%s: cannot read the properties to compare them: %s", path, strerror(-r));
                bus_snapshot_done(last);
                (void) sd_bus_emit_properties_changed_strv(b->bus, path, interface, NULL);
                return;
        }

        if (!bus_snapshot_is_set(last)) {
                if (b->announce_new)
                        r = sd_bus_emit_properties_changed_strv(b->bus, path, interface, NULL);
        } else if (bus_snapshot_diff(vtable, last, &now, names) > 0)
                r = sd_bus_emit_properties_changed_strv(b->bus, path, interface, (char **) names);

        /* A change that could not be sent is still a change: keep the old values so the next pass finds it again. */
        if (r < 0)
                return;
        bus_snapshot_done(last);
        *last = bus_snapshot_take_over(&now);
}

void bus_sync_manager(Bus *b) {
        sync_properties(b, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, bus_manager_vtable,
                        &b->manager_snapshot);
}

void bus_sync_group(Bus *b, unsigned number) {
        _cleanup_free_ char *path = NULL;
        BusSnapshotEntry *entry;

        if (!model_find_group(b->manager->model, number)) {
                bus_snapshot_table_remove(&b->group_snapshots, number);
                return;
        }
        if (bus_group_path(number, &path) < 0)
                return;
        if (bus_snapshot_table_ensure(&b->group_snapshots, number, &entry) < 0) {
                (void) sd_bus_emit_properties_changed_strv(b->bus, path, DMAOWNERD_GROUP_INTERFACE, NULL);
                return;
        }
        entry->seen = true;
        sync_properties(b, path, DMAOWNERD_GROUP_INTERFACE, bus_group_vtable, &entry->snapshot);
}

void bus_sync_device(Bus *b, const char *address) {
        _cleanup_free_ char *path = NULL;
        BusSnapshotEntry *entry;
        const Device *d;
        uint64_t key;

        if (bus_snapshot_device_key(address, &key) < 0)
                return;
        d = model_find_device(b->manager->model, address);
        if (!d) {
                bus_snapshot_table_remove(&b->device_snapshots, key);
                return;
        }
        if (bus_device_path(address, &path) < 0)
                return;
        if (bus_snapshot_table_ensure(&b->device_snapshots, key, &entry) < 0) {
                (void) sd_bus_emit_properties_changed_strv(b->bus, path, DMAOWNERD_DEVICE_INTERFACE, NULL);
                return;
        }
        entry->seen = true;
        entry->group = d->id.iommu_group;
        sync_properties(b, path, DMAOWNERD_DEVICE_INTERFACE, bus_device_vtable, &entry->snapshot);
}

void bus_sync_all(Bus *b) {
        const Model *model = b->manager->model;

        bus_sync_manager(b);

        bus_snapshot_table_clear_seen(&b->group_snapshots);
        for (size_t i = 0; i < model->n_groups; i++)
                bus_sync_group(b, model->groups[i].number);
        (void) bus_snapshot_table_sweep(&b->group_snapshots);

        bus_snapshot_table_clear_seen(&b->device_snapshots);
        for (size_t i = 0; i < model->n_devices; i++)
                bus_sync_device(b, model->devices[i].id.address);
        (void) bus_snapshot_table_sweep(&b->device_snapshots);
}

/* A device was re-read: it may have appeared, changed, left, or moved to another group; both its group now and the
 * one the bus last showed it in may list other members. */
static void sync_device_and_groups(Bus *b, const char *address) {
        const BusSnapshotEntry *entry = NULL;
        int64_t before = -1;
        bool known;
        const Device *d;
        uint64_t key;

        /* Read before the sync: it may move or drop the entry. */
        if (bus_snapshot_device_key(address, &key) >= 0)
                entry = bus_snapshot_table_find(&b->device_snapshots, key);
        known = entry;
        if (entry)
                before = entry->group;

        bus_sync_device(b, address);

        d = model_find_device(b->manager->model, address);
        if (d && d->id.iommu_group >= 0)
                bus_sync_group(b, (unsigned) d->id.iommu_group);
        if (before >= 0 && (!d || d->id.iommu_group != before))
                bus_sync_group(b, (unsigned) before);
        else if (!d && !known) /* gone before the bus ever showed it: which group it left is not known */
                for (size_t i = 0; i < b->manager->model->n_groups; i++)
                        bus_sync_group(b, b->manager->model->groups[i].number);
}

static void on_decision(const Decision *d, void *userdata) {
        Bus *b = userdata;

        if (d->kind == DECISION_VIOLATION) {
                _cleanup_free_ char *rule = NULL;
                if (d->rule_name)
                        rule = strdup(bus_safe_string(d->rule_name));
                else if (asprintf(&rule, "%s:%u", bus_safe_string(d->rule.file), d->rule.line) < 0)
                        rule = NULL;

                (void) sd_bus_emit_signal(b->bus, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, "Violation",
                                          "ssuss", d->address, bus_safe_string(d->driver),
                                          d->group >= 0 ? (uint32_t) d->group : UINT32_MAX, rule ?: "",
                                          d->dry_run || d->n_steps == 0 ? "log" : "unbind");
        }

        /* While the manager holds device notifications back (an event's or an assignment's writes are under way),
         * the comparison waits for their release: the held devices bring their groups and the manager along. */
        if (b->manager->notify_holds > 0)
                return;

        /* The decision may have pinned the device after its re-read was reported. A device that is gone was dealt
         * with when its removal was reported. */
        if (model_find_device(b->manager->model, d->address))
                sync_device_and_groups(b, d->address);
        if (d->group >= 0)
                bus_sync_group(b, (unsigned) d->group);
        bus_sync_manager(b);
}

static void on_device_changed(const char *address, void *userdata) {
        Bus *b = userdata;

        sync_device_and_groups(b, address);
        bus_sync_manager(b);
}

static void on_model_rebuilt(void *userdata) {
        bus_sync_all(userdata);
}

static void on_policy_reloaded(bool ok, const char *error, void *userdata) {
        Bus *b = userdata;
        char *e;
        int r;

        /* Before the manager reconciles with the new policy: runtime assignments and the mode override carry over. */
        if (ok) {
                r = manager_apply_runtime(b->manager);
                if (r < 0)
                        log_msg(LOG_ERR, "cannot carry the runtime assignments over to the new policy: %s",
                                strerror(-r));
        }

        e = strdup(ok ? "" : bus_safe_string(error));
        if (e) {
                free(b->policy_error);
                b->policy_error = e;
        }
        (void) sd_bus_emit_signal(b->bus, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, "PolicyReloaded", "bs", ok,
                                  ok ? "" : bus_safe_string(error));
        /* A rejected policy changes nothing but PolicyError: the previous one stays in force. */
        if (ok)
                bus_sync_all(b);
        else
                bus_sync_manager(b);
}

int bus_start(sd_event *loop, Manager *m, Bus **ret) {
        _cleanup_bus_ Bus *b = NULL;
        int r;

        b = calloc(1, sizeof(Bus));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        b->policy_error = strdup("");
        if (!b->policy_error)
                return -ENOMEM;

        r = sd_bus_open_system(&b->bus);
        if (r < 0)
                return r;
        (void) sd_bus_set_description(b->bus, "dma-ownerd");

        r = sd_bus_add_object_vtable(b->bus, NULL, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, bus_manager_vtable, b);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(b->bus, NULL, DMAOWNERD_GROUP_PATH_PREFIX, DMAOWNERD_GROUP_INTERFACE, bus_group_vtable,
                                       bus_group_find, b);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(b->bus, NULL, DMAOWNERD_GROUP_PATH_PREFIX, bus_group_enumerate, b);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(b->bus, NULL, DMAOWNERD_DEVICE_PATH_PREFIX, DMAOWNERD_DEVICE_INTERFACE, bus_device_vtable,
                                       bus_device_find, b);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(b->bus, NULL, DMAOWNERD_DEVICE_PATH_PREFIX, bus_device_enumerate, b);
        if (r < 0)
                return r;

        r = polkit_new(b->bus, &b->polkit);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(b->bus, loop, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;

        /* What the objects show now is the baseline later changes are compared with; nobody was told anything yet. */
        bus_sync_all(b);
        b->announce_new = true;

        /* Last: once the name is ours, activated clients start calling. */
        r = sd_bus_request_name(b->bus, DMAOWNERD_BUS_NAME, 0);
        if (r < 0)
                return r;

        m->hooks = (ManagerHooks) {
                .decision = on_decision,
                .device_changed = on_device_changed,
                .model_rebuilt = on_model_rebuilt,
                .policy_reloaded = on_policy_reloaded,
                .userdata = b,
        };
        log_msg(LOG_INFO, "on the system bus as %s", DMAOWNERD_BUS_NAME);
        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        if (b->manager && b->manager->hooks.userdata == b)
                b->manager->hooks = (ManagerHooks) {};
        b->polkit = polkit_free(b->polkit);
        if (b->bus) {
                (void) sd_bus_detach_event(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
        free(b->policy_error);
        bus_snapshot_done(&b->manager_snapshot);
        bus_snapshot_table_done(&b->group_snapshots);
        bus_snapshot_table_done(&b->device_snapshots);
        free(b);
        return NULL;
}
