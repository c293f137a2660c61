/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The names of the org.dmaownerd1 D-Bus API, shared by the daemon (daemon/bus*.c) and dma-ownerctl. They are a
 * contract: tools, docs, the D-Bus policy file and the polkit actions spell them the same way. */

#include <stdint.h>

/* Well-known name on the system bus. */
#define DMAOWNERD_BUS_NAME "org.dmaownerd1"

/* Objects. Groups are "/org/dmaownerd1/group/<N>" (N in decimal); devices are
 * "/org/dmaownerd1/device/<address encoded with sd_bus_path_encode()>". */
#define DMAOWNERD_MANAGER_PATH "/org/dmaownerd1"
#define DMAOWNERD_GROUP_PATH_PREFIX "/org/dmaownerd1/group"
#define DMAOWNERD_DEVICE_PATH_PREFIX "/org/dmaownerd1/device"

/* Interfaces. */
#define DMAOWNERD_MANAGER_INTERFACE "org.dmaownerd1.Manager"
#define DMAOWNERD_GROUP_INTERFACE "org.dmaownerd1.Group"
#define DMAOWNERD_DEVICE_INTERFACE "org.dmaownerd1.Device"

/* Signatures (org.dmaownerd1.Manager):
 *   ListGroups() -> a(uo)           group number, group object
 *   ListDevices() -> a(so)          PCI address, device object
 *   GetGroup(u number) -> o
 *   GetDevice(s address) -> o
 *   CheckAssign(s target) -> (b viable, as reasons)
 *   AssignGroup(s target, t flags) -> as report     what was done (or would be, in audit mode)
 *   ReleaseGroup(s target, t flags) -> as report    flags: PERSIST removes the persisted reservation
 *   Reload(), Rescan(), SetMode(s mode)
 *   signal Violation(s device, s driver, u group, s rule, s action)
 *   signal PolicyReloaded(b ok, s error)
 * A target is a PCI address "dddd:bb:dd.f" or a group number in decimal. (dma-ownerctl also accepts "ao" from the
 * two List methods.) */

/* Named errors. A malformed address or target gets the standard org.freedesktop.DBus.Error.InvalidArgs
 * (SD_BUS_ERROR_INVALID_ARGS). */
#define DMAOWNERD_ERROR_NO_SUCH_DEVICE "org.dmaownerd1.Error.NoSuchDevice"
#define DMAOWNERD_ERROR_NO_SUCH_GROUP "org.dmaownerd1.Error.NoSuchGroup"
#define DMAOWNERD_ERROR_NOT_VIABLE "org.dmaownerd1.Error.NotViable"
#define DMAOWNERD_ERROR_IN_USE "org.dmaownerd1.Error.InUse"
#define DMAOWNERD_ERROR_POLICY_INVALID "org.dmaownerd1.Error.PolicyInvalid"
#define DMAOWNERD_ERROR_BUSY "org.dmaownerd1.Error.Busy"
#define DMAOWNERD_ERROR_RESERVED_BY_POLICY "org.dmaownerd1.Error.ReservedByPolicy"

/* Flags of AssignGroup(s target, t flags) and ReleaseGroup(s target, t flags). */
#define DMAOWNERD_ASSIGN_FORCE UINT64_C(1)   /* override network protection */
#define DMAOWNERD_ASSIGN_PERSIST UINT64_C(2) /* write the reservation atomically into /etc/dma-ownerd/policy.d/ */
#define DMAOWNERD_ASSIGN_FLAGS_ALL (DMAOWNERD_ASSIGN_FORCE | DMAOWNERD_ASSIGN_PERSIST)

/* Polkit actions: assign/release need the first; Reload, Rescan and SetMode the second. Reads are open to everyone. */
#define DMAOWNERD_POLKIT_ACTION_ASSIGN "org.dmaownerd1.assign"
#define DMAOWNERD_POLKIT_ACTION_MANAGE "org.dmaownerd1.manage"

/* Values of Manager.Mode and Group.Owner. */
#define DMAOWNERD_MODE_ENFORCE "enforce"
#define DMAOWNERD_MODE_AUDIT "audit"
#define DMAOWNERD_OWNER_NONE "none"
#define DMAOWNERD_OWNER_KERNEL "kernel"
#define DMAOWNERD_OWNER_USER "user"
