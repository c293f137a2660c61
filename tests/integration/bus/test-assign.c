/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Managed assign/release (daemon/assign.c) on a sysfs tree, with the kernel's side of bind/unbind emulated through
 * the actuator's write hook: an unbind drops the driver link, a probe binds driver_override's driver (or the
 * device's "native" host driver when no override is set). Every write is logged so the exact sequence is checked. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "assign.h"
#include "audit.h"
#include "dma-ownerd/macro.h"
#include "manager.h"
#include "sysfs-tree.h"

#define BRIDGE "0000:00:1c.0"
#define NIC "0000:01:00.0"
#define AUDIO "0000:01:00.1"
#define LONE "0000:02:00.0"

typedef struct Fake {
        char *root;
        char *policy_dir;
        char *netdev_file;
        char log[64][128];
        size_t n_log;
        const char *fail_suffix;  /* fail every write whose path ends so, or… */
        const char *fail_relpath; /* fail this write… */
        const char *fail_value;   /* …with this value (NULL: any) */
        int fail_errno;
        bool kernel_ignores_unbind; /* the unbind "succeeds" but the driver stays */
        bool vfio_not_loaded;       /* a probe finds no vfio-pci to bind */
        Manager *manager;
} Fake;

static const char *native_driver(const char *address) {
        if (streq_ptr(address, NIC))
                return "e1000e";
        if (streq_ptr(address, AUDIO))
                return "snd_hda_intel";
        if (streq_ptr(address, BRIDGE))
                return "pcieport";
        return NULL;
}

static int fake_kernel(const char *relpath, const char *value, void *userdata) {
        Fake *f = userdata;

        if (f->n_log < ELEMENTSOF(f->log))
                snprintf(f->log[f->n_log++], sizeof(f->log[0]), "%s=%s", relpath,
                         streq_ptr(value, "\n") ? "\\n" : value);

        if (f->fail_relpath && streq_ptr(relpath, f->fail_relpath) &&
            (!f->fail_value || streq_ptr(value, f->fail_value)))
                return f->fail_errno;

        size_t n = strlen(relpath);
        if (f->fail_suffix && n >= strlen(f->fail_suffix) &&
            streq_ptr(relpath + n - strlen(f->fail_suffix), f->fail_suffix))
                return f->fail_errno;
        if (n > strlen("/driver/unbind") && streq_ptr(relpath + n - strlen("/driver/unbind"), "/driver/unbind")) {
                if (!f->kernel_ignores_unbind)
                        assert_int_equal(sysfs_tree_set_driver(f->root, value, NULL), 0);
        } else if (streq_ptr(relpath, "bus/pci/drivers_probe")) {
                _cleanup_free_ char *p = NULL, *override = NULL, *link = NULL;
                const char *driver;

                /* The kernel probes only devices without a driver. */
                assert_true(asprintf(&link, "%s/bus/pci/devices/%s/driver", f->root, value) > 0);
                if (access(link, F_OK) == 0)
                        return 0;
                assert_true(asprintf(&p, "bus/pci/devices/%s/driver_override", value) > 0);
                override = sysfs_tree_read(f->root, p);
                if (override)
                        override[strcspn(override, "\n")] = '\0';
                if (override && *override && !streq_ptr(override, "(null)"))
                        driver = override;
                else
                        driver = native_driver(value);
                /* Like vfio-pci, which refuses bridges. */
                if (driver && streq_ptr(driver, "vfio-pci") && (f->vfio_not_loaded || streq_ptr(value, BRIDGE)))
                        driver = NULL;
                if (driver)
                        assert_int_equal(sysfs_tree_set_driver(f->root, value, driver), 0);
        }
        return 0;
}

static const char *tree_override(Fake *f, const char *address) {
        static char buf[128];
        _cleanup_free_ char *p = NULL, *v = NULL;

        assert_true(asprintf(&p, "bus/pci/devices/%s/driver_override", address) > 0);
        v = sysfs_tree_read(f->root, p);
        assert_non_null(v);
        snprintf(buf, sizeof(buf), "%s", v);
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

static const char *model_driver(Fake *f, const char *address) {
        const Device *d = model_find_device(f->manager->model, address);
        assert_non_null(d);
        return d->driver ?: "";
}

static void write_file(const char *path, const char *content) {
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(content, fp);
        assert_int_equal(fclose(fp), 0);
}

static int setup(void **state) {
        Fake *f = calloc(1, sizeof(Fake));
        Policy *p = NULL;
        PolicyErrors errors = {};

        assert_non_null(f);
        assert_int_equal(sysfs_tree_new(&f->root), 0);

        TreeDevice devices[] = {
                { .address = BRIDGE, .vendor = 0x8086, .device = 0xa110, .class = 0x060400, .header_type = 0x81,
                  .group = 1, .driver = "pcieport" },
                { .address = NIC, .vendor = 0x8086, .device = 0x10d3, .class = 0x020000, .header_type = 0x80,
                  .group = 1, .driver = "e1000e", .net = { "eth0" } },
                { .address = AUDIO, .vendor = 0x8086, .device = 0x293e, .class = 0x040300, .header_type = 0x80,
                  .group = 1, .driver = "snd_hda_intel" },
                { .address = LONE, .vendor = 0x1b36, .device = 0x0010, .class = 0x010802, .group = 2 },
        };
        for (size_t i = 0; i < ELEMENTSOF(devices); i++)
                assert_int_equal(sysfs_tree_add_device(f->root, &devices[i]), 0);
        /* vfio-pci is loaded: its driver directory exists. */
        assert_int_equal(sysfs_tree_set_driver(f->root, LONE, "vfio-pci"), 0);
        assert_int_equal(sysfs_tree_set_driver(f->root, LONE, NULL), 0);

        assert_true(asprintf(&f->policy_dir, "%s/policy.d", f->root) > 0);
        assert_int_equal(mkdir(f->policy_dir, 0755), 0);
        assert_true(asprintf(&f->netdev_file, "%s/netdev", f->root) > 0);
        write_file(f->netdev_file, "eth0 up address\n");

        ManagerConfig config = {
                .sysfs_root = f->root,
                .proc_root = f->root, /* no process holds anything */
                .kernel_release = "6.1.0",
                .netdev_fake = f->netdev_file,
                .policy_paths = { .admin_dir = f->policy_dir },
        };
        assert_int_equal(policy_load(&config.policy_paths, &p, &errors), 0);
        assert_int_equal(manager_new(&config, p, &f->manager), 0);
        actuator_set_write_hook(f->manager->actuator, fake_kernel, f);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fake *f = *state;

        manager_free(f->manager);
        assert_int_equal(sysfs_tree_destroy(f->root), 0);
        free(f->root);
        free(f->policy_dir);
        free(f->netdev_file);
        free(f);
        return 0;
}

static void assert_log(Fake *f, const char *const *expected, size_t n) {
        for (size_t i = 0; i < n && i < f->n_log; i++)
                assert_string_equal(f->log[i], expected[i]);
        assert_int_equal(f->n_log, n);
}

/* Separates the rounds in an expected log: the writes of one round (unbinds, probes) run at once and may come in
 * any order, so a round is compared as a set; the rounds themselves, and the overrides, come in order. */
#define ROUND NULL

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void assert_log_rounds(Fake *f, const char *const *expected, size_t n) {
        size_t logged = 0, begin = 0;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && expected[i])
                        continue;
                size_t k = i - begin;
                const char *want[16], *got[16];

                assert_true(k <= ELEMENTSOF(want));
                assert_true(logged + k <= f->n_log);
                for (size_t j = 0; j < k; j++) {
                        want[j] = expected[begin + j];
                        got[j] = f->log[logged + j];
                }
                qsort(want, k, sizeof(want[0]), compare_strings);
                qsort(got, k, sizeof(got[0]), compare_strings);
                for (size_t j = 0; j < k; j++)
                        assert_string_equal(got[j], want[j]);
                logged += k;
                begin = i + 1;
        }
        assert_int_equal(f->n_log, logged);
}

