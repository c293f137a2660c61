/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "audit.h"
#include "dma-ownerd/macro.h"
#include "manager.h"
#include "dma-ownerd/time-util.h"

static void notify_device_changed(Manager *m, const char *address) {
        if (!m->hooks.device_changed)
                return;

        if (m->notify_holds > 0 && pci_address_is_valid(address)) {
                for (size_t i = 0; i < m->n_held; i++)
                        if (strcmp(m->held[i], address) == 0)
                                return;
                if (m->n_held == m->n_held_allocated) {
                        size_t n = m->n_held_allocated ? m->n_held_allocated * 2 : 8;
                        void *l = reallocarray(m->held, n, sizeof(*m->held));
                        if (!l)
                                goto now; /* late rather than lost */
                        m->held = l;
                        m->n_held_allocated = n;
                }
                snprintf(m->held[m->n_held++], sizeof(m->held[0]), "%s", address);
                return;
        }
now:
        m->hooks.device_changed(address, m->hooks.userdata);
}

void manager_hold_notifications(Manager *m) {
        m->notify_holds++;
}

void manager_release_notifications(Manager *m) {
        if (m->notify_holds == 0 || --m->notify_holds > 0)
                return;
        for (size_t i = 0; i < m->n_held; i++)
                if (m->hooks.device_changed)
                        m->hooks.device_changed(m->held[i], m->hooks.userdata);
        m->n_held = 0;
}

int manager_new(const ManagerConfig *config, Policy *policy, Manager **ret) {
        _cleanup_free_ Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->config = *config;

        r = model_scan(config->sysfs_root, config->proc_root, config->kernel_release, &m->model);
        if (r < 0)
                return r;

        r = actuator_new(config->sysfs_root, &m->actuator);
        if (r < 0) {
                model_free(m->model);
                return r;
        }

        if (config->netdev_fake)
                r = netdev_new_fake(config->netdev_fake, &m->netdev);
        else
                r = netdev_new(&m->netdev);
        if (r < 0) {
                /* Without netlink we cannot tell whether an interface carries traffic; the engine then sees every
                 * interface as idle, so say so loudly rather than refuse to start. */
                log_msg(LOG_WARNING, "network state unavailable (%s): network protection cannot see interfaces",
                        strerror(-r));
                m->netdev = NULL;
        }

        m->policy = policy;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        decision_list_done(&m->decisions);
        netdev_free(m->netdev);
        actuator_free(m->actuator);
        model_free(m->model);
        policy_free(m->policy);
        free(m->runtime_groups);
        free(m->held);
        free(m);
        return NULL;
}

/* Network state is only worth asking for when the policy protects interfaces; it is refreshed right before a
 * decision so the engine sees the state of the moment, not of the scan: one snapshot (three netlink dumps) for all
 * the interfaces in scope. When it cannot be taken, the interfaces keep their last known state. */
void manager_refresh_net(Manager *m, int64_t group) {
        bool any = false, any_up = false;
        int r;

        if (!m->netdev || !m->policy->network_protection)
                return;

        /* Most often (a driver that just bound) every interface in question is down: one link request each says
         * so, and the three dumps are not needed. */
        for (size_t i = 0; i < m->model->n_devices && !any_up; i++) {
                const Device *d = &m->model->devices[i];

                if (group >= 0 && d->id.iommu_group != group)
                        continue;
                for (size_t k = 0; k < d->n_net && !any_up; k++) {
                        bool up = true;

                        any = true;
                        if (netdev_link_up(m->netdev, d->net[k].name, &up) < 0 || up)
                                any_up = true; /* when in doubt, the full snapshot */
                }
        }
        if (!any)
                return;
        if (!any_up) {
                for (size_t i = 0; i < m->model->n_devices; i++) {
                        Device *d = &m->model->devices[i];

                        if (group >= 0 && d->id.iommu_group != group)
                                continue;
                        for (size_t k = 0; k < d->n_net; k++)
                                d->net[k].up = d->net[k].has_address = d->net[k].default_route = false;
                }
                return;
        }

        r = netdev_refresh(m->netdev);
        if (r < 0) {
                log_msg(LOG_WARNING, "cannot read the state of network interfaces: %s; using the last known state",
                        strerror(-r));
                return;
        }

        for (size_t i = 0; i < m->model->n_devices; i++) {
                Device *d = &m->model->devices[i];

                if (group >= 0 && d->id.iommu_group != group)
                        continue;
                for (size_t k = 0; k < d->n_net; k++) {
                        r = netdev_query(m->netdev, &d->net[k]);
                        if (r < 0)
                                log_msg(LOG_WARNING, "%s: cannot read the state of interface %s: %s", d->id.address,
                                        d->net[k].name, strerror(-r));
                }
        }
}

