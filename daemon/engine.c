/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The decision engine. Pure: it reads the model and the policy and appends to a DecisionList, nothing else. The
 * daemon calls it on every uevent, so it looks up the one group an event touches by binary search and only matches
 * reservations against that group's members. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dma-ownerd/macro.h"
#include "engine.h"
#include "netdev.h"

/* Facts about the first members of a group are cached on the stack, so a member is matched against the reservations
 * once per call without allocating; members beyond this (groups that large are rare: a whole non-ACS switch) are
 * simply matched again when needed. */
#define MEMBER_CACHE_MAX 64

static const SourceMark builtin_mark = {
        .file = POLICY_BUILTIN_FILE,
        .line = 0,
        .column = 0,
};

typedef struct MemberFacts {
        const Reservation *reservation; /* the reservation selecting this member directly, or NULL */
        bool verdict_known;
        DriverVerdict verdict;          /* of its bound driver; only meaningful when it has one */
        const SourceMark *verdict_mark;
} MemberFacts;

typedef struct GroupScan {
        const Model *model;
        const Policy *policy;
        const Event *event;
        const Group *group;
        DecisionList *out;

        MemberFacts cache[MEMBER_CACHE_MAX];

        const Reservation *governing; /* first matched member's reservation, by address order; NULL = not reserved */
        bool whole_group;
        bool reserved;                /* governing and viable */
        bool user_owned;
        bool pins_follow_vfio;        /* members are pinned to first_vfio's driver: see scan_group_facts() */
        const Device *first_vfio;     /* first member bound to a vfio driver, or NULL */
        const Device *blocker;        /* !whole_group: first unmatched member on a driver that is not allowed */
} GroupScan;

static void copy_name(char *dst, size_t size, const char *src) {
        size_t n;

        /* Every name reaching here was validated against the same bounds; truncate rather than overflow regardless. */
        if (!src) {
                dst[0] = '\0';
                return;
        }
        n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}