static void test_resolve_target(void **state) {
        Fake *f = *state;
        unsigned g = 99;

        assert_int_equal(manager_resolve_target(f->manager, NIC, &g), 0);
        assert_int_equal(g, 1);
        assert_int_equal(manager_resolve_target(f->manager, "2", &g), 0);
        assert_int_equal(g, 2);
        assert_int_equal(manager_resolve_target(f->manager, "0000:09:00.0", &g), -ENXIO);
        assert_int_equal(manager_resolve_target(f->manager, "7", &g), -ENOENT);
        const char *bad[] = { "", "../../etc", "0000:01:00.0/../x", "0000:01:00.8", "0000:01:00.0 ", "+1", "-1",
                              "0x1", "1 ", "2147483648", "99999999999", "0000:01:0.0", "0000:01:00.A" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(manager_resolve_target(f->manager, bad[i], &g), -EINVAL);
        assert_int_equal(g, 2); /* untouched on failure */
}

static void test_check_assign_reports_network(void **state) {
        Fake *f = *state;
        _cleanup_strv_free_ char **reasons = NULL;
        bool viable = true;

        assert_int_equal(manager_check_assign(f->manager, 1, &viable, &reasons), 0);
        assert_false(viable);
        assert_non_null(reasons);
        bool named = false;
        for (char **r = reasons; *r; r++)
                named = named || (strstr(*r, NIC) && strstr(*r, "eth0 is in use"));
        assert_true(named);
        assert_int_equal(f->n_log, 0);
}

static void test_assign_refused_in_use_then_forced(void **state) {
        Fake *f = *state;
        AssignReport rep = {};

        assert_int_equal(manager_assign_group(f->manager, 1, 0, &rep), -EADDRINUSE);
        assert_string_equal(rep.failed_device, NIC);
        assert_string_equal(rep.interface, "eth0");
        assert_int_equal(f->n_log, 0); /* refused before any write */
        assign_report_done(&rep);

        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), 0);
        assign_report_done(&rep);

        /* Every override first (no host driver can take a member freed later), then the unbinds, then the probes. */
        const char *expected[] = {
                "bus/pci/devices/" NIC "/driver_override=vfio-pci",
                ROUND,
                "bus/pci/devices/" AUDIO "/driver_override=vfio-pci",
                ROUND,
                "bus/pci/devices/" NIC "/driver/unbind=" NIC,
                "bus/pci/devices/" AUDIO "/driver/unbind=" AUDIO,
                ROUND,
                "bus/pci/drivers_probe=" NIC,
                "bus/pci/drivers_probe=" AUDIO,
        };
        assert_log_rounds(f, expected, ELEMENTSOF(expected));
        assert_string_equal(model_driver(f, BRIDGE), "pcieport"); /* allowed: left alone */
        assert_string_equal(model_driver(f, NIC), "vfio-pci");
        assert_string_equal(model_driver(f, AUDIO), "vfio-pci");

        /* Kept reserved by a synthetic reservation the engine sees. */
        const Reservation *res = policy_match_reservation(f->manager->policy,
                                                          &model_find_device(f->manager->model, AUDIO)->id);
        assert_non_null(res);
        assert_string_equal(res->name, "runtime-group-1");
        assert_string_equal(res->mark.file, RUNTIME_SOURCE_FILE);
        assert_int_equal(f->manager->n_runtime_groups, 1);

        /* Assigning again changes nothing. */
        f->n_log = 0;
        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), 0);
        assign_report_done(&rep);
        assert_int_equal(f->n_log, 0);

        /* Release: clear, unbind from vfio, probe: the host drivers return. */
        assert_int_equal(manager_release_group(f->manager, 1, 0, &rep), 0);
        assign_report_done(&rep);
        const char *released[] = {
                "bus/pci/devices/" NIC "/driver_override=\\n",
                ROUND,
                "bus/pci/devices/" AUDIO "/driver_override=\\n",
                ROUND,
                "bus/pci/devices/" NIC "/driver/unbind=" NIC,
                "bus/pci/devices/" AUDIO "/driver/unbind=" AUDIO,
                ROUND,
                "bus/pci/drivers_probe=" NIC,
                "bus/pci/drivers_probe=" AUDIO,
        };
        assert_log_rounds(f, released, ELEMENTSOF(released));
        assert_string_equal(model_driver(f, NIC), "e1000e");
        assert_string_equal(model_driver(f, AUDIO), "snd_hda_intel");
        assert_null(policy_match_reservation(f->manager->policy, &model_find_device(f->manager->model, AUDIO)->id));
        assert_int_equal(f->manager->n_runtime_groups, 0);
}