/* Carry out what the engine decided. Every decision is audited; a dry-run decision writes nothing. After the steps
 * of a decision the device is re-read: what we wrote may have failed or raced with the kernel. Returns the number
 * of successful writes. */
static int run_step_unaudited(Manager *m, const Decision *d, const Step *step) {
        const Device *dev = model_find_device(m->model, d->address);
        int r;

        /* A device gone between the decision and the write is reported like any failed write. */
        r = dev ? actuator_run(m->actuator, dev, step) : -ENODEV;
        if (r < 0)
                m->write_failures++;
        else
                m->writes++;
        return r;
}

int manager_run_step(Manager *m, const Decision *d, const Step *step, PolicyMode mode) {
        int r = run_step_unaudited(m, d, step);

        audit_step(d, step, mode, r);
        return r;
}

int manager_run_steps_parallel(Manager *m, const Decision *const *decisions, const Step *const *steps, size_t n,
                               PolicyMode mode, int *ret_results) {
        _cleanup_free_ const Device **expected = NULL;
        _cleanup_free_ const Step **present = NULL;
        _cleanup_free_ size_t *slot = NULL;
        _cleanup_free_ int *results = NULL;
        size_t n_present = 0;
        int r;

        if (!m || (n > 0 && (!decisions || !steps || !ret_results)))
                return -EINVAL;
        if (n == 0)
                return 0;

        expected = calloc(n, sizeof(*expected));
        present = calloc(n, sizeof(*present));
        slot = calloc(n, sizeof(*slot));
        results = calloc(n, sizeof(*results));
        if (!expected || !present || !slot || !results)
                return -ENOMEM;

        /* Looked up before any thread starts: nothing refreshes the model while they run. */
        for (size_t i = 0; i < n; i++) {
                const Device *dev = model_find_device(m->model, decisions[i]->address);

                ret_results[i] = -ENODEV;
                if (!dev)
                        continue;
                expected[n_present] = dev;
                present[n_present] = steps[i];
                slot[n_present++] = i;
        }

        r = actuator_run_parallel(m->actuator, expected, present, n_present, results);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n_present; k++)
                ret_results[slot[k]] = results[k];

        for (size_t i = 0; i < n; i++) {
                audit_step(decisions[i], steps[i], mode, ret_results[i]);
                if (ret_results[i] < 0)
                        m->write_failures++;
                else
                        m->writes++;
        }
        return 0;
}

int manager_reread_device(Manager *m, const char *address) {
        int r = model_refresh_device(m->model, address);
        if (r < 0)
                log_msg(LOG_ERR, "%s: cannot re-read the device after writing to it: %s", address, strerror(-r));
        notify_device_changed(m, address);
        return r;
}

