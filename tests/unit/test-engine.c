/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The decision engine, table-driven: each row is a topology, a policy (YAML, merged on top of the built-in default),
 * an event and the exact decisions expected. Rows marked idempotent then apply the steps the way the kernel would
 * (override, unbind, probe binds the override or the device's native driver), rebuild the model and decide again:
 * nothing may come out the second time. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dma-ownerd/macro.h"
#include "engine.h"
#include "model.h"
#include "policy.h"

#define MAX_DEVICES 16
#define MAX_HELD 4
#define POLICY_NAME "test.yaml"

typedef struct TestDevice {
        const char *address;
        int64_t group;
        uint16_t vendor;
        uint16_t device;
        uint32_t class;
        const char *driver;   /* NULL: driverless */
        const char *override; /* NULL: "(null)" */
        const char *native;   /* what a probe without override binds (the host driver), NULL: nothing */
        bool bridge;
        bool pinned;
        const char *physfn;   /* SR-IOV VF: its PF */
        const char *netif;    /* one interface under net/, NULL: none */
        bool net_up;
        bool net_address;
        bool net_default_route;
} TestDevice;

typedef struct TestStep {
        StepKind kind;
        const char *driver; /* NULL: "" */
} TestStep;

typedef struct TestDecision {
        DecisionKind kind;
        const char *address;
        int64_t group;
        const char *driver;         /* NULL: "" */
        const char *target;         /* NULL: "" */
        const char *blocker;        /* NULL: "" */
        const char *blocker_driver; /* NULL: "" */
        const char *interface;      /* NULL: "" */
        const char *rule_name;      /* NULL: NULL */
        unsigned rule_line;         /* 0: the built-in mark */
        bool dry_run;
        size_t n_steps;
        TestStep steps[DECISION_STEPS_MAX];
} TestDecision;

typedef struct TestRow {
        const char *name;
        const TestDevice *devices;
        size_t n_devices;
        int64_t held[MAX_HELD]; /* groups a process holds open (user-owned) */
        size_t n_held;
        const char *policy;     /* YAML merged on top of policy_new_default(), NULL: the default alone */
        Event event;
        const TestDecision *expect;
        size_t n_expect;
        bool idempotent;
        bool dma_ownership;     /* a 5.19+ kernel (the model's kernel_dma_ownership); rows default to an older one */
} TestRow;

#define DEVICES(...)                                                    \
        .devices = (const TestDevice[]) { __VA_ARGS__ },                \
        .n_devices = ELEMENTSOF(((const TestDevice[]) { __VA_ARGS__ }))
#define HELD(...)                                                       \
        .held = { __VA_ARGS__ },                                        \
        .n_held = ELEMENTSOF(((const int64_t[]) { __VA_ARGS__ }))
#define EXPECT(...)                                                     \
        .expect = (const TestDecision[]) { __VA_ARGS__ },               \
        .n_expect = ELEMENTSOF(((const TestDecision[]) { __VA_ARGS__ }))
#define STEPS(...)                                                      \
        .steps = { __VA_ARGS__ },                                       \
        .n_steps = ELEMENTSOF(((const TestStep[]) { __VA_ARGS__ }))

#define SET(d) { STEP_SET_OVERRIDE, d }
#define CLEAR { STEP_CLEAR_OVERRIDE, NULL }
#define UNBIND(d) { STEP_UNBIND, d }
#define PROBE { STEP_PROBE, NULL }

#define EV(k, a, d, g) { .kind = (k), .address = a, .driver = d, .group = (g) }
#define EV_START EV(EVENT_START, "", "", -1)
#define EV_RELOAD EV(EVENT_RELOAD, "", "", -1)

/* Vendor and device ids used by the reservations below. */
#define NV 0x10de
#define NV_GPU 0x1eb8
#define NV_AUDIO 0x10f8
#define INTEL 0x8086
#define INTEL_VF 0x10ed
#define INTEL_PF 0x10fb

/* Line 2 of each of these is the reservation ("- name:"), which is what its decisions cite. */
#define POLICY_GPU                                       \
        "reservations:\n"                                \
        "  - name: gpu\n"                                \
        "    match:\n"                                   \
        "      vendor: 0x10de\n"                         \
        "      device: 0x1eb8\n"

#define POLICY_GPU_AUDIT                                 \
        POLICY_GPU                                       \
        "mode: audit\n"

#define POLICY_GPU_LOG                                   \
        POLICY_GPU                                       \
        "on-violation: log\n"

#define POLICY_NIC_PARTIAL                               \
        "reservations:\n"                                \
        "  - name: nic\n"                                \
        "    match:\n"                                   \
        "      address: \"0000:04:00.[01]\"\n"           \
        "    whole-group: false\n"                       \
        "denied-drivers: [\"mlx5_*\"]\n"

#define POLICY_GROUP_PARTIAL                             \
        "reservations:\n"                                \
        "  - name: first-function\n"                     \
        "    match:\n"                                   \
        "      address: \"0000:05:00.0\"\n"              \
        "    whole-group: false\n"

#define POLICY_NET                                       \
        "reservations:\n"                                \
        "  - name: nic\n"                                \
        "    match:\n"                                   \
        "      address: \"0000:09:00.0\"\n"

#define POLICY_NET_OFF                                   \
        POLICY_NET                                       \
        "network-protection: false\n"

#define POLICY_NET_LOG                                   \
        POLICY_NET                                       \
        "on-violation: log\n"

#define POLICY_VF                                        \
        "reservations:\n"                                \
        "  - name: vfs\n"                                \
        "    match:\n"                                   \
        "      vendor: 0x8086\n"                         \
        "      device: 0x10ed\n"

#define POLICY_VARIANT                                   \
        "reservations:\n"                                \
        "  - name: mlx\n"                                \
        "    match:\n"                                   \
        "      iommu-group: 70\n"                        \
        "    driver: mlx5_vfio_pci\n"

/* Line 3 is the denied glob. */
#define POLICY_DENIED_SND                                \
        "allowed-drivers: [\"snd_*\"]\n"                 \
        "network-protection: true\n"                     \
        "denied-drivers: [snd_hda_intel]\n"

#define POLICY_ALLOW_NVME                                \
        "reservations:\n"                                \
        "  - name: storage\n"                            \
        "    match:\n"                                   \
        "      address: \"0000:0c:00.*\"\n"              \
        "allowed-drivers: [nvme]\n"

#define POLICY_TWO_TARGETS                               \
        "reservations:\n"                                \
        "  - name: plain\n"                              \
        "    match:\n"                                   \
        "      address: \"0000:0d:00.0\"\n"              \
        "  - name: variant\n"                            \
        "    match:\n"                                   \
        "      address: \"0000:0d:00.1\"\n"              \
        "    driver: mlx5_vfio_pci\n"

/* A GPU and its audio function, alone in group 12. */
#define GPU(drv, ovr) { .address = "0000:01:00.0", .group = 12, .vendor = NV, .device = NV_GPU, .class = 0x030000, \
                        .driver = drv, .override = ovr, .native = "nouveau" }
