/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.dmaownerd1.Manager at /org/dmaownerd1. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "bus-internal.h"
#include "config.h"
#include "dma-ownerd/macro.h"

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_mode(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        return sd_bus_message_append(reply, "s", policy_mode_to_string(manager_effective_mode(b->manager)));
}

static int property_get_kernel_dma_ownership(sd_bus *bus, const char *path, const char *interface,
                                             const char *property, sd_bus_message *reply, void *userdata,
                                             sd_bus_error *error) {
        Bus *b = userdata;
        return sd_bus_message_append(reply, "b", b->manager->model->kernel_dma_ownership);
}

static int property_get_policy_files(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Policy *p = b->manager->policy;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_files; i++) {
                r = sd_bus_message_append(reply, "s", bus_safe_string(p->files[i]));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_policy_error(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        return sd_bus_message_append(reply, "s", b->policy_error ?: "");
}

static int property_get_counter(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        uint64_t v;

        if (streq_ptr(property, "Violations"))
                v = b->manager->violations;
        else if (streq_ptr(property, "Writes"))
                v = b->manager->writes;
        else
                v = b->manager->write_failures;
        return sd_bus_message_append(reply, "t", v);
}

static int method_list_groups(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Bus *b = userdata;
        const Model *model = b->manager->model;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(uo)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < model->n_groups; i++) {
                _cleanup_free_ char *p = NULL;
                r = bus_group_path(model->groups[i].number, &p);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(uo)", model->groups[i].number, p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_devices(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Bus *b = userdata;
        const Model *model = b->manager->model;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(so)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < model->n_devices; i++) {
                _cleanup_free_ char *p = NULL;
                if (bus_device_path(model->devices[i].id.address, &p) < 0)
                        continue;
                r = sd_bus_message_append(reply, "(so)", model->devices[i].id.address, p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *p = NULL;
        Bus *b = userdata;
        uint32_t number;
        int r;

        r = sd_bus_message_read(message, "u", &number);
        if (r < 0)
                return r;
        if (!model_find_group(b->manager->model, number))
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_NO_SUCH_GROUP, "No IOMMU group %" PRIu32, number);
        r = bus_group_path(number, &p);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", p);
}

static int method_get_device(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *p = NULL;
        const char *address;
        Bus *b = userdata;
        int r;

        r = sd_bus_message_read(message, "s", &address);
        if (r < 0)
                return r;
        /* The argument is never echoed back: it may be anything. */
        if (!pci_address_is_valid(address))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid PCI address, expected dddd:bb:dd.f in lower-case hex");
        if (!model_find_device(b->manager->model, address))
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_NO_SUCH_DEVICE, "No PCI device %s", address);
        r = bus_device_path(address, &p);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", p);
}

/* Reads the target argument (the next "s") and resolves it to a group, or fills `error`. */
static int read_target(Bus *b, sd_bus_message *message, unsigned *ret_group, sd_bus_error *error) {
        const char *target;
        int r;

        r = sd_bus_message_read(message, "s", &target);
        if (r < 0)
                return r;
        r = manager_resolve_target(b->manager, target, ret_group);
        switch (r) {
        case 0:
                return 0;
        case -EINVAL:
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid target, expected a PCI address dddd:bb:dd.f or an IOMMU group number");
        case -ENXIO:
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_NO_SUCH_DEVICE, "No PCI device %s", target);
        case -ENOENT:
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_NO_SUCH_GROUP, "No IOMMU group %s", target);
        case -EDOM:
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_NOT_VIABLE, "PCI device %s has no IOMMU group", target);
        default:
                return r;
        }
}