static size_t manager_execute(Manager *m) {
        PolicyMode mode = m->policy->mode;
        size_t writes = 0;

        for (size_t i = 0; i < m->decisions.n; i++) {
                const Decision *d = &m->decisions.items[i];
                bool placed = false, lifted = false;
                const char *placed_value = NULL;

                if (d->kind == DECISION_VIOLATION)
                        m->violations++;
                audit_decision(d, mode);
                if (d->dry_run || d->n_steps == 0) {
                        if (m->hooks.decision)
                                m->hooks.decision(d, m->hooks.userdata);
                        continue;
                }

                int results[DECISION_STEPS_MAX];
                size_t ran = 0;

                for (size_t s = 0; s < d->n_steps; s++) {
                        const Step *step = &d->steps[s];

                        results[ran++] = run_step_unaudited(m, d, step);
                        /* The later steps depend on this one (no probe after a failed override). */
                        if (results[ran - 1] < 0)
                                break;
                        writes++;
                        if (step->kind == STEP_SET_OVERRIDE) {
                                placed = true;
                                placed_value = step->driver;
                        } else if (step->kind == STEP_CLEAR_OVERRIDE)
                                lifted = true;
                }
                /* The decision was audited before its first write; the outcome of each step once the last is done:
                 * the records say the same, and a violation is closed two journal sends sooner. */
                for (size_t s = 0; s < ran; s++)
                        audit_step(d, &d->steps[s], mode, results[s]);

                if (manager_reread_device(m, d->address) < 0)
                        continue;

                /* A pin is ours only while the kernel shows exactly what we wrote. */
                const Device *after = model_find_device(m->model, d->address);
                if (after && placed && streq_ptr(after->driver_override, placed_value))
                        (void) model_set_pinned(m->model, d->address, true);
                else if (after && lifted)
                        (void) model_set_pinned(m->model, d->address, false);

                if (m->hooks.decision)
                        m->hooks.decision(d, m->hooks.userdata);
        }

        return writes;
}

static int manager_decide_and_act(Manager *m, const Event *e, size_t *ret_writes) {
        int r;

        decision_list_clear(&m->decisions);
        r = engine_decide(m->model, m->policy, e, &m->decisions);
        if (r < 0)
                return r;

        size_t writes = manager_execute(m);
        if (ret_writes)
                *ret_writes = writes;
        return 0;
}

int manager_reconcile_all(Manager *m, EventKind why) {
        Event e = { .kind = why, .group = -1 };

        manager_refresh_net(m, -1);
        return manager_decide_and_act(m, &e, NULL);
}

static int handle_event(Manager *m, const Event *event, size_t *ret_writes) {
        Event e = *event;
        int r;

        if (!pci_address_is_valid(e.address))
                return -EINVAL;

        /* A removed device is no longer in the model after the refresh: keep its group so the engine can reconcile
         * the members left behind. */
        if (e.group < 0) {
                const Device *old = model_find_device(m->model, e.address);
                if (old)
                        e.group = old->id.iommu_group;
        }

        r = model_refresh_device(m->model, e.address);
        if (r < 0) {
                log_msg(LOG_ERR, "%s: cannot re-read the device after a %s uevent: %s", e.address,
                        event_kind_to_string(e.kind), strerror(-r));
                return r;
        }

        notify_device_changed(m, e.address);

        const Device *now = model_find_device(m->model, e.address);
        if (now)
                e.group = now->id.iommu_group;
        if (e.kind != EVENT_REMOVE && !now)
                e.kind = EVENT_REMOVE; /* it left before we could read it */

        manager_refresh_net(m, e.group);

        r = manager_decide_and_act(m, &e, ret_writes);
        if (r < 0)
                return r;
        return e.kind;
}

