/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.dmaownerd1.Device: one object per PCI device, /org/dmaownerd1/device/<sd_bus_path_encode(address)>. */

#include <errno.h>
#include <stdlib.h>

#include "bus-internal.h"
#include "dma-ownerd/macro.h"

static const Device *device_from_path(Bus *b, const char *path) {
        _cleanup_free_ char *label = NULL;

        if (sd_bus_path_decode(path, DMAOWNERD_DEVICE_PATH_PREFIX, &label) <= 0)
                return NULL;
        /* Whatever the path decoded to, nothing but a well-formed address goes further. */
        if (!pci_address_is_valid(label))
                return NULL;
        return model_find_device(b->manager->model, label);
}

int bus_device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                    sd_bus_error *error) {
        Bus *b = userdata;

        if (!device_from_path(b, path))
                return 0;
        *ret_found = b;
        return 1;
}

int bus_device_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Bus *b = userdata;
        const Model *model = b->manager->model;
        _cleanup_strv_free_ char **nodes = NULL;
        size_t n = 0;
        int r;

        nodes = calloc(model->n_devices + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < model->n_devices; i++) {
                if (!pci_address_is_valid(model->devices[i].id.address))
                        continue;
                r = bus_device_path(model->devices[i].id.address, &nodes[n]);
                if (r < 0)
                        return r;
                n++;
        }
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

#define DEVICE_OR_FAIL(d, b, path, error)                                                                          \
        const Device *d = device_from_path((b), (path));                                                           \
        if (!d)                                                                                                    \
                return sd_bus_error_set(error, DMAOWNERD_ERROR_NO_SUCH_DEVICE, "The device is gone")

static const char *driver_or_empty(const char *driver) {
        return driver && driver_name_is_valid(driver) ? bus_safe_string(driver) : "";
}

static int property_get_address(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        DEVICE_OR_FAIL(d, userdata, path, error);
        return sd_bus_message_append(reply, "s", d->id.address);
}

static int property_get_ids(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        uint16_t v;

        DEVICE_OR_FAIL(d, userdata, path, error);
        if (streq_ptr(property, "VendorId"))
                v = d->id.vendor;
        else if (streq_ptr(property, "DeviceId"))
                v = d->id.device;
        else if (streq_ptr(property, "SubsystemVendorId"))
                v = d->id.subsystem_vendor;
        else
                v = d->id.subsystem_device;
        return sd_bus_message_append(reply, "q", v);
}

static int property_get_class(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        DEVICE_OR_FAIL(d, userdata, path, error);
        return sd_bus_message_append(reply, "u", d->id.class);
}

static int property_get_driver(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        DEVICE_OR_FAIL(d, userdata, path, error);
        return sd_bus_message_append(reply, "s",
                                     driver_or_empty(streq_ptr(property, "Driver") ? d->driver : d->driver_override));
}

static int property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        bool v;

        DEVICE_OR_FAIL(d, userdata, path, error);
        if (streq_ptr(property, "DriverManagesDma"))
                v = d->driver && driver_manages_dma(d->driver);
        else if (streq_ptr(property, "IsBridge"))
                v = d->is_bridge;
        else
                v = d->pinned;
        return sd_bus_message_append(reply, "b", v);
}

static int property_get_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *p = NULL;
        int r;

        DEVICE_OR_FAIL(d, userdata, path, error);
        if (d->id.iommu_group < 0)
                return sd_bus_message_append(reply, "o", "/");
        r = bus_group_path((unsigned) d->id.iommu_group, &p);
        if (r < 0)
                return r;
        return sd_bus_message_append(reply, "o", p);
}

static int property_get_network_interfaces(sd_bus *bus, const char *path, const char *interface,
                                           const char *property, sd_bus_message *reply, void *userdata,
                                           sd_bus_error *error) {
        int r;

        DEVICE_OR_FAIL(d, userdata, path, error);
        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_net; i++) {
                r = sd_bus_message_append(reply, "s", bus_safe_string(d->net[i].name));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable bus_device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", property_get_address, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorId", "q", property_get_ids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DeviceId", "q", property_get_ids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemVendorId", "q", property_get_ids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemDeviceId", "q", property_get_ids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "u", property_get_class, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Driver", "s", property_get_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DriverOverride", "s", property_get_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DriverManagesDma", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Group", "o", property_get_group, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NetworkInterfaces", "as", property_get_network_interfaces, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IsBridge", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pinned", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};
