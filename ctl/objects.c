/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dma-ownerd/bus-names.h"
#include "dma-ownerd/macro.h"
#include "objects.h"

/* A GetAll reply mapped onto a struct: one entry per property we understand. Unknown properties and properties whose
 * type is not the expected one are skipped, so a newer daemon that adds properties does not break an older CLI. */
typedef int (*PropertyReader)(sd_bus_message *m, void *field);

typedef struct PropertyMap {
        const char *name;
        const char *signature;
        PropertyReader read;
        size_t offset;
} PropertyMap;

static int read_string(sd_bus_message *m, void *field) {
        char **s = field;
        const char *v;
        char *copy, type;
        int r;

        /* Strings and object paths alike. */
        r = sd_bus_message_peek_type(m, &type, NULL);
        if (r < 0)
                return r;
        if (r == 0 || (type != 's' && type != 'o'))
                return -EBADMSG;
        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        free(*s);
        *s = copy;
        return 0;
}

static int read_strv(sd_bus_message *m, void *field) {
        char ***l = field;
        char **v = NULL;
        int r;

        r = sd_bus_message_read_strv(m, &v);
        if (r < 0)
                return r;
        strv_free(*l);
        *l = v;
        return 0;
}

static int read_bool(sd_bus_message *m, void *field) {
        int b, r;

        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r < 0)
                return r;
        *(bool *) field = b;
        return 0;
}

static int read_u16(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'q', field);
}

static int read_u32(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'u', field);
}

static int read_u64(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 't', field);
}

static void holders_free(Holder *h, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(h[i].comm);
                free(h[i].unit);
        }
        free(h);
}

static int read_holders(sd_bus_message *m, void *field) {
        GroupInfo *g = (GroupInfo *) ((char *) field - offsetof(GroupInfo, holders));
        Holder *h = NULL;
        size_t n = 0;
        uint32_t pid;
        const char *comm, *unit;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(uss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(uss)", &pid, &comm, &unit)) > 0) {
                Holder *grown = reallocarray(h, n + 1, sizeof *h);
                if (!grown) {
                        holders_free(h, n);
                        return -ENOMEM;
                }
                h = grown;
                h[n] = (Holder) { .pid = pid, .comm = strdup(comm), .unit = strdup(unit) };
                n++;
                if (!h[n - 1].comm || !h[n - 1].unit) {
                        holders_free(h, n);
                        return -ENOMEM;
                }
        }
        if (r < 0) {
                holders_free(h, n);
                return r;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0) {
                holders_free(h, n);
                return r;
        }

        holders_free(g->holders, g->n_holders);
        g->holders = h;
        g->n_holders = n;
        return 0;
}

static int map_properties(sd_bus_message *m, const PropertyMap *map, void *userdata) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const PropertyMap *p = NULL;
                const char *name, *contents;
                char type;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;

                for (const PropertyMap *i = map; i->name; i++)
                        if (strcmp(i->name, name) == 0) {
                                p = i;
                                break;
                        }

                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (!p || type != 'v' || strcmp(contents, p->signature) != 0) {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r < 0)
                                return r;
                        r = p->read(m, (char *) userdata + p->offset);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

static int get_all(sd_bus *bus, const char *path, const char *interface, const PropertyMap *map, void *userdata,
                   sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", error,
                               &reply, "s", interface);
        if (r < 0)
                return r;
        r = map_properties(reply, map, userdata);
        sd_bus_message_unref(reply);
        return r;
}

void device_info_clear(DeviceInfo *d) {
        if (!d)
                return;
        free(d->path);
        free(d->address);
        free(d->driver);
        free(d->driver_override);
        free(d->group);
        strv_free(d->network_interfaces);
        *d = (DeviceInfo) {};
}

void group_info_clear(GroupInfo *g) {
        if (!g)
                return;
        free(g->path);
        strv_free(g->devices);
        free(g->owner);
        holders_free(g->holders, g->n_holders);
        strv_free(g->blockers);
        for (size_t i = 0; i < g->n_device_infos; i++)
                device_info_clear(&g->device_infos[i]);
        free(g->device_infos);
        *g = (GroupInfo) {};
}

void manager_info_clear(ManagerInfo *m) {
        if (!m)
                return;
        free(m->version);
        free(m->mode);
        strv_free(m->policy_files);
        free(m->policy_error);
        *m = (ManagerInfo) {};
}