static int method_check_assign(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **reasons = NULL;
        Bus *b = userdata;
        unsigned group;
        bool viable;
        int r;

        r = read_target(b, message, &group, error);
        if (r < 0)
                return r;
        r = manager_check_assign(b->manager, group, &viable, &reasons);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "b", viable);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, reasons);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int reply_with_report(sd_bus_message *message, const AssignReport *rep) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char *empty[] = { NULL };
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, rep->lines ?: empty);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int assign_error(int r, unsigned group, const AssignReport *rep, sd_bus_error *error) {
        const char *msg = rep->message;

        switch (r) {
        case -ENOENT:
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_NO_SUCH_GROUP, "No IOMMU group %u", group);
        case -EADDRINUSE:
                return sd_bus_error_set(error, DMAOWNERD_ERROR_IN_USE, msg ?: "A network interface is in use");
        case -EBUSY:
                return sd_bus_error_set(error, DMAOWNERD_ERROR_BUSY, msg ?: "The group is busy");
        case -EPERM:
                return sd_bus_error_set(error, DMAOWNERD_ERROR_RESERVED_BY_POLICY, msg ?: "The policy reserves the group");
        case -EINVAL:
                return sd_bus_error_set(error, DMAOWNERD_ERROR_POLICY_INVALID, msg ?: "The policy did not load");
        case -EOPNOTSUPP:
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "No admin policy directory is configured to persist into");
        default:
                if (msg)
                        return sd_bus_error_set_errnof(error, r, "%s", msg);
                return sd_bus_error_set_errnof(error, r, "Group %u: %m", group);
        }
}

static int read_flags(sd_bus_message *message, uint64_t *ret, sd_bus_error *error) {
        uint64_t flags;
        int r;

        r = sd_bus_message_read(message, "t", &flags);
        if (r < 0)
                return r;
        if (flags & ~(DMAOWNERD_ASSIGN_FORCE | DMAOWNERD_ASSIGN_PERSIST))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown flags 0x%" PRIx64,
                                         flags & ~(DMAOWNERD_ASSIGN_FORCE | DMAOWNERD_ASSIGN_PERSIST));
        *ret = flags;
        return 0;
}

/* Arguments are checked before polkit is asked, so a malformed call never prompts anybody; the continuation reads
 * them again from the kept message. */
static int validate_target_and_flags(Bus *b, sd_bus_message *message, sd_bus_error *error) {
        unsigned group = 0;
        uint64_t flags = 0;
        int r;

        r = read_target(b, message, &group, error);
        if (r < 0)
                return r;
        r = read_flags(message, &flags, error);
        if (r < 0)
                return r;
        return sd_bus_message_rewind(message, true);
}

static int assign_or_release_authorized(sd_bus_message *message, Bus *b, bool assign, sd_bus_error *error) {
        _cleanup_(assign_report_done) AssignReport rep = {};
        unsigned group = 0;
        uint64_t flags = 0;
        int r;

        r = sd_bus_message_rewind(message, true);
        if (r < 0)
                return r;
        r = read_target(b, message, &group, error);
        if (r < 0)
                return r;
        r = read_flags(message, &flags, error);
        if (r < 0)
                return r;

        if (assign)
                r = manager_assign_group(b->manager, group, flags, &rep);
        else
                r = manager_release_group(b->manager, group, flags, &rep);
        /* Overrides of the members may have changed too, whether or not the whole move succeeded. */
        const Group *g = model_find_group(b->manager->model, group);
        for (size_t i = 0; g && i < g->n_members; i++)
                bus_sync_device(b, model_group_member(b->manager->model, g, i)->id.address);
        bus_sync_group(b, group);
        bus_sync_manager(b);
        if (r < 0)
                return assign_error(r, group, &rep, error);
        return reply_with_report(message, &rep);
}

static int assign_authorized(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return assign_or_release_authorized(message, userdata, true, error);
}

static int release_authorized(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return assign_or_release_authorized(message, userdata, false, error);
}

static int method_assign_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = validate_target_and_flags(b, message, error);
        if (r < 0)
                return r;
        return polkit_authorize(b->polkit, message, POLKIT_ACTION_ASSIGN, assign_authorized, b, error);
}

