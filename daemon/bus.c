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

void bus_emit_manager_changed(Bus *b, const char *property) {
        char *names[] = { (char *) property, NULL };
        (void) sd_bus_emit_properties_changed_strv(b->bus, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, property ? names : NULL);
}

void bus_emit_group_changed(Bus *b, unsigned number) {
        _cleanup_free_ char *path = NULL;

        if (bus_group_path(number, &path) < 0)
                return;
        (void) sd_bus_emit_properties_changed_strv(b->bus, path, DMAOWNERD_GROUP_INTERFACE, NULL);
}

void bus_emit_device_changed(Bus *b, const char *address) {
        _cleanup_free_ char *path = NULL;

        if (bus_device_path(address, &path) < 0)
                return;
        (void) sd_bus_emit_properties_changed_strv(b->bus, path, DMAOWNERD_DEVICE_INTERFACE, NULL);
}

void bus_emit_all_changed(Bus *b) {
        const Model *model = b->manager->model;

        bus_emit_manager_changed(b, NULL);
        for (size_t i = 0; i < model->n_groups; i++)
                bus_emit_group_changed(b, model->groups[i].number);
        for (size_t i = 0; i < model->n_devices; i++)
                bus_emit_device_changed(b, model->devices[i].id.address);
}

static void on_decision(const Decision *d, void *userdata) {
        Bus *b = userdata;

        if (d->group >= 0)
                bus_emit_group_changed(b, (unsigned) d->group);
        if (d->kind != DECISION_VIOLATION)
                return;

        _cleanup_free_ char *rule = NULL;
        if (d->rule_name)
                rule = strdup(bus_safe_string(d->rule_name));
        else if (asprintf(&rule, "%s:%u", bus_safe_string(d->rule.file), d->rule.line) < 0)
                rule = NULL;

        (void) sd_bus_emit_signal(b->bus, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, "Violation", "ssuss", d->address,
                                  bus_safe_string(d->driver), d->group >= 0 ? (uint32_t) d->group : UINT32_MAX,
                                  rule ?: "", d->dry_run || d->n_steps == 0 ? "log" : "unbind");
        bus_emit_manager_changed(b, "Violations");
}

static void on_device_changed(const char *address, void *userdata) {
        Bus *b = userdata;
        const Device *d;

        bus_emit_device_changed(b, address);
        d = model_find_device(b->manager->model, address);
        if (d && d->id.iommu_group >= 0)
                bus_emit_group_changed(b, (unsigned) d->id.iommu_group);
        else if (!d) /* removed: its old group lost a member, and we no longer know which one it was */
                for (size_t i = 0; i < b->manager->model->n_groups; i++)
                        bus_emit_group_changed(b, b->manager->model->groups[i].number);
        bus_emit_manager_changed(b, "Writes");
}

static void on_model_rebuilt(void *userdata) {
        bus_emit_all_changed(userdata);
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
        bus_emit_all_changed(b);
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
        free(b);
        return NULL;
}