static void test_assign_rolls_back_on_failure(void **state) {
        Fake *f = *state;
        AssignReport rep = {};

        /* The second member's unbind fails: no probe round starts; the first is moved back (it was unbound in the
         * same round), the second's override cleared. */
        f->fail_relpath = "bus/pci/devices/" AUDIO "/driver/unbind";
        f->fail_errno = -EIO;
        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), -EIO);
        assert_string_equal(rep.failed_device, AUDIO);
        assert_non_null(rep.message);
        assert_non_null(strstr(rep.message, "Input/output error"));
        assign_report_done(&rep);

        const char *expected[] = {
                "bus/pci/devices/" NIC "/driver_override=vfio-pci",
                ROUND,
                "bus/pci/devices/" AUDIO "/driver_override=vfio-pci",
                ROUND,
                "bus/pci/devices/" NIC "/driver/unbind=" NIC,
                "bus/pci/devices/" AUDIO "/driver/unbind=" AUDIO, /* fails */
                ROUND,
                /* rollback, last member first: AUDIO kept its driver, NIC gets e1000e back through a probe */
                "bus/pci/devices/" AUDIO "/driver_override=\\n",
                ROUND,
                "bus/pci/devices/" NIC "/driver_override=\\n",
                ROUND,
                "bus/pci/drivers_probe=" NIC,
        };
        assert_log_rounds(f, expected, ELEMENTSOF(expected));
        assert_string_equal(model_driver(f, NIC), "e1000e");
        assert_string_equal(model_driver(f, AUDIO), "snd_hda_intel");
        assert_string_equal(tree_override(f, NIC), "");
        assert_string_equal(tree_override(f, AUDIO), "");
        assert_int_equal(f->manager->n_runtime_groups, 0);
        assert_null(policy_match_reservation(f->manager->policy, &model_find_device(f->manager->model, NIC)->id));
}

