/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The decision engine: one pure function, (model, policy, event) → decisions. No I/O, no clock, no globals; the
 * model it is given already reflects the event (the caller re-read sysfs first).
 *
 * It reconciles the IOMMU group the event touched (every group for EVENT_START and EVENT_RELOAD) towards what the
 * policy wants, so replaying an event, or deciding again after the writes, yields nothing new:
 *
 *  - A group is *reserved* when a reservation matches one of its members. With whole-group, every member not bound
 *    to an allowed driver is reserved; without it, only the matched devices are, and the reservation is viable only
 *    while every other member is driverless or on an allowed driver (else DECISION_NOT_VIABLE names the blocker).
 *  - A reserved device that is driverless gets its override set to the target driver and, on EVENT_ADD of that
 *    device, EVENT_START or EVENT_RELOAD, a probe (DECISION_RESERVE). Bridges are never probed: vfio-pci refuses them;
 *    the override alone keeps host drivers (shpchp) away.
 *  - A device bound to a driver that is denied or not allowed, in a reserved group or a user-owned one, is a
 *    violation (DECISION_VIOLATION): with on-violation unbind, set override (when a target is known), unbind, probe.
 *  - Pins (kernels before 5.19 BUG in vfio otherwise): as soon as a member is bound to a vfio driver, or the group is
 *    reserved, every other member that is driverless or on a vfio driver gets driver_override = that vfio driver
 *    (DECISION_PIN); members on an allowed host driver are left alone. When the group has no vfio member and no
 *    reservation any more, pins dma-ownerd placed (Device.pinned) are lifted: clear override, probe (DECISION_UNPIN).
 *  - Network protection: an unbind of a device whose interface is in use becomes DECISION_NET_PROTECTED, no steps.
 *  - Audit mode, and on-violation log for violations: the same decisions with dry_run set. The caller writes nothing
 *    for a dry-run decision. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dma-ownerd/pci-address.h"
#include "model.h"
#include "policy.h"

typedef enum EventKind {
        EVENT_ADD,
        EVENT_REMOVE,
        EVENT_BIND,
        EVENT_UNBIND,
        EVENT_CHANGE,
        EVENT_START,   /* after the initial scan: reconcile every group */
        EVENT_RELOAD,  /* after a new policy was swapped in: reconcile every group */
        EVENT_HOLDERS, /* the holders of `group` changed */
        _EVENT_KIND_MAX,
} EventKind;

typedef struct Event {
        EventKind kind;
        char address[PCI_ADDRESS_STRLEN]; /* "" for START, RELOAD, HOLDERS */
        char driver[DRIVER_NAME_MAX + 1]; /* BIND: the driver that bound; UNBIND: the one that left; else "" */
        int64_t group; /* REMOVE and HOLDERS: the group (the device is gone from the model); else -1 = look it up */
} Event;

typedef enum DecisionKind {
        DECISION_RESERVE,         /* claim a driverless reserved device for its target driver */
        DECISION_VIOLATION,       /* a driver that is not allowed is bound in a reserved or user-owned group */
        DECISION_PIN,             /* pin a sibling of a vfio-bound member, or a member of a reserved group */
        DECISION_UNPIN,           /* the group returned to the host: lift dma-ownerd's pins */
        DECISION_NOT_VIABLE,      /* a reservation cannot give user space the group: names the blocker */
        DECISION_NET_PROTECTED,   /* an unbind refused because the device's interface carries traffic */
        _DECISION_KIND_MAX,
} DecisionKind;

typedef enum StepKind {
        STEP_SET_OVERRIDE,   /* write `driver` to driver_override */
        STEP_CLEAR_OVERRIDE, /* write "\n" to driver_override */
        STEP_UNBIND,         /* write the address to driver/unbind, `driver` being the one expected there */
        STEP_PROBE,          /* write the address to bus/pci/drivers_probe */
        _STEP_KIND_MAX,
} StepKind;

typedef struct Step {
        StepKind kind;
        char driver[DRIVER_NAME_MAX + 1];
} Step;

#define DECISION_STEPS_MAX 3

typedef struct Decision {
        DecisionKind kind;
        char address[PCI_ADDRESS_STRLEN]; /* the device decided about */
        int64_t group;
        char driver[DRIVER_NAME_MAX + 1];        /* its driver at decision time, "" when unbound */
        char target_driver[DRIVER_NAME_MAX + 1]; /* reservation target / pin value, "" when none */
        char blocker[PCI_ADDRESS_STRLEN];        /* NOT_VIABLE: the blocking member; NET_PROTECTED: "" */
        char blocker_driver[DRIVER_NAME_MAX + 1];
        char interface[IFNAME_MAX];              /* NET_PROTECTED: the interface in use */
        const char *rule_name;                   /* the reservation's name, or NULL for driver rules and pins */
        SourceMark rule;                         /* points into the Policy given to engine_decide() */
        bool dry_run;                            /* audit mode or on-violation log: write nothing */
        size_t n_steps;
        Step steps[DECISION_STEPS_MAX];
} Decision;

typedef struct DecisionList {
        Decision *items;
        size_t n;
        size_t allocated;
} DecisionList;

/* Append the decisions for `event` to `out` (which is not cleared). Returns 0, or -ENOMEM. */
int engine_decide(const Model *m, const Policy *p, const Event *event, DecisionList *out);

void decision_list_clear(DecisionList *l);
void decision_list_done(DecisionList *l);

const char *event_kind_to_string(EventKind k);
const char *decision_kind_to_string(DecisionKind k);
const char *step_kind_to_string(StepKind k);
