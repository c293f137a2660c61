/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Managed assignment of a whole IOMMU group to user space (the D-Bus AssignGroup/ReleaseGroup), in the manner of
 * libvirt's nodedev-detach, plus the runtime state it leaves in the Manager.
 *
 * Assign: every member bound to a driver the policy allows (pcieport on a bridge, vfio-pci already) is left alone;
 * every other member gets driver_override = target, is unbound from its driver and probed (bridges are not probed:
 * vfio-pci refuses them), then re-read. The member is moved when the kernel shows it bound to the target, or
 * driverless with the override in place ("pending": no driver took it yet, but no host driver can either, which is
 * all vfio's viability needs). Anything else fails; then the members moved so far, and the failing one, are rolled
 * back (clear override, unbind the target, probe) in reverse order, and the failing member and errno are reported.
 * On success the group stays reserved by a synthetic reservation "runtime-group-N" merged into the policy, so the
 * engine keeps host drivers away; with ASSIGN_PERSIST it is also written to the admin policy directory.
 *
 * Release reverses it for members on a vfio driver or carrying an override: clear it, unbind, probe, so the host
 * driver returns. Both answer with what they would do, and write nothing, in audit mode. */

#include <stdbool.h>
#include <stdint.h>

#include "manager.h"

enum {
        ASSIGN_FORCE = UINT64_C(1) << 0,   /* detach even when an interface carries traffic */
        ASSIGN_PERSIST = UINT64_C(1) << 1, /* write (or, on release, remove) the reservation in the admin policy dir */
};
#define ASSIGN_FLAGS_ALL (ASSIGN_FORCE | ASSIGN_PERSIST)

#define RUNTIME_SOURCE_FILE "(runtime)" /* SourceMark.file of the synthetic reservations and the mode override */

/* What an assign or release did, or would do, or where it stopped. */
typedef struct AssignReport {
        char **lines;                             /* human-readable, NULL-terminated, may be NULL */
        size_t n_lines;
        char failed_device[PCI_ADDRESS_STRLEN];   /* the member that failed, "" when none */
        char interface[IFNAME_MAX];               /* -EADDRINUSE: the interface in use */
        char *message;                            /* one-line summary of a failure, NULL on success */
} AssignReport;

void assign_report_done(AssignReport *r);

/* A target is "dddd:bb:dd.f" (that device's group) or a decimal group number. Returns 0 and the group; -EINVAL for a
 * malformed target, -ENXIO for an unknown device, -ENOENT for an unknown group, -EDOM for a device without an
 * IOMMU group. */
int manager_resolve_target(Manager *m, const char *target, unsigned *ret_group);

/* Would AssignGroup succeed without force? `ret_reasons` (strv) says why not, or what it would do when viable. */
int manager_check_assign(Manager *m, unsigned group, bool *ret_viable, char ***ret_reasons);

/* Returns 0; -ENOENT unknown group; -EADDRINUSE an interface is in use (report->interface) and no ASSIGN_FORCE;
 * -EBUSY (release) user space holds the group; -EPERM (release) the admin policy reserves the group;
 * -EOPNOTSUPP persist without an admin policy directory; -EINVAL the persisted policy did not load;
 * otherwise the errno of the failed write or verification (report->failed_device, report->message). */
int manager_assign_group(Manager *m, unsigned group, uint64_t flags, AssignReport *report);
int manager_release_group(Manager *m, unsigned group, uint64_t flags, AssignReport *report);

/* At start, before the first reconciliation: restore the groups assigned at run time from
 * <config.runtime_dir>/state, roll back the members of an assignment the previous daemon did not finish (it died),
 * and merge them into the policy. Nothing to do without a runtime_dir. */
int manager_load_runtime(Manager *m);

/* The runtime mode override (SetMode); takes effect at once and reconciles every group. */
int manager_set_mode_override(Manager *m, PolicyMode mode);

/* Merge the runtime reservations and mode override into m->policy. Called after every (re)load, before the
 * reconciliation (the bus does it from the policy_reloaded hook). Idempotent. */
int manager_apply_runtime(Manager *m);

/* The effective mode: the override when set, else the policy's. */
PolicyMode manager_effective_mode(const Manager *m);

/* The persisted reservation's file for a group: "<admin_dir>/50-dma-ownerctl-group-N.yaml". */
int manager_persist_path(const Manager *m, unsigned group, char **ret);