typedef struct Heard {
        Fake *fake;
        char address[8][PCI_ADDRESS_STRLEN];
        size_t writes_then[8];
        size_t n;
} Heard;

static void heard_device(const char *address, void *userdata) {
        Heard *h = userdata;

        assert_true(h->n < ELEMENTSOF(h->address));
        snprintf(h->address[h->n], sizeof(h->address[0]), "%s", address);
        h->writes_then[h->n++] = h->fake->n_log;
}

/* The bus hears about the members once, after the last write: a signal sent in the middle would wake dbus-daemon
 * and its listeners while the kernel is half-way through the move. */
static void test_assign_notifies_after_the_writes(void **state) {
        Fake *f = *state;
        AssignReport rep = {};
        Heard heard = { .fake = f };

        f->manager->hooks.device_changed = heard_device;
        f->manager->hooks.userdata = &heard;
        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), 0);
        assign_report_done(&rep);
        assert_int_equal(f->n_log, 6);
        assert_int_equal(heard.n, 2); /* NIC and AUDIO, re-read several times each, told once */
        assert_string_equal(heard.address[0], NIC);
        assert_string_equal(heard.address[1], AUDIO);
        for (size_t i = 0; i < heard.n; i++)
                assert_int_equal(heard.writes_then[i], 6);

        /* Nested holds release on the outermost. */
        heard.n = 0;
        manager_hold_notifications(f->manager);
        assert_int_equal(manager_release_group(f->manager, 1, 0, &rep), 0);
        assign_report_done(&rep);
        assert_int_equal(heard.n, 0);
        manager_release_notifications(f->manager);
        assert_int_equal(heard.n, 2);
        manager_release_notifications(f->manager); /* unbalanced: ignored */
        f->manager->hooks = (ManagerHooks) {};
}

static void test_assign_reports_every_failure_of_a_round(void **state) {
        Fake *f = *state;
        AssignReport rep = {};
        bool nic_line = false, audio_line = false;

        /* Both unbinds of the round fail: the first member's error is the call's, both are in the report, and both
         * members are rolled back. */
        f->fail_suffix = "/driver/unbind";
        f->fail_errno = -EBUSY;
        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), -EBUSY);
        assert_string_equal(rep.failed_device, NIC);
        assert_non_null(strstr(rep.message, NIC ": unbind failed: Device or resource busy"));
        for (char **l = rep.lines; l && *l; l++) {
                nic_line = nic_line || strstr(*l, NIC ": unbind failed");
                audio_line = audio_line || strstr(*l, AUDIO ": unbind failed");
        }
        assert_true(nic_line);
        assert_true(audio_line);
        assign_report_done(&rep);

        const char *expected[] = {
                "bus/pci/devices/" NIC "/driver_override=vfio-pci",
                ROUND,
                "bus/pci/devices/" AUDIO "/driver_override=vfio-pci",
                ROUND,
                "bus/pci/devices/" NIC "/driver/unbind=" NIC,
                "bus/pci/devices/" AUDIO "/driver/unbind=" AUDIO,
                ROUND,
                "bus/pci/devices/" AUDIO "/driver_override=\\n",
                ROUND,
                "bus/pci/devices/" NIC "/driver_override=\\n",
        };
        assert_log_rounds(f, expected, ELEMENTSOF(expected));
        assert_string_equal(model_driver(f, NIC), "e1000e");
        assert_string_equal(model_driver(f, AUDIO), "snd_hda_intel");
        assert_string_equal(tree_override(f, NIC), "");
        assert_string_equal(tree_override(f, AUDIO), "");
        assert_int_equal(f->manager->n_runtime_groups, 0);
}

