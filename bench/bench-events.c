/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bench-events TREE: the event path under a bind storm, in process. The daemon's own manager (model refresh, engine,
 * audit, actuator) runs on a synthetic tree from gen-sysfs; what is not exercised is the uevent socket in front of it
 * (umockdev's socket queue holds 10 datagrams and drops the rest silently, so a real burst of 10 000 cannot be sent
 * through it; the hostile suite covers overflow and the rescan that repairs it).
 *
 * Set-up: 100 reservations of multifunction-GPU groups (4 members each, on amdgpu, snd_hda_intel, xhci_hcd); a first
 * reconciliation unbinds them, and the tree is then made to show what the kernel would: every member driverless with
 * driver_override "vfio-pci".
 *
 * The storm: 10 000 "bind" uevents, each a host driver binding to a member of a reserved group (the tree is changed
 * first, as the kernel would, outside the timed part). Each must come out as exactly one violation whose unbind and
 * probe are written to sysfs. After each event the tree is unbound again, as the kernel would after the write.
 *
 * Reported, over the 10 000 events:
 *   - service time, uevent handed to the manager → its last sysfs write done: p50/p99/max;
 *   - burst latency, if all 10 000 had arrived at once and waited their turn (each waits for the whole handling of
 *     those before it, re-reads included): p50/p99/max of arrival → its last write;
 *   - lost=N: events that did not produce their violation and both writes (must be 0).
 * Last line, for bench/run-bench.sh:
 *   events=E violations=V writes=W lost=L service_p50_usec=… service_p99_usec=… service_max_usec=…
 *   burst_p50_usec=… burst_p99_usec=… burst_max_usec=… */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "dma-ownerd/macro.h"
#include "manager.h"
#include "sysfs-tree.h"
#include "dma-ownerd/time-util.h"

#define N_EVENTS_DEFAULT 10000u
#define N_RESERVED 100u

typedef struct Tally {
        size_t violations;
        size_t other_decisions;
        size_t writes;          /* sysfs writes attempted by the actuator */
        size_t unbind_writes;
        size_t probe_writes;
} Tally;

static void on_decision(const Decision *d, void *userdata) {
        Tally *t = userdata;

        if (d->kind == DECISION_VIOLATION)
                t->violations++;
        else
                t->other_decisions++;
}

static int on_write(const char *relpath, const char *value, void *userdata) {
        Tally *t = userdata;
        size_t n = strlen(relpath);

        t->writes++;
        if (n >= 7 && strcmp(relpath + n - 7, "/unbind") == 0)
                t->unbind_writes++;
        else if (strcmp(relpath, "bus/pci/drivers_probe") == 0)
                t->probe_writes++;
        return 0; /* go ahead */
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned p) {
        size_t i = (n * p + 99) / 100;
        return sorted[i > 0 ? i - 1 : 0];
}

static int write_policy(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs("mode: enforce\non-violation: unbind\nreservations:\n", f);
        /* gen-sysfs: group g has shape g % 4, and shape 1 is the multifunction GPU. */
        for (unsigned k = 0; k < N_RESERVED; k++)
                fprintf(f, "  - name: gpu-%u\n    match:\n      iommu-group: %u\n", k, 4 * k + 1);
        return fflush(f) == 0 ? 0 : -EIO;
}

