/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bench-engine: how many decisions the pure engine makes per second. An in-memory model of 4096 devices in 1024 groups
 * (bridges with NICs, multifunction GPUs, SR-IOV PFs with VFs, vfio groups held by a VMM, NVMe, driverless
 * accelerators), a policy of 100 reservations built as YAML text, and 100 000 events drawn with a fixed seed: binds,
 * unbinds, adds and holder changes over random devices. A few reserved or user-owned groups hold host drivers, so
 * violations are part of the mix. Each of 5 runs replays the same events; the best run is reported.
 *
 * The model is not changed between events (the engine is pure and decides from what it is given), so a run measures
 * exactly the decision path the daemon takes per uevent, without I/O.
 *
 * Last line, for bench/run-bench.sh:
 *   events=E decisions=D best_usec=U events_per_sec=X decisions_per_sec=Y */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dma-ownerd/macro.h"
#include "engine.h"
#include "model.h"
#include "policy.h"
#include "dma-ownerd/time-util.h"

#define N_GROUPS 1024u
#define MEMBERS_PER_GROUP 4u
#define N_DEVICES (N_GROUPS * MEMBERS_PER_GROUP)
#define N_EVENTS 100000u
#define N_RUNS 5u
#define N_SHAPES 8u

/* xorshift64*: a fixed seed makes every run, and every machine, replay the same events. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_next(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t rng_below(uint32_t n) {
        return rng_next() % n;
}

/* Member `function` of group `g`: its ids, class and driver follow the group's shape (g % N_SHAPES). */
static void fill_device(Device *d, unsigned g, unsigned function, NetInterface *net) {
        static const char *const gpu_drivers[MEMBERS_PER_GROUP] = { "amdgpu", "snd_hda_intel", "xhci_hcd", NULL };
        static const uint32_t gpu_classes[MEMBERS_PER_GROUP] = { 0x030000, 0x040300, 0x0c0330, 0x0c8000 };
        unsigned shape = g % N_SHAPES;

        *d = (Device) {
                .id = {
                        .subsystem_vendor = 0x1028,
                        .subsystem_device = (uint16_t) (0x0100 + shape),
                        .iommu_group = g,
                },
                .multifunction = true,
        };
        (void) snprintf(d->id.address, sizeof(d->id.address), "0000:%02x:%02x.%u", 1 + g / 32, g % 32, function);

        switch (shape) {
        case 0: /* a PCIe port without ACS and the NICs behind it */
                if (function == 0) {
                        d->id.vendor = 0x8086, d->id.device = 0x7ab8, d->id.class = 0x060400;
                        d->header_type = 1, d->is_bridge = true, d->driver = (char *) "pcieport";
                } else {
                        d->id.vendor = 0x8086, d->id.device = 0x10d3, d->id.class = 0x020000;
                        d->driver = (char *) "e1000e";
                        (void) snprintf(net->name, sizeof(net->name), "enp%us%u", g, function);
                        net->up = true;
                        d->net = net, d->n_net = 1;
                }
                break;
        case 1: /* a GPU with its HDMI audio and USB functions */
                d->id.vendor = 0x1002;
                d->id.device = (uint16_t) (0x73bf + function);
                d->id.class = gpu_classes[function];
                d->driver = (char *) gpu_drivers[function];
                break;
        case 2: /* an SR-IOV PF and its VFs */
                d->id.vendor = 0x8086, d->id.class = 0x020000;
                if (function == 0) {
                        d->id.device = 0x1592, d->driver = (char *) "ice", d->sriov_numvfs = MEMBERS_PER_GROUP - 1;
                } else {
                        d->id.device = 0x1889, d->is_virtfn = true;
                        (void) snprintf(d->physfn, sizeof(d->physfn), "0000:%02x:%02x.0", 1 + g / 32, g % 32);
                        d->driver = function == 3 ? NULL : (char *) "iavf";
                }
                break;
        case 3: /* a group passed to a VM: two functions on vfio-pci, two driverless */
                d->id.vendor = 0x10de, d->id.device = (uint16_t) (0x2204 + function), d->id.class = 0x030000;
                d->driver = function < 2 ? (char *) "vfio-pci" : NULL;
                break;
        case 4:
                d->id.vendor = 0x144d, d->id.device = 0xa808, d->id.class = 0x010802;
                d->driver = (char *) "nvme";
                break;
        case 5: /* driverless accelerators, the usual reservation targets */
                d->id.vendor = 0x1af4, d->id.device = (uint16_t) (0x1000 + (g / N_SHAPES) % 20);
                d->id.class = 0x120000;
                break;
        case 6: /* vfio-pci beside a host audio driver */
                d->id.vendor = 0x10de, d->id.device = 0x1aef, d->id.class = 0x040300;
                d->driver = function == 0 ? (char *) "vfio-pci" : (char *) "snd_hda_intel";
                break;
        default:
                d->id.vendor = 0x8086, d->id.device = 0x1533, d->id.class = 0x020000;
                d->driver = (char *) "igb";
                break;
        }
}

