/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.dmaownerd1.Group: one object per IOMMU group, /org/dmaownerd1/group/N. */

#include <errno.h>
#include <stdlib.h>

#include "bus-internal.h"
#include "dma-ownerd/macro.h"

static const Group *group_from_path(Bus *b, const char *path) {
        _cleanup_free_ char *label = NULL;
        unsigned number;

        if (sd_bus_path_decode(path, DMAOWNERD_GROUP_PATH_PREFIX, &label) <= 0)
                return NULL;
        if (bus_parse_group_number(label, &number) < 0)
                return NULL;
        return model_find_group(b->manager->model, number);
}

int bus_group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                   sd_bus_error *error) {
        Bus *b = userdata;

        if (!group_from_path(b, path))
                return 0;
        *ret_found = b;
        return 1;
}

int bus_group_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Bus *b = userdata;
        const Model *model = b->manager->model;
        _cleanup_strv_free_ char **nodes = NULL;
        int r;

        nodes = calloc(model->n_groups + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < model->n_groups; i++) {
                r = bus_group_path(model->groups[i].number, &nodes[i]);
                if (r < 0)
                        return r;
        }
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

/* The getters look the group up again: the model may have changed since the object was found. */
#define GROUP_OR_FAIL(g, b, path, error)                                                                           \
        const Group *g = group_from_path((b), (path));                                                             \
        if (!g)                                                                                                    \
                return sd_bus_error_set(error, DMAOWNERD_ERROR_NO_SUCH_GROUP, "The group is gone")

static int property_get_number(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        GROUP_OR_FAIL(g, userdata, path, error);
        return sd_bus_message_append(reply, "u", g->number);
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r;

        GROUP_OR_FAIL(g, b, path, error);
        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_members; i++) {
                _cleanup_free_ char *p = NULL;
                r = bus_device_path(model_group_member(b->manager->model, g, i)->id.address, &p);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_owner(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        GROUP_OR_FAIL(g, userdata, path, error);
        return sd_bus_message_append(reply, "s", dma_owner_to_string(g->owner));
}

static int property_get_holders(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        int r;

        GROUP_OR_FAIL(g, userdata, path, error);
        r = sd_bus_message_open_container(reply, 'a', "(uss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_holders; i++) {
                const Holder *h = &g->holders[i];
                r = sd_bus_message_append(reply, "(uss)", (uint32_t) h->pid, bus_safe_string(h->comm),
                                          bus_safe_string(h->unit));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static bool group_is_reserved(const Bus *b, const Group *g) {
        for (size_t i = 0; i < g->n_members; i++)
                if (policy_match_reservation(b->manager->policy, &model_group_member(b->manager->model, g, i)->id))
                        return true;
        return false;
}

static int property_get_reserved(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        GROUP_OR_FAIL(g, userdata, path, error);
        return sd_bus_message_append(reply, "b", group_is_reserved(userdata, g));
}

/* vfio takes a group only when no member is bound to a driver that claims kernel DMA. */
static bool member_blocks(const Device *d) {
        return d->driver && !driver_manages_dma(d->driver);
}

static int property_get_viable(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        bool viable = true;

        GROUP_OR_FAIL(g, b, path, error);
        for (size_t i = 0; i < g->n_members && viable; i++)
                viable = !member_blocks(model_group_member(b->manager->model, g, i));
        return sd_bus_message_append(reply, "b", viable);
}

static int property_get_blockers(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r;

        GROUP_OR_FAIL(g, b, path, error);
        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_members; i++) {
                const Device *d = model_group_member(b->manager->model, g, i);
                _cleanup_free_ char *line = NULL;

                if (!member_blocks(d))
                        continue;
                if (asprintf(&line, "%s is bound to %s, which claims kernel DMA", d->id.address,
                             bus_safe_string(d->driver)) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "s", line);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable bus_group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Number", "u", property_get_number, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "s", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Holders", "a(uss)", property_get_holders, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reserved", "b", property_get_reserved, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Viable", "b", property_get_viable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Blockers", "as", property_get_blockers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};