int main(int argc, char *argv[]) {
        _cleanup_manager_ Manager *m = NULL;
        _cleanup_free_ char *work = NULL, *proc = NULL, *policy_file = NULL, *netdev_file = NULL;
        _cleanup_free_ uint64_t *service = NULL, *burst = NULL;
        _cleanup_free_ char (*members)[PCI_ADDRESS_STRLEN] = NULL;
        Policy *policy = NULL;
        PolicyErrors errors = {};
        Tally tally = {};
        size_t n_members = 0, lost = 0;
        int r;

        size_t n_events = N_EVENTS_DEFAULT;
        if (argc == 3) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(argv[2], &end, 10);
                if (errno != 0 || *end || end == argv[2] || v == 0 || v > 10000000) {
                        fprintf(stderr, "bench-events: invalid number of events \"%s\" (1…10000000)\n", argv[2]);
                        return EXIT_FAILURE;
                }
                n_events = v;
        }
        if (argc != 2 && argc != 3) {
                fprintf(stderr, "usage: bench-events TREE [EVENTS] (TREE from gen-sysfs --devices 4096 --groups 1024; "
                                "EVENTS default %u); writes beside it in TREE.events/, which the caller removes\n",
                        N_EVENTS_DEFAULT);
                return EXIT_FAILURE;
        }
        const char *tree = argv[1];

        /* Beside the tree: an empty /proc (no holders) and an empty network state (no interface in use). */
        if (asprintf(&work, "%s.events", tree) < 0 || asprintf(&proc, "%s/proc", work) < 0 ||
            asprintf(&policy_file, "%s/policy.yaml", work) < 0 || asprintf(&netdev_file, "%s/netdev", work) < 0)
                return EXIT_FAILURE;
        if (mkdir(work, 0755) < 0 || mkdir(proc, 0755) < 0) {
                fprintf(stderr, "cannot create %s: %m\n", work);
                return EXIT_FAILURE;
        }
        if (write_policy(policy_file) < 0 || sysfs_tree_write(work, "netdev", "") < 0) {
                fprintf(stderr, "cannot write the policy or the network state under %s\n", work);
                return EXIT_FAILURE;
        }

        /* Audit records and log lines would be 10 000s of lines: counted through the hooks instead. */
        audit_init(AUDIT_TARGET_STDERR);
        int saved_stderr = dup(STDERR_FILENO);
        int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved_stderr < 0 || null_fd < 0 || dup2(null_fd, STDERR_FILENO) < 0)
                return EXIT_FAILURE;
        (void) close(null_fd);

        char *const files[] = { policy_file };
        r = policy_load_files(files, 1, &policy, &errors);
        if (r < 0) {
                policy_errors_print(&errors, fdopen(saved_stderr, "w"));
                return EXIT_FAILURE;
        }

        ManagerConfig config = {
                .sysfs_root = tree,
                .proc_root = proc,
                .kernel_release = "6.1.0",
                .netdev_fake = netdev_file,
        };
        r = manager_new(&config, policy, &m);
        if (r < 0) {
                dprintf(saved_stderr, "manager_new: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        /* The reserved groups' members, unbound as the kernel leaves them after the first reconciliation. */
        r = manager_reconcile_all(m, EVENT_START);
        if (r < 0)
                return EXIT_FAILURE;
        members = calloc(m->model->n_devices, PCI_ADDRESS_STRLEN);
        if (!members)
                return EXIT_FAILURE;
        for (size_t i = 0; i < m->model->n_groups; i++) {
                const Group *g = &m->model->groups[i];
                if (g->number % 4 != 1 || g->number >= 4 * N_RESERVED)
                        continue;
                for (size_t k = 0; k < g->n_members; k++) {
                        const Device *d = model_group_member(m->model, g, k);
                        if (sysfs_tree_set_driver(tree, d->id.address, NULL) < 0)
                                return EXIT_FAILURE;
                }
        }
        r = manager_rescan(m);
        if (r < 0)
                return EXIT_FAILURE;
        for (size_t i = 0; i < m->model->n_groups; i++) {
                const Group *g = &m->model->groups[i];
                if (g->number % 4 != 1 || g->number >= 4 * N_RESERVED)
                        continue;
                for (size_t k = 0; k < g->n_members; k++)
                        memcpy(members[n_members++], model_group_member(m->model, g, k)->id.address,
                               PCI_ADDRESS_STRLEN);
        }
        if (n_members == 0) {
                dprintf(saved_stderr, "no reserved members in %s\n", tree);
                return EXIT_FAILURE;
        }

        m->hooks = (ManagerHooks) { .decision = on_decision, .userdata = &tally };
        actuator_set_write_hook(m->actuator, on_write, &tally);

        service = calloc(n_events, sizeof(uint64_t));
        burst = calloc(n_events, sizeof(uint64_t));
        if (!service || !burst)
                return EXIT_FAILURE;

        static const char *const host_drivers[] = { "amdgpu", "snd_hda_intel", "xhci_hcd" };
        uint64_t elapsed = 0;
        for (size_t i = 0; i < n_events; i++) {
                const char *address = members[(i * 7) % n_members];
                const char *driver = host_drivers[i % ELEMENTSOF(host_drivers)];
                Event e = { .kind = EVENT_BIND, .group = -1 };
                Tally before = tally;

                if (sysfs_tree_set_driver(tree, address, driver) < 0)
                        return EXIT_FAILURE;
                memcpy(e.address, address, sizeof(e.address));
                (void) snprintf(e.driver, sizeof(e.driver), "%s", driver);

                uint64_t start = now_usec();
                r = manager_handle_event(m, &e, start);
                if (r < 0)
                        dprintf(saved_stderr, "event %zu (%s): %s\n", i, address, strerror(-r));

                /* The write is the end of the path; the re-read after it is not counted in the service time, but
                 * the next event of a burst waits for it. */
                uint64_t end = now_usec(), last_write, last_write_cpu;
                actuator_last_write(m->actuator, &last_write, &last_write_cpu);
                uint64_t done = last_write > start ? last_write : end;
                service[i] = done - start;
                burst[i] = elapsed + service[i];
                elapsed += end - start;

                if (r < 0 || tally.violations != before.violations + 1 ||
                    tally.unbind_writes != before.unbind_writes + 1 || tally.probe_writes != before.probe_writes + 1)
                        lost++;

                /* The kernel carries the unbind out. */
                if (sysfs_tree_set_driver(tree, address, NULL) < 0 || model_refresh_device(m->model, address) < 0)
                        return EXIT_FAILURE;
        }

        (void) dup2(saved_stderr, STDERR_FILENO);

        qsort(service, n_events, sizeof(uint64_t), compare_u64);
        printf("events: %zu bind uevents over %zu members of %u reserved groups; %zu violations, %zu other decisions, "
               "%zu sysfs writes (%zu unbind, %zu probe)\n",
               n_events, n_members, N_RESERVED, tally.violations, tally.other_decisions, tally.writes,
               tally.unbind_writes, tally.probe_writes);
        printf("events=%zu violations=%zu writes=%zu lost=%zu service_p50_usec=%" PRIu64 " service_p99_usec=%" PRIu64
               " service_max_usec=%" PRIu64 " burst_p50_usec=%" PRIu64 " burst_p99_usec=%" PRIu64
               " burst_max_usec=%" PRIu64 "\n",
               n_events, tally.violations, tally.writes, lost, percentile(service, n_events, 50),
               percentile(service, n_events, 99), service[n_events - 1], percentile(burst, n_events, 50),
               percentile(burst, n_events, 99), burst[n_events - 1]);

        return lost == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