static void test_assign_fails_when_driver_stays(void **state) {
        Fake *f = *state;
        AssignReport rep = {};

        /* The kernel accepts the unbind but the driver stays (a driver that refuses to let go). */
        f->kernel_ignores_unbind = true;
        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), -EBUSY);
        assert_string_equal(rep.failed_device, NIC);
        assert_non_null(strstr(rep.message, "still bound to e1000e"));
        assign_report_done(&rep);
        assert_string_equal(model_driver(f, NIC), "e1000e");
        assert_string_equal(tree_override(f, NIC), "");
        assert_string_equal(tree_override(f, AUDIO), ""); /* set in the override round, cleared by the rollback */
}

static void test_assign_driverless_pending(void **state) {
        Fake *f = *state;
        AssignReport rep = {};

        /* vfio-pci does not take the device: it is held driverless with the override in place, "pending". */
        f->vfio_not_loaded = true;
        assert_int_equal(manager_assign_group(f->manager, 2, 0, &rep), 0);
        assert_string_equal(tree_override(f, LONE), "vfio-pci");
        assert_string_equal(model_driver(f, LONE), "");
        bool pending = false;
        for (char **l = rep.lines; l && *l; l++)
                pending = pending || (strstr(*l, LONE) && strstr(*l, "(pending)"));
        assert_true(pending);
        assign_report_done(&rep);
        const char *expected[] = {
                "bus/pci/devices/" LONE "/driver_override=vfio-pci",
                "bus/pci/drivers_probe=" LONE,
        };
        assert_log(f, expected, ELEMENTSOF(expected));
}

static void test_audit_mode_writes_nothing(void **state) {
        Fake *f = *state;
        AssignReport rep = {};

        assert_int_equal(manager_set_mode_override(f->manager, POLICY_MODE_AUDIT), 0);
        assert_int_equal(f->manager->policy->mode, POLICY_MODE_AUDIT);
        f->n_log = 0;
        assert_int_equal(manager_assign_group(f->manager, 1, ASSIGN_FORCE, &rep), 0);
        assert_int_equal(f->n_log, 0);
        assert_non_null(rep.lines);
        bool would = false;
        for (char **l = rep.lines; *l; l++)
                would = would || (strstr(*l, NIC) && strstr(*l, "would set driver_override=vfio-pci"));
        assert_true(would);
        assign_report_done(&rep);
        assert_int_equal(f->manager->n_runtime_groups, 0);
        assert_string_equal(model_driver(f, NIC), "e1000e");
}

static void test_persist_writes_policy_and_survives_reload(void **state) {
        Fake *f = *state;
        AssignReport rep = {};
        _cleanup_free_ char *path = NULL;

        assert_int_equal(manager_assign_group(f->manager, 2, ASSIGN_PERSIST, &rep), 0);
        assign_report_done(&rep);
        assert_int_equal(manager_persist_path(f->manager, 2, &path), 0);
        assert_int_equal(access(path, F_OK), 0);

        /* The reloaded policy holds the persisted reservation and, merged again, the runtime one. */
        bool persisted = false, runtime = false;
        for (size_t i = 0; i < f->manager->policy->n_reservations; i++) {
                const Reservation *r = &f->manager->policy->reservations[i];
                persisted = persisted || (streq_ptr(r->name, "dma-ownerctl-group-2") && r->match.iommu_group == 2);
                runtime = runtime || streq_ptr(r->name, "runtime-group-2");
        }
        assert_true(persisted);
        assert_true(runtime);

        /* Release without persist: the admin's file still reserves the group. */
        assert_int_equal(manager_release_group(f->manager, 2, 0, &rep), -EPERM);
        assign_report_done(&rep);
        assert_int_equal(manager_release_group(f->manager, 2, ASSIGN_PERSIST, &rep), 0);
        assign_report_done(&rep);
        assert_int_equal(access(path, F_OK), -1);
        assert_string_equal(tree_override(f, LONE), "");
        assert_int_equal(f->manager->policy->n_reservations, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_resolve_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_assign_reports_network, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_refused_in_use_then_forced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_rolls_back_on_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_notifies_after_the_writes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_reports_every_failure_of_a_round, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_fails_when_driver_stays, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_driverless_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audit_mode_writes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_persist_writes_policy_and_survives_reload, setup, teardown),
        };

        audit_init(AUDIT_TARGET_STDERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