#define GPU_AUDIO(drv, ovr) { .address = "0000:01:00.1", .group = 12, .vendor = NV, .device = NV_AUDIO, \
                              .class = 0x040300, .driver = drv, .override = ovr, .native = "snd_hda_intel" }
/* The root port above it, in the same group (no ACS). */
#define PORT(drv, ovr) { .address = "0000:00:01.0", .group = 12, .vendor = INTEL, .device = 0x1901, \
                         .class = 0x060400, .driver = drv, .override = ovr, .native = "pcieport", .bridge = true }

static const TestRow rows[] = {
        {
                .name = "reserved-bound-to-host-driver-enforced",
                DEVICES(GPU("nouveau", NULL), GPU_AUDIO("snd_hda_intel", NULL)),
                .policy = POLICY_GPU,
                .event = EV_START,
                EXPECT({ DECISION_VIOLATION, "0000:01:00.0", 12, "nouveau", "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci"), UNBIND("nouveau"), PROBE) },
                       { DECISION_VIOLATION, "0000:01:00.1", 12, "snd_hda_intel", "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci"), UNBIND("snd_hda_intel"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "pcieport-bridge-in-reserved-group-allowed",
                DEVICES(PORT("pcieport", NULL), GPU("vfio-pci", "vfio-pci"), GPU_AUDIO("vfio-pci", "vfio-pci")),
                .policy = POLICY_GPU,
                .event = EV_START,
        },
        {
                .name = "shpchp-bridge-in-reserved-group-no-probe",
                DEVICES(PORT("shpchp", NULL), GPU("vfio-pci", "vfio-pci"), GPU_AUDIO("vfio-pci", "vfio-pci")),
                .policy = POLICY_GPU,
                .event = EV(EVENT_BIND, "0000:00:01.0", "shpchp", -1),
                EXPECT({ DECISION_VIOLATION, "0000:00:01.0", 12, "shpchp", "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci"), UNBIND("shpchp")) }),
                .idempotent = true,
        },
        {
                .name = "hot-add-host-driver-into-user-owned-group",
                DEVICES({ .address = "0000:03:00.0", .group = 20, .driver = "vfio-pci", .override = "vfio-pci",
                          .pinned = true },
                        { .address = "0000:03:00.1", .group = 20, .driver = "e1000e", .native = "e1000e" }),
                HELD(20),
                .event = EV(EVENT_ADD, "0000:03:00.1", "", -1),
                EXPECT({ DECISION_VIOLATION, "0000:03:00.1", 20, "e1000e", "vfio-pci",
                         STEPS(SET("vfio-pci"), UNBIND("e1000e"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "hot-add-driverless-into-user-owned-group-pinned",
                DEVICES({ .address = "0000:03:00.0", .group = 20, .driver = "vfio-pci", .override = "vfio-pci",
                          .pinned = true },
                        { .address = "0000:03:00.1", .group = 20, .native = "e1000e" }),
                HELD(20),
                .event = EV(EVENT_ADD, "0000:03:00.1", "", -1),
                EXPECT({ DECISION_PIN, "0000:03:00.1", 20, NULL, "vfio-pci", STEPS(SET("vfio-pci")) }),
                .idempotent = true,
        },
        {
                .name = "partial-reservation-blocked-by-denied-driver",
                DEVICES({ .address = "0000:04:00.0", .group = 30, .native = "mlx5_core" },
                        { .address = "0000:04:00.2", .group = 30, .driver = "mlx5_core", .native = "mlx5_core" }),
                .policy = POLICY_NIC_PARTIAL,
                .event = EV_START,
                EXPECT({ DECISION_NOT_VIABLE, "0000:04:00.0", 30, NULL, "vfio-pci", "0000:04:00.2", "mlx5_core",
                         .rule_name = "nic", .rule_line = 2 }),
        },
        {
                .name = "partial-reservation-blocked-names-first-blocker-for-each-match",
                DEVICES({ .address = "0000:04:00.0", .group = 30, .driver = "vfio-pci", .override = "vfio-pci" },
                        { .address = "0000:04:00.1", .group = 30 },
                        { .address = "0000:04:00.2", .group = 30, .driver = "e1000e" },
                        { .address = "0000:04:00.3", .group = 30, .driver = "mlx5_core" }),
                .policy = POLICY_NIC_PARTIAL,
                .event = EV(EVENT_BIND, "0000:04:00.2", "e1000e", -1),
                /* Not viable, so the group is a host group whose vfio member still pins its driverless sibling. */
                EXPECT({ DECISION_NOT_VIABLE, "0000:04:00.0", 30, "vfio-pci", "vfio-pci", "0000:04:00.2", "e1000e",
                         .rule_name = "nic", .rule_line = 2 },
                       { DECISION_NOT_VIABLE, "0000:04:00.1", 30, NULL, "vfio-pci", "0000:04:00.2", "e1000e",
                         .rule_name = "nic", .rule_line = 2 },
                       { DECISION_PIN, "0000:04:00.1", 30, NULL, "vfio-pci", STEPS(SET("vfio-pci")) }),
        },
        {
                .name = "partial-reservation-viable-pins-unmatched-driverless",
                DEVICES({ .address = "0000:05:00.0", .group = 31, .native = "ixgbe" },
                        { .address = "0000:05:00.1", .group = 31, .native = "ixgbe" },
                        { .address = "0000:05:00.2", .group = 31, .driver = "pci-stub" },
                        { .address = "0000:05:00.3", .group = 31, .driver = "pcieport", .bridge = true }),
                .policy = POLICY_GROUP_PARTIAL,
                .event = EV_START,
                EXPECT({ DECISION_RESERVE, "0000:05:00.0", 31, NULL, "vfio-pci", .rule_name = "first-function",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) },
                       { DECISION_PIN, "0000:05:00.1", 31, NULL, "vfio-pci", .rule_line = 2,
                         STEPS(SET("vfio-pci")) }),
                .idempotent = true,
        },
        {
                .name = "audit-mode-everything-dry-run",
                DEVICES(GPU("nouveau", NULL), GPU_AUDIO(NULL, NULL)),
                .policy = POLICY_GPU_AUDIT,
                .event = EV_START,
                EXPECT({ DECISION_VIOLATION, "0000:01:00.0", 12, "nouveau", "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, .dry_run = true, STEPS(SET("vfio-pci"), UNBIND("nouveau"), PROBE) },
                       { DECISION_RESERVE, "0000:01:00.1", 12, NULL, "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, .dry_run = true, STEPS(SET("vfio-pci"), PROBE) }),
        },
        {
                .name = "on-violation-log-only-violations-dry-run",
                DEVICES(GPU("nouveau", NULL), GPU_AUDIO(NULL, NULL)),
                .policy = POLICY_GPU_LOG,
                .event = EV_START,
                EXPECT({ DECISION_VIOLATION, "0000:01:00.0", 12, "nouveau", "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, .dry_run = true, STEPS(SET("vfio-pci"), UNBIND("nouveau"), PROBE) },
                       { DECISION_RESERVE, "0000:01:00.1", 12, NULL, "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) }),
        },
        {
                .name = "default-policy-kernel-set-in-user-owned-group",
                DEVICES({ .address = "0000:06:00.0", .group = 40, .driver = "mlx5_vfio_pci",
                          .override = "mlx5_vfio_pci" },
                        { .address = "0000:06:00.1", .group = 40, .driver = "vfio-pci", .override = "vfio-pci" },
                        { .address = "0000:06:00.2", .group = 40, .driver = "hisi-acc-vfio-pci",
                          .override = "hisi-acc-vfio-pci" },
                        { .address = "0000:06:00.3", .group = 40, .driver = "pci-stub" },
                        { .address = "0000:06:00.4", .group = 40, .driver = "pcieport", .bridge = true },
                        { .address = "0000:06:00.5", .group = 40, .driver = "e1000", .native = "e1000" }),
                HELD(40),
                .event = EV(EVENT_HOLDERS, "", "", 40),
                /* The first vfio member (by address) is what the intruder is sent to. */
                EXPECT({ DECISION_VIOLATION, "0000:06:00.5", 40, "e1000", "mlx5_vfio_pci",
                         STEPS(SET("mlx5_vfio_pci"), UNBIND("e1000"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "default-policy-host-group-no-violation",
                DEVICES({ .address = "0000:06:00.0", .group = 40, .driver = "vfio-pci" },
                        { .address = "0000:06:00.3", .group = 40, .driver = "pci-stub" },
                        { .address = "0000:06:00.5", .group = 40, .driver = "e1000", .native = "e1000" },
                        { .address = "0000:07:00.0", .group = 41, .driver = "e1000", .native = "e1000" }),
                .event = EV_START,
                EXPECT({ DECISION_PIN, "0000:06:00.0", 40, "vfio-pci", "vfio-pci", STEPS(SET("vfio-pci")) }),
                .idempotent = true,
        },
        {
                .name = "bind-vfio-pins-siblings",
                DEVICES({ .address = "0000:07:00.0", .group = 42, .driver = "vfio-pci", .native = "nouveau" },
                        { .address = "0000:07:00.1", .group = 42 },
                        { .address = "0000:07:00.2", .group = 42, .driver = "snd_hda_intel",
                          .native = "snd_hda_intel" },
                        { .address = "0000:07:00.3", .group = 42, .driver = "pci-stub" }),
                .event = EV(EVENT_BIND, "0000:07:00.0", "vfio-pci", -1),
                EXPECT({ DECISION_PIN, "0000:07:00.0", 42, "vfio-pci", "vfio-pci", STEPS(SET("vfio-pci")) },
                       { DECISION_PIN, "0000:07:00.1", 42, NULL, "vfio-pci", STEPS(SET("vfio-pci")) }),
                .idempotent = true,
        },
        /* Since 5.19 the kernel refuses a host driver into a group user space holds: pins follow vfio only while a
         * process holds the group; a group merely bound to vfio is left to the admin (driverctl and the like). */
        {
                .name = "dma-ownership-bind-vfio-unheld-pins-nothing",
                DEVICES({ .address = "0000:07:00.0", .group = 42, .driver = "vfio-pci", .native = "nouveau" },
                        { .address = "0000:07:00.1", .group = 42 },
                        { .address = "0000:07:00.2", .group = 42, .driver = "snd_hda_intel",
                          .native = "snd_hda_intel" }),
                .event = EV(EVENT_BIND, "0000:07:00.0", "vfio-pci", -1),
                .dma_ownership = true,
        },
        {
                .name = "dma-ownership-unset-override-beside-vfio-sibling-not-repinned",
                /* driverctl unset-override on one function while its sibling is still on vfio-pci. */
                DEVICES({ .address = "0000:07:00.0", .group = 42, .native = "e1000" },
                        { .address = "0000:07:00.1", .group = 42, .driver = "vfio-pci", .override = "vfio-pci",
                          .native = "e1000" }),
                .event = EV(EVENT_UNBIND, "0000:07:00.0", "vfio-pci", -1),
                .dma_ownership = true,
        },
        {
                .name = "dma-ownership-held-group-pins-siblings",
                DEVICES({ .address = "0000:07:00.0", .group = 42, .driver = "vfio-pci", .native = "nouveau" },
                        { .address = "0000:07:00.1", .group = 42 },
                        { .address = "0000:07:00.3", .group = 42, .driver = "pci-stub" }),
                .held = { 42 },
                .n_held = 1,
                .event = EV(EVENT_BIND, "0000:07:00.0", "vfio-pci", -1),
                EXPECT({ DECISION_PIN, "0000:07:00.0", 42, "vfio-pci", "vfio-pci", STEPS(SET("vfio-pci")) },
                       { DECISION_PIN, "0000:07:00.1", 42, NULL, "vfio-pci", STEPS(SET("vfio-pci")) }),
                .idempotent = true,
                .dma_ownership = true,
        },
        {
                .name = "dma-ownership-group-let-go-lifts-pins",
                /* The VM closed the group: owner none, both still on or held for vfio-pci; the pins are lifted
                 * (vfio-pci stays bound; the driverless one goes back to its host driver). */
                DEVICES({ .address = "0000:07:00.0", .group = 42, .driver = "vfio-pci", .override = "vfio-pci",
                          .pinned = true, .native = "nouveau" },
                        { .address = "0000:07:00.1", .group = 42, .override = "vfio-pci", .pinned = true,
                          .native = "snd_hda_intel" }),
                .event = EV(EVENT_CHANGE, "0000:07:00.0", "vfio-pci", -1),
                EXPECT({ DECISION_UNPIN, "0000:07:00.0", 42, "vfio-pci", NULL, STEPS(CLEAR) },
                       { DECISION_UNPIN, "0000:07:00.1", 42, NULL, NULL, STEPS(CLEAR, PROBE) }),
                .idempotent = true,
                .dma_ownership = true,
        },
        {
                .name = "dma-ownership-reserved-group-still-pinned",
                /* A reservation holds the whole group whatever the kernel: the driverless sibling is reserved. */
                DEVICES({ .address = "0000:07:00.0", .group = 42, .driver = "vfio-pci", .override = "vfio-pci",
                          .native = "nouveau" },
                        { .address = "0000:07:00.1", .group = 42, .native = "snd_hda_intel" }),
                .policy = "reservations:\n  - name: gpu\n    match:\n      iommu-group: 42\n",
                .event = EV(EVENT_BIND, "0000:07:00.0", "vfio-pci", -1),
                EXPECT({ DECISION_RESERVE, "0000:07:00.1", 42, NULL, "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci")) }),
                .idempotent = true,
                .dma_ownership = true,
        },
        {
                .name = "unbind-last-vfio-member-unpins",
                DEVICES({ .address = "0000:07:00.0", .group = 42, .override = "vfio-pci", .pinned = true,
                          .native = "nouveau" },
                        { .address = "0000:07:00.1", .group = 42, .override = "vfio-pci", .pinned = true },
                        { .address = "0000:07:00.2", .group = 42, .override = "vfio-pci", .pinned = true,
                          .bridge = true },
                        { .address = "0000:07:00.3", .group = 42, .driver = "snd_hda_intel", .override = "vfio-pci",
                          .pinned = true },
                        { .address = "0000:07:00.4", .group = 42, .override = "vfio-pci", .native = "ahci" }),
                .event = EV(EVENT_UNBIND, "0000:07:00.0", "vfio-pci", -1),
                /* 07:00.4's override was written by someone else (not pinned): not ours to lift. */
                EXPECT({ DECISION_UNPIN, "0000:07:00.0", 42, NULL, NULL, STEPS(CLEAR, PROBE) },
                       { DECISION_UNPIN, "0000:07:00.1", 42, NULL, NULL, STEPS(CLEAR, PROBE) },
                       { DECISION_UNPIN, "0000:07:00.2", 42, NULL, NULL, STEPS(CLEAR) },
                       { DECISION_UNPIN, "0000:07:00.3", 42, "snd_hda_intel", NULL, STEPS(CLEAR) }),
                .idempotent = true,
        },
        {
                .name = "vfio-member-left-keeps-pins",
                DEVICES({ .address = "0000:07:00.0", .group = 42, .override = "vfio-pci", .pinned = true },
                        { .address = "0000:07:00.1", .group = 42, .driver = "vfio-pci", .override = "vfio-pci",
                          .pinned = true }),
                .event = EV(EVENT_UNBIND, "0000:07:00.0", "vfio-pci", -1),
        },
        {
                .name = "start-reconciles-groups-in-number-order",
                DEVICES(/* group 7: a leftover pin, nothing on vfio any more */
                        { .address = "0000:00:02.0", .group = 7, .override = "vfio-pci", .pinned = true,
                          .native = "i915" },
                        /* group 3: a vfio member and a driverless sibling */
                        { .address = "0000:00:1f.0", .group = 3, .driver = "vfio-pci", .override = "vfio-pci" },
                        { .address = "0000:00:1f.3", .group = 3, .native = "snd_hda_intel" },
                        /* group 2: a plain host group */
                        { .address = "0000:00:14.0", .group = 2, .driver = "xhci_hcd" },
                        /* no IOMMU group at all */
                        { .address = "0000:00:00.0", .group = -1, .driver = "e1000", .pinned = true },
                        /* group 12: reserved, driverless */
                        GPU(NULL, NULL)),
                .policy = POLICY_GPU,
                .event = EV_START,
                EXPECT({ DECISION_PIN, "0000:00:1f.3", 3, NULL, "vfio-pci", STEPS(SET("vfio-pci")) },
                       { DECISION_UNPIN, "0000:00:02.0", 7, NULL, NULL, STEPS(CLEAR, PROBE) },
                       { DECISION_RESERVE, "0000:01:00.0", 12, NULL, "vfio-pci", .rule_name = "gpu", .rule_line = 2,
                         STEPS(SET("vfio-pci"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "remove-uses-event-group",
                DEVICES({ .address = "0000:08:00.1", .group = 50, .override = "vfio-pci", .pinned = true,
                          .native = "snd_hda_intel" }),
                .event = EV(EVENT_REMOVE, "0000:08:00.0", "", 50),
                EXPECT({ DECISION_UNPIN, "0000:08:00.1", 50, NULL, NULL, STEPS(CLEAR, PROBE) }),
                .idempotent = true,
        },
        {
                .name = "remove-of-last-member-group-gone",
                DEVICES({ .address = "0000:08:00.1", .group = 50, .override = "vfio-pci", .pinned = true }),
                .event = EV(EVENT_REMOVE, "0000:09:00.0", "", 51),
        },
        {
                .name = "unknown-device-without-group",
                DEVICES({ .address = "0000:08:00.1", .group = 50, .override = "vfio-pci", .pinned = true }),
                .event = EV(EVENT_BIND, "0000:09:00.0", "e1000e", -1),
        },
        {
                .name = "device-without-iommu-group-ignored",
                DEVICES({ .address = "0000:08:00.1", .group = -1, .override = "vfio-pci", .pinned = true }),
                .event = EV(EVENT_ADD, "0000:08:00.1", "", -1),
        },
        {
                .name = "network-protection-refuses-unbind",
                DEVICES({ .address = "0000:09:00.0", .group = 55, .driver = "e1000e", .native = "e1000e",
                          .netif = "eth0", .net_up = true, .net_address = true }),
                .policy = POLICY_NET,
                .event = EV_START,
                EXPECT({ DECISION_NET_PROTECTED, "0000:09:00.0", 55, "e1000e", "vfio-pci", .interface = "eth0" }),
        },
        {
                .name = "network-protection-default-route-alone",
                DEVICES({ .address = "0000:09:00.0", .group = 55, .driver = "e1000e", .native = "e1000e",
                          .netif = "enp9s0", .net_default_route = true }),
                .policy = POLICY_NET_LOG,
                .event = EV(EVENT_BIND, "0000:09:00.0", "e1000e", -1),
                EXPECT({ DECISION_NET_PROTECTED, "0000:09:00.0", 55, "e1000e", "vfio-pci", .interface = "enp9s0",
                         .dry_run = true }),
        },
        {
                .name = "network-protection-idle-interface",
                DEVICES({ .address = "0000:09:00.0", .group = 55, .driver = "e1000e", .native = "e1000e",
                          .netif = "eth0", .net_up = true }),
                .policy = POLICY_NET,
                .event = EV_START,
                EXPECT({ DECISION_VIOLATION, "0000:09:00.0", 55, "e1000e", "vfio-pci", .rule_name = "nic",
                         .rule_line = 2, STEPS(SET("vfio-pci"), UNBIND("e1000e"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "network-protection-off",
                DEVICES({ .address = "0000:09:00.0", .group = 55, .driver = "e1000e", .native = "e1000e",
                          .netif = "eth0", .net_up = true, .net_address = true, .net_default_route = true }),
                .policy = POLICY_NET_OFF,
                .event = EV_START,
                EXPECT({ DECISION_VIOLATION, "0000:09:00.0", 55, "e1000e", "vfio-pci", .rule_name = "nic",
                         .rule_line = 2, STEPS(SET("vfio-pci"), UNBIND("e1000e"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "sriov-vfs-in-their-own-groups",
                DEVICES({ .address = "0000:0a:00.0", .group = 60, .vendor = INTEL, .device = INTEL_PF,
                          .driver = "ixgbe", .native = "ixgbe" },
                        { .address = "0000:0a:10.0", .group = 61, .vendor = INTEL, .device = INTEL_VF,
                          .driver = "ixgbevf", .native = "ixgbevf", .physfn = "0000:0a:00.0" },
                        { .address = "0000:0a:10.2", .group = 62, .vendor = INTEL, .device = INTEL_VF,
                          .native = "ixgbevf", .physfn = "0000:0a:00.0" }),
                .policy = POLICY_VF,
                .event = EV_START,
                EXPECT({ DECISION_VIOLATION, "0000:0a:10.0", 61, "ixgbevf", "vfio-pci", .rule_name = "vfs",
                         .rule_line = 2, STEPS(SET("vfio-pci"), UNBIND("ixgbevf"), PROBE) },
                       { DECISION_RESERVE, "0000:0a:10.2", 62, NULL, "vfio-pci", .rule_name = "vfs",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "hot-added-vf-probed",
                DEVICES({ .address = "0000:0a:00.0", .group = 60, .vendor = INTEL, .device = INTEL_PF,
                          .driver = "ixgbe", .native = "ixgbe" },
                        { .address = "0000:0a:10.4", .group = 63, .vendor = INTEL, .device = INTEL_VF,
                          .native = "ixgbevf", .physfn = "0000:0a:00.0" }),
                .policy = POLICY_VF,
                .event = EV(EVENT_ADD, "0000:0a:10.4", "", -1),
                EXPECT({ DECISION_RESERVE, "0000:0a:10.4", 63, NULL, "vfio-pci", .rule_name = "vfs",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "add-of-sibling-probes-only-the-added-device",
                DEVICES(GPU(NULL, NULL), GPU_AUDIO(NULL, NULL)),
                .policy = POLICY_GPU,
                .event = EV(EVENT_ADD, "0000:01:00.1", "", -1),
                EXPECT({ DECISION_RESERVE, "0000:01:00.0", 12, NULL, "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci")) },
                       { DECISION_RESERVE, "0000:01:00.1", 12, NULL, "vfio-pci", .rule_name = "gpu",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "change-on-reserved-device-with-override-nothing",
                DEVICES(GPU(NULL, "vfio-pci"), GPU_AUDIO("vfio-pci", "vfio-pci")),
                .policy = POLICY_GPU,
                .event = EV(EVENT_CHANGE, "0000:01:00.0", "", -1),
        },
        {
                .name = "unbind-of-reserved-device-not-fought",
                DEVICES(GPU(NULL, "vfio-pci"), GPU_AUDIO("vfio-pci", "vfio-pci")),
                .policy = POLICY_GPU,
                .event = EV(EVENT_UNBIND, "0000:01:00.0", "vfio-pci", -1),
        },
        {
                .name = "reserved-vfio-bound-override-differs-pinned",
                DEVICES(GPU("vfio-pci", NULL), GPU_AUDIO("vfio-pci", "vfio-pci")),
                .policy = POLICY_GPU,
                .event = EV(EVENT_BIND, "0000:01:00.0", "vfio-pci", -1),
                EXPECT({ DECISION_PIN, "0000:01:00.0", 12, "vfio-pci", "vfio-pci", .rule_line = 2,
                         STEPS(SET("vfio-pci")) }),
                .idempotent = true,
        },
        {
                .name = "reservation-with-variant-target-whole-group",
                DEVICES({ .address = "0000:0b:00.0", .group = 70 },
                        { .address = "0000:0b:00.1", .group = 70, .override = "vfio-pci", .native = "mlx5_core" },
                        { .address = "0000:0b:00.2", .group = 70, .driver = "mlx5_core", .native = "mlx5_core" }),
                .policy = POLICY_VARIANT,
                .event = EV_RELOAD,
                EXPECT({ DECISION_RESERVE, "0000:0b:00.0", 70, NULL, "mlx5_vfio_pci", .rule_name = "mlx",
                         .rule_line = 2, STEPS(SET("mlx5_vfio_pci"), PROBE) },
                       { DECISION_RESERVE, "0000:0b:00.1", 70, NULL, "mlx5_vfio_pci", .rule_name = "mlx",
                         .rule_line = 2, STEPS(SET("mlx5_vfio_pci"), PROBE) },
                       { DECISION_VIOLATION, "0000:0b:00.2", 70, "mlx5_core", "mlx5_vfio_pci", .rule_name = "mlx",
                         .rule_line = 2, STEPS(SET("mlx5_vfio_pci"), UNBIND("mlx5_core"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "each-matched-member-keeps-its-own-target",
                DEVICES({ .address = "0000:0d:00.0", .group = 71 },
                        { .address = "0000:0d:00.1", .group = 71 },
                        { .address = "0000:0d:00.2", .group = 71 }),
                .policy = POLICY_TWO_TARGETS,
                .event = EV_START,
                EXPECT({ DECISION_RESERVE, "0000:0d:00.0", 71, NULL, "vfio-pci", .rule_name = "plain",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) },
                       { DECISION_RESERVE, "0000:0d:00.1", 71, NULL, "mlx5_vfio_pci", .rule_name = "variant",
                         .rule_line = 5, STEPS(SET("mlx5_vfio_pci"), PROBE) },
                       { DECISION_RESERVE, "0000:0d:00.2", 71, NULL, "vfio-pci", .rule_name = "plain",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "denied-glob-wins-and-is-cited",
                DEVICES({ .address = "0000:0e:00.0", .group = 80, .driver = "vfio-pci", .override = "vfio-pci" },
                        { .address = "0000:0e:00.1", .group = 80, .driver = "snd_hda_intel",
                          .native = "snd_hda_intel" },
                        { .address = "0000:0e:00.2", .group = 80, .driver = "snd_usb_audio" }),
                HELD(80),
                .policy = POLICY_DENIED_SND,
                .event = EV(EVENT_BIND, "0000:0e:00.1", "snd_hda_intel", -1),
                EXPECT({ DECISION_VIOLATION, "0000:0e:00.1", 80, "snd_hda_intel", "vfio-pci", .rule_line = 3,
                         STEPS(SET("vfio-pci"), UNBIND("snd_hda_intel"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "admin-allowed-driver-in-reserved-group",
                DEVICES({ .address = "0000:0c:00.0", .group = 90, .driver = "nvme", .native = "nvme" },
                        { .address = "0000:0c:00.1", .group = 90, .native = "nvme" }),
                .policy = POLICY_ALLOW_NVME,
                .event = EV(EVENT_ADD, "0000:0c:00.1", "", -1),
                EXPECT({ DECISION_RESERVE, "0000:0c:00.1", 90, NULL, "vfio-pci", .rule_name = "storage",
                         .rule_line = 2, STEPS(SET("vfio-pci"), PROBE) }),
                .idempotent = true,
        },
        {
                .name = "reload-without-reservation-unpins",
                DEVICES({ .address = "0000:01:00.0", .group = 12, .vendor = NV, .device = NV_GPU,
                          .override = "vfio-pci", .pinned = true, .native = "nouveau" },
                        { .address = "0000:01:00.1", .group = 12, .vendor = NV, .device = NV_AUDIO,
                          .override = "vfio-pci", .pinned = true, .native = "snd_hda_intel" }),
                .event = EV_RELOAD,
                EXPECT({ DECISION_UNPIN, "0000:01:00.0", 12, NULL, NULL, STEPS(CLEAR, PROBE) },
                       { DECISION_UNPIN, "0000:01:00.1", 12, NULL, NULL, STEPS(CLEAR, PROBE) }),
                .idempotent = true,
        },
        {
                .name = "holders-of-host-group-nothing",
                DEVICES({ .address = "0000:0f:00.0", .group = 95, .driver = "igb" }),
                .event = EV(EVENT_HOLDERS, "", "", 95),
        },
};

/* The pinned flag of rows where the override was not written by dma-ownerd: only `pinned` devices carry it. */
static void test_device_to_model(const TestDevice *t, Device *ret, NetInterface *net) {
        *ret = (Device) {
                .id = {
                        .vendor = t->vendor,
                        .device = t->device,
                        .class = t->class,
                        .iommu_group = t->group,
                },
                .header_type = t->bridge ? 1 : 0,
                .is_bridge = t->bridge,
                .is_virtfn = !!t->physfn,
                .driver = (char *) t->driver,
                .driver_override = (char *) t->override,
                .pinned = t->pinned,
        };
        assert_true(pci_address_is_valid(t->address));
        strcpy(ret->id.address, t->address);
        if (t->physfn)
                strcpy(ret->physfn, t->physfn);
        if (t->netif) {
                *net = (NetInterface) {
                        .up = t->net_up,
                        .has_address = t->net_address,
                        .default_route = t->net_default_route,
                };
                strcpy(net->name, t->netif);
                ret->net = net;
                ret->n_net = 1;
        }
}

static Model *build_model(const TestDevice *devices, size_t n_devices, const TestRow *row) {
        _cleanup_model_ Model *m = NULL;

        assert_int_equal(model_new_empty(&m), 0);
        for (size_t i = 0; i < n_devices; i++) {
                NetInterface net;
                Device d;

                test_device_to_model(&devices[i], &d, &net);
                assert_int_equal(model_add_device(m, &d), 0);
        }
        for (size_t i = 0; i < row->n_held; i++) {
                _cleanup_free_ char *path = NULL;

                assert_true(asprintf(&path, "/dev/vfio/%" PRIi64, row->held[i]) > 0);
                assert_int_equal(model_add_holder(m, (unsigned) row->held[i], 4242, "qemu", "vm.service", path), 0);
        }
        assert_int_equal(model_index(m), 0);
        m->kernel_dma_ownership = row->dma_ownership;

        /* Whatever model_add_device() does with the flag, the engine must see the row's pins. */
        for (size_t i = 0; i < n_devices; i++)
                assert_int_equal(model_set_pinned(m, devices[i].address, devices[i].pinned), 0);

        return TAKE_PTR(m);
}

static Policy *build_policy(const char *yaml) {
        _cleanup_policy_ Policy *p = NULL;

        assert_int_equal(policy_new_default(&p), 0);
        if (yaml) {
                PolicyErrors errors = {};
                int r;

                r = policy_merge_buffer(p, POLICY_NAME, yaml, strlen(yaml), &errors);
                if (r < 0)
                        policy_errors_print(&errors, stderr);
                policy_errors_clear(&errors);
                assert_int_equal(r, 0);
        }
        return TAKE_PTR(p);
}

static const char *strempty(const char *s) {
        return s ?: "";
}

static void check_decision(const Decision *d, const TestDecision *e) {
        print_message("  %s %s\n", decision_kind_to_string(d->kind), d->address);

        assert_string_equal(decision_kind_to_string(d->kind), decision_kind_to_string(e->kind));
        assert_string_equal(d->address, e->address);
        assert_int_equal(d->group, e->group);
        assert_string_equal(d->driver, strempty(e->driver));
        assert_string_equal(d->target_driver, strempty(e->target));
        assert_string_equal(d->blocker, strempty(e->blocker));
        assert_string_equal(d->blocker_driver, strempty(e->blocker_driver));
        assert_string_equal(d->interface, strempty(e->interface));
        if (e->rule_name)
                assert_string_equal(strna(d->rule_name), e->rule_name);
        else
                assert_null(d->rule_name);
        assert_non_null(d->rule.file);
        if (e->rule_line > 0)
                assert_string_equal(d->rule.file, POLICY_NAME);
        else
                assert_string_equal(d->rule.file, POLICY_BUILTIN_FILE);
        assert_int_equal(d->rule.line, e->rule_line);
        assert_int_equal(d->dry_run, e->dry_run);

        assert_int_equal(d->n_steps, e->n_steps);
        for (size_t k = 0; k < e->n_steps; k++) {
                assert_string_equal(step_kind_to_string(d->steps[k].kind), step_kind_to_string(e->steps[k].kind));
                assert_string_equal(d->steps[k].driver, strempty(e->steps[k].driver));
        }
}

/* What the kernel does with the writes: a probe binds the override, or the native driver when there is none. */
static void apply_decisions(const DecisionList *l, TestDevice *devices, size_t n_devices) {
        for (size_t i = 0; i < l->n; i++) {
                const Decision *d = &l->items[i];
                TestDevice *t = NULL;

                assert_false(d->dry_run);
                for (size_t j = 0; j < n_devices; j++)
                        if (strcmp(devices[j].address, d->address) == 0)
                                t = &devices[j];
                assert_non_null(t);

                for (size_t k = 0; k < d->n_steps; k++) {
                        const Step *s = &d->steps[k];

                        switch (s->kind) {
                        case STEP_SET_OVERRIDE:
                                /* Step strings live in the DecisionList, which outlives the second round. */
                                t->override = s->driver;
                                t->pinned = true;
                                break;
                        case STEP_CLEAR_OVERRIDE:
                                t->override = NULL;
                                t->pinned = false;
                                break;
                        case STEP_UNBIND:
                                assert_string_equal(strempty(t->driver), s->driver);
                                t->driver = NULL;
                                break;
                        case STEP_PROBE:
                                assert_null(t->driver);
                                assert_false(t->bridge);
                                t->driver = t->override ?: t->native;
                                break;
                        default:
                                fail();
                        }
                }
        }
}

static void run_row(void **state) {
        const TestRow *row = *state;
        _cleanup_policy_ Policy *p = NULL;
        _cleanup_model_ Model *m = NULL;
        DecisionList list = {}, again = {};

        assert_true(row->n_devices <= MAX_DEVICES);
        p = build_policy(row->policy);
        m = build_model(row->devices, row->n_devices, row);

        assert_int_equal(engine_decide(m, p, &row->event, &list), 0);
        if (list.n != row->n_expect)
                for (size_t i = 0; i < list.n; i++)
                        print_message("  got %s %s\n", decision_kind_to_string(list.items[i].kind),
                                      list.items[i].address);
        assert_int_equal(list.n, row->n_expect);
        for (size_t i = 0; i < list.n; i++)
                check_decision(&list.items[i], &row->expect[i]);

        /* Appends, never clears. */
        assert_int_equal(engine_decide(m, p, &row->event, &list), 0);
        assert_int_equal(list.n, 2 * row->n_expect);
        decision_list_clear(&list);
        assert_int_equal(engine_decide(m, p, &row->event, &list), 0);
        assert_int_equal(list.n, row->n_expect);

        if (row->idempotent) {
                TestDevice after[MAX_DEVICES];
                _cleanup_model_ Model *m2 = NULL;

                assert_true(row->n_expect > 0);
                memcpy(after, row->devices, row->n_devices * sizeof(TestDevice));
                apply_decisions(&list, after, row->n_devices);
                m2 = build_model(after, row->n_devices, row);

                assert_int_equal(engine_decide(m2, p, &row->event, &again), 0);
                for (size_t i = 0; i < again.n; i++)
                        print_message("  left over: %s %s\n", decision_kind_to_string(again.items[i].kind),
                                      again.items[i].address);
                assert_int_equal(again.n, 0);
        }

        decision_list_done(&list);
        decision_list_done(&again);
        assert_null(list.items);
        assert_int_equal(list.n, 0);
        assert_int_equal(list.allocated, 0);
}

static void test_to_string(void **state) {
        static const char *const events[] = { "add", "remove", "bind", "unbind", "change", "start", "reload",
                                              "holders" };
        static const char *const decisions[] = { "reserve", "violation", "pin", "unpin", "not-viable",
                                                 "net-protected" };
        static const char *const steps[] = { "set-override", "clear-override", "unbind", "probe" };

        assert_int_equal(ELEMENTSOF(events), _EVENT_KIND_MAX);
        for (size_t i = 0; i < ELEMENTSOF(events); i++)
                assert_string_equal(event_kind_to_string((EventKind) i), events[i]);
        assert_null(event_kind_to_string(_EVENT_KIND_MAX));
        assert_null(event_kind_to_string((EventKind) -1));

        assert_int_equal(ELEMENTSOF(decisions), _DECISION_KIND_MAX);
        for (size_t i = 0; i < ELEMENTSOF(decisions); i++)
                assert_string_equal(decision_kind_to_string((DecisionKind) i), decisions[i]);
        assert_null(decision_kind_to_string(_DECISION_KIND_MAX));

        assert_int_equal(ELEMENTSOF(steps), _STEP_KIND_MAX);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                assert_string_equal(step_kind_to_string((StepKind) i), steps[i]);
        assert_null(step_kind_to_string(_STEP_KIND_MAX));
}

/* START over many groups grows the list well past its first allocation, and a group larger than the engine's
 * per-member cache is decided like a small one. */
static void test_many_groups_and_large_group(void **state) {
        _cleanup_policy_ Policy *p = NULL;
        _cleanup_model_ Model *m = NULL;
        DecisionList list = {};
        const Event start = EV_START;
        const size_t n_small = 300, n_large = 100;

        p = build_policy(POLICY_GPU);
        assert_int_equal(model_new_empty(&m), 0);

        /* Groups 1000..1299: one driverless GPU each, reserved. */
        for (size_t i = 0; i < n_small; i++) {
                Device d = {
                        .id = { .vendor = NV, .device = NV_GPU, .class = 0x030000, .iommu_group = 1000 + i },
                };
                assert_true(snprintf(d.id.address, sizeof d.id.address, "0001:%02zx:%02zx.0", i / 32, i % 32) ==
                            PCI_ADDRESS_STRLEN - 1);
                assert_int_equal(model_add_device(m, &d), 0);
        }
        /* Group 5: one vfio member followed by 99 driverless ones (beyond the cache), all to be pinned. */
        for (size_t i = 0; i < n_large; i++) {
                Device d = {
                        .id = { .iommu_group = 5 },
                        .driver = i == 0 ? (char *) "vfio-pci" : NULL,
                        .driver_override = i == 0 ? (char *) "vfio-pci" : NULL,
                };
                assert_true(snprintf(d.id.address, sizeof d.id.address, "0002:%02zx:%02zx.%zu", i / 64,
                                     (i / 8) % 8, i % 8) == PCI_ADDRESS_STRLEN - 1);
                assert_int_equal(model_add_device(m, &d), 0);
        }
        assert_int_equal(model_index(m), 0);

        assert_int_equal(engine_decide(m, p, &start, &list), 0);
        assert_int_equal(list.n, n_small + n_large - 1);
        assert_true(list.allocated >= list.n);

        /* Group 5 comes first (number order), its pins in address order. */
        for (size_t i = 0; i < n_large - 1; i++) {
                const Decision *d = &list.items[i];

                assert_int_equal(d->kind, DECISION_PIN);
                assert_int_equal(d->group, 5);
                assert_string_equal(d->target_driver, "vfio-pci");
                assert_int_equal(d->n_steps, 1);
                if (i > 0)
                        assert_true(strcmp(list.items[i - 1].address, d->address) < 0);
        }
        for (size_t i = n_large - 1; i < list.n; i++) {
                const Decision *d = &list.items[i];

                assert_int_equal(d->kind, DECISION_RESERVE);
                assert_int_equal(d->group, (int64_t) (1000 + i - (n_large - 1)));
                assert_string_equal(d->rule_name, "gpu");
                assert_int_equal(d->n_steps, 2);
        }

        decision_list_done(&list);
}

int main(void) {
        struct CMUnitTest tests[ELEMENTSOF(rows) + 2];

        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                tests[i] = (struct CMUnitTest) {
                        .name = rows[i].name,
                        .test_func = run_row,
                        .initial_state = (void *) &rows[i],
                };
        tests[ELEMENTSOF(rows)] = (struct CMUnitTest) cmocka_unit_test(test_to_string);
        tests[ELEMENTSOF(rows) + 1] = (struct CMUnitTest) cmocka_unit_test(test_many_groups_and_large_group);

        return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