static int method_release_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = validate_target_and_flags(b, message, error);
        if (r < 0)
                return r;
        return polkit_authorize(b->polkit, message, POLKIT_ACTION_ASSIGN, release_authorized, b, error);
}

static int reload_authorized(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r;

        r = manager_reload(b->manager);
        if (r == -EINVAL)
                return sd_bus_error_setf(error, DMAOWNERD_ERROR_POLICY_INVALID, "The policy was rejected, the previous "
                                                                          "one stays in force: %s",
                                         b->policy_error && *b->policy_error ? b->policy_error : "see the log");
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        return polkit_authorize(b->polkit, message, POLKIT_ACTION_MANAGE, reload_authorized, b, error);
}

static int rescan_authorized(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r;

        r = manager_rescan(b->manager);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Re-scan failed: %m");
        bus_sync_all(b);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_rescan(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        return polkit_authorize(b->polkit, message, POLKIT_ACTION_MANAGE, rescan_authorized, b, error);
}

static int parse_mode(sd_bus_message *message, PolicyMode *ret, sd_bus_error *error) {
        const char *mode;
        int r;

        r = sd_bus_message_read(message, "s", &mode);
        if (r < 0)
                return r;
        if (streq_ptr(mode, "enforce"))
                *ret = POLICY_MODE_ENFORCE;
        else if (streq_ptr(mode, "audit"))
                *ret = POLICY_MODE_AUDIT;
        else
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid mode, expected enforce or audit");
        return 0;
}

static int set_mode_authorized(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        PolicyMode mode;
        int r;

        r = sd_bus_message_rewind(message, true);
        if (r < 0)
                return r;
        r = parse_mode(message, &mode, error);
        if (r < 0)
                return r;
        r = manager_set_mode_override(b->manager, mode);
        bus_sync_manager(b);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Mode changed, but the reconciliation failed: %m");
        return sd_bus_reply_method_return(message, NULL);
}

static int method_set_mode(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        PolicyMode mode;
        int r;

        r = parse_mode(message, &mode, error);
        if (r < 0)
                return r;
        return polkit_authorize(b->polkit, message, POLKIT_ACTION_MANAGE, set_mode_authorized, b, error);
}

const sd_bus_vtable bus_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Mode", "s", property_get_mode, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("KernelDmaOwnership", "b", property_get_kernel_dma_ownership, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PolicyFiles", "as", property_get_policy_files, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PolicyError", "s", property_get_policy_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Violations", "t", property_get_counter, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Writes", "t", property_get_counter, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("WriteFailures", "t", property_get_counter, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

        SD_BUS_METHOD_WITH_ARGS("ListGroups", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(uo)", groups), method_list_groups,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(so)", devices), method_list_devices,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetGroup", SD_BUS_ARGS("u", number), SD_BUS_RESULT("o", group), method_get_group,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetDevice", SD_BUS_ARGS("s", address), SD_BUS_RESULT("o", device),
                                method_get_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CheckAssign", SD_BUS_ARGS("s", target), SD_BUS_RESULT("b", viable, "as", reasons),
                                method_check_assign, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AssignGroup", SD_BUS_ARGS("s", target, "t", flags), SD_BUS_RESULT("as", report),
                                method_assign_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseGroup", SD_BUS_ARGS("s", target, "t", flags), SD_BUS_RESULT("as", report),
                                method_release_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", NULL, NULL, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Rescan", NULL, NULL, method_rescan, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetMode", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT, method_set_mode,
                                SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_SIGNAL_WITH_ARGS("Violation",
                                SD_BUS_ARGS("s", device, "s", driver, "u", group, "s", rule, "s", action), 0),
        SD_BUS_SIGNAL_WITH_ARGS("PolicyReloaded", SD_BUS_ARGS("b", ok, "s", error), 0),
        SD_BUS_VTABLE_END,
};