int device_fetch(sd_bus *bus, const char *path, DeviceInfo *ret, sd_bus_error *error) {
        static const PropertyMap map[] = {
                { "Address", "s", read_string, offsetof(DeviceInfo, address) },
                { "VendorId", "q", read_u16, offsetof(DeviceInfo, vendor_id) },
                { "DeviceId", "q", read_u16, offsetof(DeviceInfo, device_id) },
                { "SubsystemVendorId", "q", read_u16, offsetof(DeviceInfo, subsystem_vendor_id) },
                { "SubsystemDeviceId", "q", read_u16, offsetof(DeviceInfo, subsystem_device_id) },
                { "Class", "u", read_u32, offsetof(DeviceInfo, class) },
                { "Driver", "s", read_string, offsetof(DeviceInfo, driver) },
                { "DriverOverride", "s", read_string, offsetof(DeviceInfo, driver_override) },
                { "DriverManagesDma", "b", read_bool, offsetof(DeviceInfo, driver_manages_dma) },
                { "Group", "o", read_string, offsetof(DeviceInfo, group) },
                { "NetworkInterfaces", "as", read_strv, offsetof(DeviceInfo, network_interfaces) },
                { "IsBridge", "b", read_bool, offsetof(DeviceInfo, is_bridge) },
                { "Pinned", "b", read_bool, offsetof(DeviceInfo, pinned) },
                {}
        };
        DeviceInfo d = {};
        int r;

        d.path = strdup(path);
        if (!d.path)
                return -ENOMEM;
        r = get_all(bus, path, DMAOWNERD_DEVICE_INTERFACE, map, &d, error);
        if (r < 0) {
                device_info_clear(&d);
                return r;
        }
        *ret = d;
        return 0;
}

int group_fetch(sd_bus *bus, const char *path, GroupInfo *ret, sd_bus_error *error) {
        static const PropertyMap map[] = {
                { "Number", "u", read_u32, offsetof(GroupInfo, number) },
                { "Devices", "ao", read_strv, offsetof(GroupInfo, devices) },
                { "Owner", "s", read_string, offsetof(GroupInfo, owner) },
                { "Holders", "a(uss)", read_holders, offsetof(GroupInfo, holders) },
                { "Reserved", "b", read_bool, offsetof(GroupInfo, reserved) },
                { "Viable", "b", read_bool, offsetof(GroupInfo, viable) },
                { "Blockers", "as", read_strv, offsetof(GroupInfo, blockers) },
                {}
        };
        GroupInfo g = {};
        int r;

        g.path = strdup(path);
        if (!g.path)
                return -ENOMEM;
        r = get_all(bus, path, DMAOWNERD_GROUP_INTERFACE, map, &g, error);
        if (r < 0) {
                group_info_clear(&g);
                return r;
        }
        *ret = g;
        return 0;
}

static int device_info_compare(const void *a, const void *b) {
        const DeviceInfo *x = a, *y = b;
        return strcmp(x->address ? x->address : "", y->address ? y->address : "");
}

int group_fetch_devices(sd_bus *bus, GroupInfo *g, sd_bus_error *error) {
        size_t n = 0;
        DeviceInfo *d;
        int r;

        for (char **p = g->devices; p && *p; p++)
                n++;
        d = calloc(n ? n : 1, sizeof *d);
        if (!d)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                r = device_fetch(bus, g->devices[i], &d[i], error);
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                device_info_clear(&d[j]);
                        free(d);
                        return r;
                }
        }
        qsort(d, n, sizeof *d, device_info_compare);

        for (size_t i = 0; i < g->n_device_infos; i++)
                device_info_clear(&g->device_infos[i]);
        free(g->device_infos);
        g->device_infos = d;
        g->n_device_infos = n;
        return 0;
}

int manager_fetch(sd_bus *bus, ManagerInfo *ret, sd_bus_error *error) {
        static const PropertyMap map[] = {
                { "Version", "s", read_string, offsetof(ManagerInfo, version) },
                { "Mode", "s", read_string, offsetof(ManagerInfo, mode) },
                { "KernelDmaOwnership", "b", read_bool, offsetof(ManagerInfo, kernel_dma_ownership) },
                { "PolicyFiles", "as", read_strv, offsetof(ManagerInfo, policy_files) },
                { "PolicyError", "s", read_string, offsetof(ManagerInfo, policy_error) },
                { "Violations", "t", read_u64, offsetof(ManagerInfo, violations) },
                {}
        };
        ManagerInfo m = {};
        int r;

        r = get_all(bus, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE, map, &m, error);
        if (r < 0) {
                manager_info_clear(&m);
                return r;
        }
        *ret = m;
        return 0;
}

