/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Questions asked of a policy on every event: which drivers may sit in a user-owned group, and which reservation
 * selects a device. Called per device per event, so integer comparisons come before any glob. */

#include <fnmatch.h>

#include "policy-internal.h"
#include "policy.h"

/* Drivers that set driver_managed_dma in the kernel: they never claim kernel DMA ownership of a group, so they may
 * share a group with a vfio user. The vfio ones come first (see POLICY_N_VFIO_DRIVERS). */
const char *const policy_builtin_drivers[] = {
        "vfio-pci",
        "*-vfio-pci",
        "*_vfio_pci",
        "pci-stub",
        "pcieport",
};
const size_t policy_n_builtin_drivers = ELEMENTSOF(policy_builtin_drivers);

static bool match_builtin(const char *driver, size_t n) {
        if (!driver_name_is_valid(driver))
                return false;
        for (size_t i = 0; i < n; i++)
                if (fnmatch(policy_builtin_drivers[i], driver, 0) == 0)
                        return true;
        return false;
}

bool driver_manages_dma(const char *driver) {
        return match_builtin(driver, policy_n_builtin_drivers);
}

bool driver_is_vfio(const char *driver) {
        return match_builtin(driver, POLICY_N_VFIO_DRIVERS);
}

static const DriverGlob *find_glob(const DriverGlob *l, size_t n, const char *driver) {
        for (size_t i = 0; i < n; i++)
                if (fnmatch(l[i].pattern, driver, 0) == 0)
                        return &l[i];
        return NULL;
}

DriverVerdict policy_driver_verdict(const Policy *p, const char *driver, const SourceMark **ret_mark) {
        const DriverGlob *g = NULL;
        DriverVerdict v = DRIVER_NOT_ALLOWED;

        if (driver_name_is_valid(driver)) {
                g = find_glob(p->denied_drivers, p->n_denied_drivers, driver);
                if (g)
                        v = DRIVER_DENIED;
                else {
                        g = find_glob(p->allowed_drivers, p->n_allowed_drivers, driver);
                        if (g)
                                v = DRIVER_ALLOWED;
                }
        }
        if (ret_mark)
                *ret_mark = g ? &g->mark : NULL;
        return v;
}

bool device_match(const DeviceMatch *m, const PciIdentity *id) {
        if (m->vendor >= 0 && (uint32_t) m->vendor != id->vendor)
                return false;
        if (m->device >= 0 && (uint32_t) m->device != id->device)
                return false;
        if (m->subsystem_vendor >= 0 && (uint32_t) m->subsystem_vendor != id->subsystem_vendor)
                return false;
        if (m->subsystem_device >= 0 && (uint32_t) m->subsystem_device != id->subsystem_device)
                return false;
        if (m->has_class && ((id->class ^ m->class_value) & m->class_mask) != 0)
                return false;
        if (m->iommu_group >= 0 && m->iommu_group != id->iommu_group)
                return false;
        if (m->address_glob && fnmatch(m->address_glob, id->address, 0) != 0)
                return false;
        return true;
}

const Reservation *policy_match_reservation(const Policy *p, const PciIdentity *id) {
        for (size_t i = 0; i < p->n_reservations; i++)
                if (device_match(&p->reservations[i].match, id))
                        return &p->reservations[i];
        return NULL;
}

const char *policy_mode_to_string(PolicyMode m) {
        switch (m) {
        case POLICY_MODE_ENFORCE:
                return "enforce";
        case POLICY_MODE_AUDIT:
                return "audit";
        }
        return NULL;
}

const char *violation_action_to_string(ViolationAction a) {
        switch (a) {
        case VIOLATION_UNBIND:
                return "unbind";
        case VIOLATION_LOG:
                return "log";
        }
        return NULL;
}