int manager_handle_event(Manager *m, const Event *event, uint64_t received_usec) {
        uint64_t kernel_before = actuator_kernel_usec(m->actuator);
        uint64_t kernel_cpu_before = actuator_kernel_cpu_usec(m->actuator);
        uint64_t cpu_before = thread_cpu_usec(), last_write, last_write_cpu;
        size_t writes = 0;
        int r;

        if (received_usec == 0)
                received_usec = now_usec();

        manager_hold_notifications(m);
        r = handle_event(m, event, &writes);
        manager_release_notifications(m);
        if (r < 0)
                return r;

        /* The window a violation stays open ends when the last write returns (re-reading and auditing after it
         * are not part of it). It splits into the kernel's work behind our writes (a driver's remove(), a probe)
         * and the daemon's own: reading, asking netlink, deciding, auditing, checking identities; of the latter,
         * the CPU time is what the daemon did, the rest is waiting for a CPU. Say all three. */
        if (writes > 0) {
                actuator_last_write(m->actuator, &last_write, &last_write_cpu);
                uint64_t total = last_write > received_usec ? last_write - received_usec : 0;
                uint64_t cpu = last_write_cpu > cpu_before ? last_write_cpu - cpu_before : 0;
                uint64_t kernel = actuator_kernel_usec(m->actuator) - kernel_before;
                uint64_t kernel_cpu = actuator_kernel_cpu_usec(m->actuator) - kernel_cpu_before;

                log_msg(LOG_INFO, "%s %s: %zu write(s) done %" PRIu64 " usec after the uevent arrived (%" PRIu64
                        " usec in the kernel's writes, %" PRIu64 " usec the daemon's own, %" PRIu64 " usec of it "
                        "on the CPU)",
                        event_kind_to_string((EventKind) r), event->address, writes, total, kernel,
                        total > kernel ? total - kernel : 0, cpu > kernel_cpu ? cpu - kernel_cpu : 0);
        }
        return 0;
}

int manager_reload(Manager *m) {
        _cleanup_policy_ Policy *p = NULL;
        PolicyErrors errors = {};
        int r;

        r = policy_load(&m->config.policy_paths, &p, &errors);
        if (r < 0) {
                audit_policy_rejected(&errors, /* kept_previous= */ true);
                if (m->hooks.policy_reloaded) {
                        _cleanup_free_ char *first = NULL;
                        if (errors.n_errors > 0 &&
                            asprintf(&first, "%s:%u:%u: %s", errors.errors[0].file, errors.errors[0].line,
                                     errors.errors[0].column, errors.errors[0].message) < 0)
                                first = NULL;
                        m->hooks.policy_reloaded(false, first ?: "policy rejected", m->hooks.userdata);
                }
                policy_errors_clear(&errors);
                return -EINVAL;
        }

        policy_free(m->policy);
        m->policy = TAKE_PTR(p);
        audit_policy_loaded(m->policy);
        if (m->hooks.policy_reloaded)
                m->hooks.policy_reloaded(true, "", m->hooks.userdata);

        /* Pins of the old policy that the new one no longer wants are lifted by the reconciliation. */
        return manager_reconcile_all(m, EVENT_RELOAD);
}

int manager_rescan(Manager *m) {
        int r;

        r = model_rescan(m->model);
        if (r < 0) {
                log_msg(LOG_ERR, "full re-scan of %s failed: %s", m->config.sysfs_root, strerror(-r));
                return r;
        }
        log_msg(LOG_NOTICE, "re-scanned %s: %zu devices in %zu groups", m->config.sysfs_root, m->model->n_devices,
                m->model->n_groups);
        if (m->hooks.model_rebuilt)
                m->hooks.model_rebuilt(m->hooks.userdata);
        return manager_reconcile_all(m, EVENT_RELOAD);
}

int manager_refresh_holders(Manager *m) {
        _cleanup_free_ DmaOwner *before = NULL;
        _cleanup_free_ unsigned *numbers = NULL;
        size_t n = m->model->n_groups;
        int r;

        if (n > 0) {
                before = calloc(n, sizeof(DmaOwner));
                numbers = calloc(n, sizeof(unsigned));
                if (!before || !numbers)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                before[i] = m->model->groups[i].owner;
                numbers[i] = m->model->groups[i].number;
        }

        r = model_refresh_holders(m->model);
        if (r < 0)
                return r;
        if (m->hooks.model_rebuilt)
                m->hooks.model_rebuilt(m->hooks.userdata);

        for (size_t i = 0; i < n; i++) {
                const Group *g = model_find_group(m->model, numbers[i]);
                if (!g || g->owner == before[i])
                        continue;

                log_msg(LOG_INFO, "group %u: DMA owner %s -> %s", g->number, dma_owner_to_string(before[i]),
                        dma_owner_to_string(g->owner));
                Event e = { .kind = EVENT_HOLDERS, .group = g->number };
                manager_refresh_net(m, g->number);
                r = manager_decide_and_act(m, &e, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}