static int build_model(Model **ret) {
        _cleanup_model_ Model *m = NULL;
        int r;

        r = model_new_empty(&m);
        if (r < 0)
                return r;
        m->kernel_dma_ownership = true;

        for (unsigned g = 0; g < N_GROUPS; g++)
                for (unsigned f = 0; f < MEMBERS_PER_GROUP; f++) {
                        NetInterface net = {};
                        Device d;

                        fill_device(&d, g, f, &net);
                        r = model_add_device(m, &d);
                        if (r < 0)
                                return r;
                }

        /* A VMM holds every fourth vfio group, and a handful of the mixed ones: those are user-owned, so the host
         * audio driver beside vfio-pci there is a violation. */
        for (unsigned g = 0; g < N_GROUPS; g++) {
                _cleanup_free_ char *path = NULL;

                if (!((g % N_SHAPES == 3 && g % 32 == 3) || (g % N_SHAPES == 6 && g % 128 == 6)))
                        continue;
                if (asprintf(&path, "/dev/vfio/%u", g) < 0)
                        return -ENOMEM;
                r = model_add_holder(m, g, (pid_t) (1000 + g), "qemu-system-x86", "machine-vm.scope", path);
                if (r < 0)
                        return r;
        }

        r = model_index(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

/* 100 reservations: 60 by IOMMU group (most on driverless or vfio groups, four on groups with host drivers: those
 * are the violations), 20 by vendor and device, 10 by address glob (matching nothing: the cost of a miss), 10 by
 * class under a mask. */
static int build_policy_text(char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        unsigned n = 0;

        if (!f)
                return -ENOMEM;

        fputs("mode: enforce\n"
              "on-violation: unbind\n"
              "network-protection: true\n"
              "allowed-drivers: [\"my_stub\", \"*_vfio_pci\"]\n"
              "denied-drivers: [\"nouveau\"]\n"
              "reservations:\n", f);

        for (unsigned k = 0; k < 50; k++, n++)
                fprintf(f, "  - name: accel-group-%u\n    match:\n      iommu-group: %u\n", n, k * N_SHAPES + 5);
        for (unsigned k = 0; k < 6; k++, n++)
                fprintf(f, "  - name: vm-group-%u\n    match:\n      iommu-group: %u\n", n, k * 64 + 3);
        for (unsigned k = 0; k < 4; k++, n++)
                fprintf(f, "  - name: host-group-%u\n    match:\n      iommu-group: %u\n", n, k * 256 + 7);
        for (unsigned k = 0; k < 20; k++, n++)
                fprintf(f,
                        "  - name: accel-id-%u\n    match:\n      vendor: 0x1af4\n      device: 0x%04x\n"
                        "    driver: vfio-pci\n    whole-group: true\n",
                        n, 0x1000 + k);
        for (unsigned k = 0; k < 10; k++, n++)
                fprintf(f, "  - name: other-domain-%u\n    match:\n      address: \"%04x:*:*.*\"\n", n, k + 1);
        for (unsigned k = 0; k < 10; k++, n++)
                fprintf(f,
                        "  - name: class-%u\n    match:\n      class: 0x%06x\n      class-mask: 0xffff00\n"
                        "      vendor: 0x1af4\n",
                        n, 0x120000 + (k << 8));

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

static int build_policy(Policy **ret) {
        _cleanup_policy_ Policy *p = NULL;
        _cleanup_free_ char *text = NULL;
        PolicyErrors errors = {};
        int r;

        r = build_policy_text(&text);
        if (r < 0)
                return r;
        r = policy_new_default(&p);
        if (r < 0)
                return r;
        r = policy_merge_buffer(p, "bench-policy.yaml", text, strlen(text), &errors);
        if (r < 0) {
                policy_errors_print(&errors, stderr);
                policy_errors_clear(&errors);
                return r;
        }
        if (p->n_reservations != 100) {
                fprintf(stderr, "expected 100 reservations, the policy holds %zu\n", p->n_reservations);
                return -EINVAL;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

static const Device *random_device(const Model *m, bool want_driver) {
        for (;;) {
                const Device *d = &m->devices[rng_below((uint32_t) m->n_devices)];
                if (!!d->driver == want_driver)
                        return d;
        }
}

/* 40% binds (of the driver the model shows bound), 20% unbinds (of a driverless device), 25% adds, 15% holder
 * changes. */
static int build_events(const Model *m, Event **ret) {
        _cleanup_free_ Event *events = calloc(N_EVENTS, sizeof(Event));

        if (!events)
                return -ENOMEM;

        for (size_t i = 0; i < N_EVENTS; i++) {
                Event *e = &events[i];
                uint32_t roll = rng_below(100);
                const Device *d;

                e->group = -1;
                if (roll < 40) {
                        d = random_device(m, true);
                        e->kind = EVENT_BIND;
                        memcpy(e->address, d->id.address, sizeof(e->address));
                        (void) snprintf(e->driver, sizeof(e->driver), "%s", d->driver);
                } else if (roll < 60) {
                        d = random_device(m, false);
                        e->kind = EVENT_UNBIND;
                        memcpy(e->address, d->id.address, sizeof(e->address));
                        (void) snprintf(e->driver, sizeof(e->driver), "%s", "snd_hda_intel");
                } else if (roll < 85) {
                        d = &m->devices[rng_below((uint32_t) m->n_devices)];
                        e->kind = EVENT_ADD;
                        memcpy(e->address, d->id.address, sizeof(e->address));
                } else {
                        e->kind = EVENT_HOLDERS;
                        e->group = m->groups[rng_below((uint32_t) m->n_groups)].number;
                }
        }

        *ret = TAKE_PTR(events);
        return 0;
}

int main(void) {
        _cleanup_model_ Model *model = NULL;
        _cleanup_policy_ Policy *policy = NULL;
        _cleanup_free_ Event *events = NULL;
        DecisionList decisions = {};
        size_t per_kind[_DECISION_KIND_MAX] = {}, total = 0;
        uint64_t best_usec = UINT64_MAX;
        int r;

        r = build_model(&model);
        if (r < 0) {
                fprintf(stderr, "cannot build the model: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = build_policy(&policy);
        if (r < 0) {
                fprintf(stderr, "cannot build the policy: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = build_events(model, &events);
        if (r < 0) {
                fprintf(stderr, "cannot build the events: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        printf("engine: %zu devices in %zu groups, %zu reservations, %u events, best of %u runs\n", model->n_devices,
               model->n_groups, policy->n_reservations, N_EVENTS, N_RUNS);

        for (unsigned run = 0; run < N_RUNS; run++) {
                size_t n = 0;
                uint64_t start = now_usec();

                for (size_t i = 0; i < N_EVENTS; i++) {
                        decision_list_clear(&decisions);
                        r = engine_decide(model, policy, &events[i], &decisions);
                        if (r < 0) {
                                fprintf(stderr, "engine_decide: %s\n", strerror(-r));
                                decision_list_done(&decisions);
                                return EXIT_FAILURE;
                        }
                        n += decisions.n;
                        if (run == 0)
                                for (size_t j = 0; j < decisions.n; j++)
                                        per_kind[decisions.items[j].kind]++;
                }

                uint64_t elapsed = now_usec() - start;
                if (elapsed < best_usec)
                        best_usec = elapsed;
                /* The engine is pure: every run must decide exactly the same. */
                if (run > 0 && n != total) {
                        fprintf(stderr, "run %u made %zu decisions, run 0 made %zu\n", run, n, total);
                        decision_list_done(&decisions);
                        return EXIT_FAILURE;
                }
                total = n;
        }
        decision_list_done(&decisions);

        printf("engine: decisions per run:");
        for (size_t k = 0; k < _DECISION_KIND_MAX; k++)
                printf(" %s=%zu", decision_kind_to_string((DecisionKind) k), per_kind[k]);
        printf("\n");

        if (best_usec == 0)
                best_usec = 1;
        printf("events=%u decisions=%zu best_usec=%" PRIu64 " events_per_sec=%.0f decisions_per_sec=%.0f\n", N_EVENTS,
               total, best_usec, N_EVENTS * 1e6 / (double) best_usec, (double) total * 1e6 / (double) best_usec);
        return EXIT_SUCCESS;
}
