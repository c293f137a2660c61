/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus face of dma-ownerd: bus name org.dmaownerd1 on the system bus (DBUS_SYSTEM_BUS_ADDRESS points it
 * elsewhere in tests). The names are a contract that dma-ownerctl and the docs depend on:
 *
 * /org/dmaownerd1                      org.dmaownerd1.Manager
 *   properties  Version s, Mode s ("enforce" | "audit", the effective one), KernelDmaOwnership b, PolicyFiles as,
 *               PolicyError s ("" while the policy is good), Violations t, Writes t, WriteFailures t
 *   methods     ListGroups() → a(uo)               group number, object path
 *               ListDevices() → a(so)              address, object path
 *               GetGroup(u number) → o
 *               GetDevice(s address) → o
 *               CheckAssign(s target) → (b viable, as reasons)   reasons: what it would do, or why it cannot
 *               AssignGroup(s target, t flags) → as report        flags: 1 force, 2 persist
 *               ReleaseGroup(s target, t flags) → as report       flags: 2 persist (removes the persisted file)
 *               Reload()    re-read the policy        SetMode(s mode)   "enforce" | "audit", until restart
 *               Rescan()    re-read sysfs from scratch, then reconcile every group
 *   signals     Violation(s device, s driver, u group, s rule, s action)   action: "unbind" or "log"
 *               PolicyReloaded(b ok, s error)
 * /org/dmaownerd1/group/N              org.dmaownerd1.Group (N decimal; "_3N" as sd_bus_path_encode makes it is
 *                                      accepted too)
 *   properties  Number u, Devices ao, Owner s ("none" | "kernel" | "user"), Holders a(uss) (pid, comm, unit),
 *               Reserved b, Viable b, Blockers as
 * /org/dmaownerd1/device/<sd_bus_path_encode(address)>   org.dmaownerd1.Device
 *   properties  Address s, VendorId q, DeviceId q, SubsystemVendorId q, SubsystemDeviceId q, Class u, Driver s,
 *               DriverOverride s, DriverManagesDma b, Group o ("/" when none), NetworkInterfaces as, IsBridge b,
 *               Pinned b
 *
 * A target is a PCI address "dddd:bb:dd.f" or a decimal group number. Errors: org.dmaownerd1.Error.NoSuchDevice,
 * NoSuchGroup, NotViable, InUse, PolicyInvalid, Busy, ReservedByPolicy; malformed arguments get
 * org.freedesktop.DBus.Error.InvalidArgs. Reads are open; AssignGroup and ReleaseGroup need the polkit action
 * org.dmaownerd1.assign, Reload, Rescan and SetMode org.dmaownerd1.manage (uid 0 needs none).
 * PropertiesChanged carries exactly the properties whose values differ from what the bus last said about the object
 * (with the new values), and is not sent when nothing differs, so a reload or rescan that changes nothing is silent.
 * An object that appears gets one PropertiesChanged with all its changing properties; one that goes away, none (its
 * group's Devices changes). */

#include <systemd/sd-event.h>

#include "dma-ownerd/bus-names.h"

#include "manager.h"

/* The names themselves live in include/dma-ownerd/bus-names.h, shared with dma-ownerctl. */

typedef struct Bus Bus;

/* Connect to the system bus, publish the objects, take the name and attach to `loop`; installs itself as the
 * Manager's hooks. Returns a negative errno when there is no bus (the daemon then runs without one). */
int bus_start(sd_event *loop, Manager *m, Bus **ret);

/* Call before manager_free(): drops the Manager's hooks, pending polkit queries and the connection. */
Bus *bus_free(Bus *b);
static inline void bus_freep(Bus **b) {
        if (*b)
                bus_free(*b);
}
#define _cleanup_bus_ __attribute__((cleanup(bus_freep)))