static int strv_push(char ***l, size_t *n, const char *s) {
        char **grown;
        char *copy = strdup(s);

        if (!copy)
                return -ENOMEM;
        grown = reallocarray(*l, *n + 2, sizeof(char *));
        if (!grown) {
                free(copy);
                return -ENOMEM;
        }
        grown[(*n)++] = copy;
        grown[*n] = NULL;
        *l = grown;
        return 0;
}

/* One element of a struct array: keep the first object path, skip the rest. */
static int read_struct_object(sd_bus_message *m, const char *contents, char ***l, size_t *n) {
        bool found = false;
        int r;

        r = sd_bus_message_enter_container(m, 'r', contents);
        if (r < 0)
                return r;
        for (;;) {
                char type;

                r = sd_bus_message_peek_type(m, &type, NULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (type == 'o' && !found) {
                        const char *path;

                        r = sd_bus_message_read_basic(m, 'o', &path);
                        if (r < 0)
                                return r;
                        r = strv_push(l, n, path);
                        if (r < 0)
                                return r;
                        found = true;
                } else {
                        /* NULL skips exactly one complete element, whatever its type. */
                        r = sd_bus_message_skip(m, NULL);
                        if (r < 0)
                                return r;
                }
        }
        if (!found)
                return -EBADMSG;
        return sd_bus_message_exit_container(m);
}

int manager_list_objects(sd_bus *bus, const char *method, char ***ret, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        char **l = NULL;
        size_t n = 0;
        const char *contents;
        char type;
        int r;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                               method, error, &reply, NULL);
        if (r < 0)
                return r;

        r = sd_bus_message_peek_type(reply, &type, &contents);
        if (r <= 0 || type != 'a') {
                r = r < 0 ? r : -EBADMSG;
                goto finish;
        }

        if (strcmp(contents, "o") == 0) {
                r = sd_bus_message_read_strv(reply, &l);
                goto finish;
        }
        if (contents[0] != '(') {
                r = -EBADMSG;
                goto finish;
        }

        {
                _cleanup_free_ char *inner = strndup(contents + 1, strlen(contents) - 2);
                if (!inner) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = sd_bus_message_enter_container(reply, 'a', contents);
                if (r < 0)
                        goto finish;
                while ((r = sd_bus_message_at_end(reply, false)) == 0) {
                        r = read_struct_object(reply, inner, &l, &n);
                        if (r < 0)
                                goto finish;
                }
                if (r < 0)
                        goto finish;
                r = sd_bus_message_exit_container(reply);
        }

finish:
        sd_bus_message_unref(reply);
        if (r < 0) {
                strv_free(l);
                return r;
        }
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = l;
        return 0;
}

static int group_info_compare(const void *a, const void *b) {
        const GroupInfo *x = a, *y = b;
        return x->number < y->number ? -1 : x->number > y->number;
}

void group_infos_free(GroupInfo *g, size_t n) {
        for (size_t i = 0; i < n; i++)
                group_info_clear(&g[i]);
        free(g);
}

int fetch_all_groups(sd_bus *bus, GroupInfo **ret, size_t *ret_n, sd_bus_error *error) {
        _cleanup_strv_free_ char **paths = NULL;
        GroupInfo *g;
        size_t n = 0;
        int r;

        r = manager_list_objects(bus, "ListGroups", &paths, error);
        if (r < 0)
                return r;
        for (char **p = paths; *p; p++)
                n++;

        g = calloc(n ? n : 1, sizeof *g);
        if (!g)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = group_fetch(bus, paths[i], &g[i], error);
                if (r >= 0)
                        r = group_fetch_devices(bus, &g[i], error);
                if (r < 0) {
                        group_infos_free(g, i + 1);
                        return r;
                }
        }
        qsort(g, n, sizeof *g, group_info_compare);

        *ret = g;
        *ret_n = n;
        return 0;
}

int manager_get_group(sd_bus *bus, uint32_t number, char **ret, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const char *path;
        char *copy;
        int r;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                               "GetGroup", error, &reply, "u", number);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        copy = r >= 0 ? strdup(path) : NULL;
        sd_bus_message_unref(reply);
        if (r < 0)
                return r;
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int manager_get_device(sd_bus *bus, const char *address, char **ret, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const char *path;
        char *copy;
        int r;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                               "GetDevice", error, &reply, "s", address);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        copy = r >= 0 ? strdup(path) : NULL;
        sd_bus_message_unref(reply);
        if (r < 0)
                return r;
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}
