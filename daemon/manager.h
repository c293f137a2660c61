/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The event path, one way: uevent → re-read the device → engine → audit → actuator → re-read what was written.
 * The same functions serve start-up, reload, monitor overflow and (later) the bus, so every mutation of the kernel
 * state goes through one place. */

#include <stdint.h>

#include "actuator.h"
#include "engine.h"
#include "model.h"
#include "netdev.h"
#include "policy.h"

typedef struct ManagerConfig {
        const char *sysfs_root;     /* stands in for /sys */
        const char *proc_root;      /* stands in for /proc */
        const char *kernel_release; /* NULL: uname() */
        const char *netdev_fake;    /* NULL: libnl-route */
        PolicyPaths policy_paths;
        const char *runtime_dir;    /* runtime assignments kept across restarts ("/run/dma-ownerd"); NULL: not kept */
} ManagerConfig;

/* Observers of the event path (the D-Bus layer): told after the fact, never asked for permission. */
typedef struct ManagerHooks {
        void (*decision)(const Decision *d, void *userdata);        /* every decision, after it was carried out */
        void (*device_changed)(const char *address, void *userdata); /* re-read: added, changed or removed */
        void (*model_rebuilt)(void *userdata);                      /* full rescan: everything may have changed */
        void (*policy_reloaded)(bool ok, const char *error, void *userdata);
        void *userdata;
} ManagerHooks;

/* A group assigned to `driver` at run time (AssignGroup without persist). */
typedef struct RuntimeGroup {
        unsigned number;
        char driver[DRIVER_NAME_MAX + 1];
} RuntimeGroup;

typedef struct Manager {
        ManagerConfig config;
        ManagerHooks hooks;
        Policy *policy;
        Model *model;
        Actuator *actuator;
        Netdev *netdev;
        DecisionList decisions; /* reused between events */
        uint64_t violations;    /* violations seen since start */
        uint64_t writes;        /* sysfs writes that succeeded since start */
        uint64_t write_failures;

        /* Device notifications held back while the writes of an event or an assignment are under way
         * (manager_hold_notifications()): each address once, in order. */
        unsigned notify_holds;
        char (*held)[PCI_ADDRESS_STRLEN];
        size_t n_held, n_held_allocated;

        /* Runtime state set over D-Bus (daemon/assign.c): groups assigned at run time stay reserved, and the mode may
         * be overridden. Merged into `policy` by manager_apply_runtime() after every load; the groups are kept in
         * config.runtime_dir across restarts (manager_load_runtime()), the mode override is lost on restart. */
        RuntimeGroup *runtime_groups;
        size_t n_runtime_groups;
        bool has_mode_override;
        PolicyMode mode_override;
} Manager;

/* Takes ownership of `policy`. Scans the model and opens the actuator; decides nothing yet. */
int manager_new(const ManagerConfig *config, Policy *policy, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}
#define _cleanup_manager_ __attribute__((cleanup(manager_freep)))

/* Hold the device_changed notifications back until the matching manager_release_notifications(), which sends each
 * held address once. A signal on the bus wakes dbus-daemon and its listeners, who would then compete with the daemon
 * for the CPU while a violation is being undone or a group is half-way moved. Nests. */
void manager_hold_notifications(Manager *m);
void manager_release_notifications(Manager *m);

/* One step of a decision through the actuator, audited and counted; the device is looked up afresh (-ENODEV when it
 * is gone). Returns 0 or the negative errno of the write. Shared by the event path and assign/release. */
int manager_run_step(Manager *m, const Decision *d, const Step *step, PolicyMode mode);

/* steps[i] of decisions[i] for every i < n at once (actuator_run_parallel), each one audited and counted as
 * manager_run_step() does, in array order once all have returned. The decisions must be about distinct devices.
 * ret_results[i] is 0 or the negative errno of that write; returns 0 or -EINVAL/-ENOMEM (then nothing ran). */
int manager_run_steps_parallel(Manager *m, const Decision *const *decisions, const Step *const *steps, size_t n,
                               PolicyMode mode, int *ret_results);

/* Re-read a device after writing to it (the kernel is the truth) and tell the observers; errors are logged. */
int manager_reread_device(Manager *m, const char *address);

/* Refresh the state of the network interfaces of one group's devices (group < 0: all) when the policy protects
 * interfaces; errors are logged and the last known state kept. */
void manager_refresh_net(Manager *m, int64_t group);

/* Reconcile every group against the policy, as after start-up. */
int manager_reconcile_all(Manager *m, EventKind why);

/* Apply one uevent: re-read the device from sysfs, decide, act. `received_usec` (CLOCK_MONOTONIC) is when the event
 * arrived, for the window measurement; 0 means now. */
int manager_handle_event(Manager *m, const Event *event, uint64_t received_usec);

/* Load the policy from the configured paths; swap it in and reconcile when it is valid, keep the old one otherwise.
 * Returns 0, or -EINVAL when the new policy was rejected (errors audited). */
int manager_reload(Manager *m);

/* A full re-scan (monitor overflow): afterwards the model equals a fresh scan, and every group is reconciled. */
int manager_rescan(Manager *m);

/* The holders of /dev/vfio files may have changed: re-scan them and reconcile groups whose owner changed. */
int manager_refresh_holders(Manager *m);