static const Device *device_bsearch(const Model *m, const char *address) {
        size_t lo = 0, hi = m->n_devices;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strncmp(m->devices[mid].id.address, address, PCI_ADDRESS_STRLEN);

                if (c == 0)
                        return &m->devices[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static const Group *group_bsearch(const Model *m, int64_t number) {
        size_t lo = 0, hi = m->n_groups;

        if (number < 0)
                return NULL;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int64_t n = m->groups[mid].number;

                if (n == number)
                        return &m->groups[mid];
                if (n < number)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static const Reservation *scan_reservation(GroupScan *s, size_t i) {
        if (i < MEMBER_CACHE_MAX)
                return s->cache[i].reservation;
        return policy_match_reservation(s->policy, &model_group_member(s->model, s->group, i)->id);
}

/* Only asked for members that have a driver, and only when the answer matters: most groups on a host are neither
 * reserved nor user-owned, and their drivers need no glob matching at all. */
static DriverVerdict scan_verdict(GroupScan *s, size_t i, const SourceMark **ret_mark) {
        const Device *d = model_group_member(s->model, s->group, i);
        MemberFacts *f;

        if (i >= MEMBER_CACHE_MAX)
                return policy_driver_verdict(s->policy, d->driver, ret_mark);

        f = &s->cache[i];
        if (!f->verdict_known) {
                f->verdict_mark = NULL;
                f->verdict = policy_driver_verdict(s->policy, d->driver, &f->verdict_mark);
                f->verdict_known = true;
        }
        if (ret_mark)
                *ret_mark = f->verdict_mark;
        return f->verdict;
}

static bool scan_driver_allowed(GroupScan *s, size_t i) {
        return scan_verdict(s, i, NULL) == DRIVER_ALLOWED;
}

static int decision_list_push(DecisionList *l, Decision **ret) {
        if (l->n >= l->allocated) {
                size_t n = l->allocated > 0 ? l->allocated * 2 : 16;
                Decision *items;

                if (n < l->allocated || n > SIZE_MAX / sizeof(Decision))
                        return -ENOMEM;
                items = realloc(l->items, n * sizeof(Decision));
                if (!items)
                        return -ENOMEM;
                l->items = items;
                l->allocated = n;
        }

        *ret = memset(&l->items[l->n++], 0, sizeof(Decision));
        return 0;
}

static void decision_add_step(Decision *d, StepKind kind, const char *driver) {
        Step *step = &d->steps[d->n_steps++];

        step->kind = kind;
        copy_name(step->driver, sizeof(step->driver), driver);
}

/* Start a decision about member `d`, with the fields every kind shares. */
static int scan_new_decision(GroupScan *s, DecisionKind kind, const Device *d, Decision **ret) {
        Decision *decision;
        int r;

        r = decision_list_push(s->out, &decision);
        if (r < 0)
                return r;

        decision->kind = kind;
        copy_name(decision->address, sizeof(decision->address), d->id.address);
        decision->group = s->group->number;
        copy_name(decision->driver, sizeof(decision->driver), d->driver);
        decision->rule = builtin_mark;
        decision->dry_run = s->policy->mode == POLICY_MODE_AUDIT;

        *ret = decision;
        return 0;
}

static void decision_set_reservation(Decision *decision, const Reservation *r) {
        decision->rule_name = r->name;
        decision->rule = r->mark;
}

static bool override_is(const Device *d, const char *driver) {
        return streq_ptr(d->driver_override, driver);
}

static bool is_event_device(const Event *e, const Device *d) {
        return strncmp(e->address, d->id.address, sizeof(e->address)) == 0;
}

static const NetInterface *device_interface_in_use(const Device *d) {
        for (size_t k = 0; k < d->n_net; k++)
                if (net_interface_in_use(&d->net[k]))
                        return &d->net[k];
        return NULL;
}

static int scan_not_viable(GroupScan *s, const Device *d, const Reservation *res) {
        Decision *decision;
        int r;

        r = scan_new_decision(s, DECISION_NOT_VIABLE, d, &decision);
        if (r < 0)
                return r;

        copy_name(decision->target_driver, sizeof(decision->target_driver), res->driver);
        copy_name(decision->blocker, sizeof(decision->blocker), s->blocker->id.address);
        copy_name(decision->blocker_driver, sizeof(decision->blocker_driver), s->blocker->driver);
        decision_set_reservation(decision, res);
        return 0;
}

/* A driverless reserved member: point its override at the target, probe it when the event is its arrival or a full
 * reconciliation (not on every unbind, so an admin who unbinds it by hand is not fought). */
static int scan_reserve(GroupScan *s, const Device *d, const Reservation *res) {
        bool set_override, probe;
        Decision *decision;
        int r;

        set_override = !override_is(d, res->driver);
        probe = !d->is_bridge &&
                (s->event->kind == EVENT_START || s->event->kind == EVENT_RELOAD ||
                 (s->event->kind == EVENT_ADD && is_event_device(s->event, d)));
        if (!set_override && !probe)
                return 0;

        r = scan_new_decision(s, DECISION_RESERVE, d, &decision);
        if (r < 0)
                return r;

        copy_name(decision->target_driver, sizeof(decision->target_driver), res->driver);
        decision_set_reservation(decision, res);
        if (set_override)
                decision_add_step(decision, STEP_SET_OVERRIDE, res->driver);
        if (probe)
                decision_add_step(decision, STEP_PROBE, NULL);
        return 0;
}

/* `res` is the member's reservation when it is reserved, else NULL; `target` the driver it should go to, or NULL. */
static int scan_violation(GroupScan *s, const Device *d, const Reservation *res, const char *target,
                          DriverVerdict verdict, const SourceMark *verdict_mark) {
        const NetInterface *busy = NULL;
        Decision *decision;
        int r;

        if (s->policy->network_protection)
                busy = device_interface_in_use(d);

        r = scan_new_decision(s, busy ? DECISION_NET_PROTECTED : DECISION_VIOLATION, d, &decision);
        if (r < 0)
                return r;

        if (s->policy->on_violation == VIOLATION_LOG)
                decision->dry_run = true;
        copy_name(decision->target_driver, sizeof(decision->target_driver), target);

        if (busy) {
                copy_name(decision->interface, sizeof(decision->interface), busy->name);
                decision->rule = s->policy->network_protection_mark;
                return 0;
        }

        if (res)
                decision_set_reservation(decision, res);
        else if (verdict == DRIVER_DENIED && verdict_mark)
                decision->rule = *verdict_mark;

        if (target && !override_is(d, target))
                decision_add_step(decision, STEP_SET_OVERRIDE, target);
        decision_add_step(decision, STEP_UNBIND, d->driver);
        if (target && !d->is_bridge)
                decision_add_step(decision, STEP_PROBE, NULL);
        return 0;
}

static int scan_pin(GroupScan *s, const Device *d, const char *value) {
        Decision *decision;
        int r;

        if (!value || override_is(d, value))
                return 0;

        r = scan_new_decision(s, DECISION_PIN, d, &decision);
        if (r < 0)
                return r;

        copy_name(decision->target_driver, sizeof(decision->target_driver), value);
        if (s->reserved)
                decision->rule = s->governing->mark;
        decision_add_step(decision, STEP_SET_OVERRIDE, value);
        return 0;
}

static int scan_unpin(GroupScan *s, const Device *d) {
        Decision *decision;
        int r;

        r = scan_new_decision(s, DECISION_UNPIN, d, &decision);
        if (r < 0)
                return r;

        decision_add_step(decision, STEP_CLEAR_OVERRIDE, NULL);
        if (!d->driver && !d->is_bridge)
                decision_add_step(decision, STEP_PROBE, NULL);
        return 0;
}

/* First pass: which reservation governs the group, whether it is viable, who the pins follow. */
static void scan_group_facts(GroupScan *s) {
        const Group *g = s->group;

        for (size_t i = 0; i < g->n_members; i++) {
                const Device *d = model_group_member(s->model, g, i);
                const Reservation *r = policy_match_reservation(s->policy, &d->id);

                if (i < MEMBER_CACHE_MAX)
                        s->cache[i] = (MemberFacts) { .reservation = r };
                if (r && !s->governing)
                        s->governing = r;
                if (!s->first_vfio && d->driver && driver_is_vfio(d->driver))
                        s->first_vfio = d;
        }

        s->user_owned = g->owner == DMA_OWNER_USER;
        /* Pins keep host drivers off the other members of a group vfio may hand to user space. Before 5.19 the
         * kernel does not check, and a host driver binding into a group user space holds hits vfio's BUG_ON: there
         * pins follow any member on vfio, ahead of user space opening the group. Since 5.19 the kernel refuses such
         * a bind itself (EBUSY): pins follow vfio only while user space holds the group, and a group merely bound to
         * vfio is the admin's (pinning it would race with driverctl unset-override and the like). */
        s->pins_follow_vfio = s->first_vfio && (!s->model->kernel_dma_ownership || s->user_owned);
        if (!s->governing)
                return;

        s->whole_group = s->governing->whole_group;
        if (!s->whole_group)
                for (size_t i = 0; i < g->n_members; i++) {
                        const Device *d = model_group_member(s->model, g, i);

                        if (d->driver && !scan_reservation(s, i) && !scan_driver_allowed(s, i)) {
                                s->blocker = d;
                                break;
                        }
                }

        /* A reservation that cannot be given to user space is not in effect: the group is treated as a host group
         * (pins follow vfio members only) and the matched devices are reported as not viable. */
        s->reserved = !s->blocker;
}

static int scan_member(GroupScan *s, size_t i) {
        const Device *d = model_group_member(s->model, s->group, i);
        const Reservation *matched = scan_reservation(s, i);
        const Reservation *reservation = NULL;
        bool pins_active = s->reserved || s->pins_follow_vfio;
        int r;

        if (s->blocker && matched) {
                r = scan_not_viable(s, d, matched);
                if (r < 0)
                        return r;
        }

        if (s->reserved) {
                /* Under whole-group a member's own match wins (its target, its rule); the others follow the governing
                 * reservation. Members on an allowed driver are never reserved: they already keep the kernel out. */
                if (matched)
                        reservation = matched;
                else if (s->whole_group)
                        reservation = s->governing;
        }

        if (!d->driver) {
                if (reservation)
                        return scan_reserve(s, d, reservation);
                if (pins_active)
                        return scan_pin(s, d, s->reserved ? s->governing->driver : s->first_vfio->driver);
                if (d->pinned)
                        return scan_unpin(s, d);
                return 0;
        }

        if (reservation || s->user_owned) {
                const char *target = reservation ? reservation->driver : s->first_vfio ? s->first_vfio->driver : NULL;
                const SourceMark *mark = NULL;
                DriverVerdict verdict = scan_verdict(s, i, &mark);

                /* Unbinding only for the probe to bind the very same driver again would flap forever: a policy that
                 * denies its own target driver leaves such a member to the pin rule below. */
                if (verdict != DRIVER_ALLOWED && !streq_ptr(target, d->driver))
                        return scan_violation(s, d, reservation, target, verdict, mark);
        }

        if (driver_is_vfio(d->driver) && pins_active)
                return scan_pin(s, d, d->driver);

        if (!pins_active && d->pinned)
                return scan_unpin(s, d);

        return 0;
}

static int decide_group(const Model *m, const Policy *p, const Event *event, const Group *g, DecisionList *out) {
        GroupScan s = {
                .model = m,
                .policy = p,
                .event = event,
                .group = g,
                .out = out,
        };
        int r;

        scan_group_facts(&s);

        for (size_t i = 0; i < g->n_members; i++) {
                r = scan_member(&s, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

int engine_decide(const Model *m, const Policy *p, const Event *event, DecisionList *out) {
        size_t n_before = out->n;
        const Group *g;
        int64_t number = -1;
        int r;

        if (event->kind == EVENT_START || event->kind == EVENT_RELOAD) {
                for (size_t i = 0; i < m->n_groups; i++) {
                        r = decide_group(m, p, event, &m->groups[i], out);
                        if (r < 0)
                                goto fail;
                }
                return 0;
        }

        if (event->kind != EVENT_HOLDERS && event->address[0] != '\0') {
                const Device *d = device_bsearch(m, event->address);

                if (d)
                        number = d->id.iommu_group;
                else
                        number = event->group;
        } else
                number = event->group;

        g = group_bsearch(m, number);
        if (!g)
                return 0;

        r = decide_group(m, p, event, g, out);
        if (r < 0)
                goto fail;
        return 0;

fail:
        /* All or nothing: the caller never acts on half of an event's decisions. */
        out->n = n_before;
        return r;
}

void decision_list_clear(DecisionList *l) {
        l->n = 0;
}

void decision_list_done(DecisionList *l) {
        free(l->items);
        *l = (DecisionList) {};
}

static const char *const event_kind_table[_EVENT_KIND_MAX] = {
        [EVENT_ADD] = "add",
        [EVENT_REMOVE] = "remove",
        [EVENT_BIND] = "bind",
        [EVENT_UNBIND] = "unbind",
        [EVENT_CHANGE] = "change",
        [EVENT_START] = "start",
        [EVENT_RELOAD] = "reload",
        [EVENT_HOLDERS] = "holders",
};

static const char *const decision_kind_table[_DECISION_KIND_MAX] = {
        [DECISION_RESERVE] = "reserve",
        [DECISION_VIOLATION] = "violation",
        [DECISION_PIN] = "pin",
        [DECISION_UNPIN] = "unpin",
        [DECISION_NOT_VIABLE] = "not-viable",
        [DECISION_NET_PROTECTED] = "net-protected",
};

static const char *const step_kind_table[_STEP_KIND_MAX] = {
        [STEP_SET_OVERRIDE] = "set-override",
        [STEP_CLEAR_OVERRIDE] = "clear-override",
        [STEP_UNBIND] = "unbind",
        [STEP_PROBE] = "probe",
};

const char *event_kind_to_string(EventKind k) {
        if ((unsigned) k >= _EVENT_KIND_MAX)
                return NULL;
        return event_kind_table[k];
}

const char *decision_kind_to_string(DecisionKind k) {
        if ((unsigned) k >= _DECISION_KIND_MAX)
                return NULL;
        return decision_kind_table[k];
}

const char *step_kind_to_string(StepKind k) {
        if ((unsigned) k >= _STEP_KIND_MAX)
                return NULL;
        return step_kind_table[k];
}
