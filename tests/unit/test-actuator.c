/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The actuator against fake sysfs trees: exactly which bytes land in which file, in which order, and that every
 * refusal (stale identity, wrong driver, hostile names, injected kernel errors) writes nothing at all. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "actuator.h"
#include "dma-ownerd/macro.h"
#include "sysfs-tree.h"

#define ADDR "0000:00:03.0"
#define DEVDIR "devices/pci0000:00/" ADDR
#define WRITES_MAX 8
#define MIN(a, b) ((a) < (b) ? (a) : (b))

typedef struct WriteLog {
        char *relpath[WRITES_MAX];
        char *value[WRITES_MAX];
        size_t n;
        int inject; /* negative errno returned from the hook, 0 for none */
} WriteLog;

typedef struct Fixture {
        char *root;
        Actuator *actuator;
        WriteLog log;
        Device expected;
} Fixture;

static int write_hook(const char *relpath, const char *value, void *userdata) {
        WriteLog *log = userdata;

        assert_true(log->n < WRITES_MAX);
        log->relpath[log->n] = strdup(relpath);
        log->value[log->n] = strdup(value);
        assert_non_null(log->relpath[log->n]);
        assert_non_null(log->value[log->n]);
        log->n++;
        return log->inject;
}

static void write_log_clear(WriteLog *log) {
        for (size_t i = 0; i < log->n; i++) {
                free(log->relpath[i]);
                free(log->value[i]);
        }
        *log = (WriteLog) {};
}

static const TreeDevice e1000 = {
        .address = ADDR,
        .vendor = 0x8086,
        .device = 0x100e,
        .subsystem_vendor = 0x8086,
        .subsystem_device = 0x001e,
        .class = 0x020000,
        .group = 5,
        .driver = "e1000",
};

static int setup_with(void **state, const TreeDevice *td) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_int_equal(sysfs_tree_new(&f->root), 0);
        assert_int_equal(sysfs_tree_add_device(f->root, td), 0);
        assert_int_equal(actuator_new(f->root, &f->actuator), 0);
        actuator_set_write_hook(f->actuator, write_hook, &f->log);

        strcpy(f->expected.id.address, td->address);
        f->expected.id.vendor = td->vendor;
        f->expected.id.device = td->device;
        f->expected.id.iommu_group = td->group;

        *state = f;
        return 0;
}

static int setup_bound(void **state) {
        return setup_with(state, &e1000);
}

static int setup_unbound(void **state) {
        TreeDevice td = e1000;
        td.driver = NULL;
        return setup_with(state, &td);
}

static int teardown(void **state) {
        Fixture *f = *state;

        actuator_free(f->actuator);
        assert_int_equal(sysfs_tree_destroy(f->root), 0);
        free(f->root);
        write_log_clear(&f->log);
        free(f);
        return 0;
}

static Step step(StepKind kind, const char *driver) {
        Step s = { .kind = kind };
        if (driver) {
                assert_true(strlen(driver) < sizeof(s.driver));
                strcpy(s.driver, driver);
        }
        return s;
}

static void assert_file(const Fixture *f, const char *relpath, const char *expected) {
        _cleanup_free_ char *contents = sysfs_tree_read(f->root, relpath);

        assert_non_null(contents);
        assert_string_equal(contents, expected);
}

/* The files an actuator may write, as the tree created them: used to prove a refusal wrote nothing. */
static void assert_untouched(const Fixture *f) {
        assert_int_equal(f->log.n, 0);
        assert_file(f, DEVDIR "/driver_override", "(null)\n");
        assert_file(f, "bus/pci/drivers_probe", "");
        _cleanup_free_ char *unbind = sysfs_tree_read(f->root, "bus/pci/drivers/e1000/unbind");
        if (unbind)
                assert_string_equal(unbind, "");
}

static void test_violation_sequence(void **state) {
        Fixture *f = *state;
        Step steps[] = {
                step(STEP_SET_OVERRIDE, "vfio-pci"),
                step(STEP_UNBIND, "e1000"),
                step(STEP_PROBE, NULL),
        };

        assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[0]), 0);
        assert_file(f, DEVDIR "/driver_override", "vfio-pci");
        assert_file(f, "bus/pci/drivers/e1000/unbind", "");
        assert_file(f, "bus/pci/drivers_probe", "");

        assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[1]), 0);
        assert_file(f, "bus/pci/drivers/e1000/unbind", ADDR);
        assert_file(f, "bus/pci/drivers_probe", "");

        assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[2]), 0);
        assert_file(f, "bus/pci/drivers_probe", ADDR);

        /* Exactly three writes, in this order, with these paths and bytes. */
        assert_int_equal(f->log.n, 3);
        assert_string_equal(f->log.relpath[0], "bus/pci/devices/" ADDR "/driver_override");
        assert_string_equal(f->log.value[0], "vfio-pci");
        assert_string_equal(f->log.relpath[1], "bus/pci/devices/" ADDR "/driver/unbind");
        assert_string_equal(f->log.value[1], ADDR);
        assert_string_equal(f->log.relpath[2], "bus/pci/drivers_probe");
        assert_string_equal(f->log.value[2], ADDR);

        /* Nothing else was touched on the way. */
        assert_file(f, DEVDIR "/vendor", "0x8086\n");
        assert_file(f, DEVDIR "/device", "0x100e\n");
}

static void test_set_override_replaces_longer_value(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci");

        assert_int_equal(sysfs_tree_write(f->root, DEVDIR "/driver_override", "a-much-longer-driver-name\n"), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), 0);
        assert_file(f, DEVDIR "/driver_override", "vfio-pci");
}

static void test_clear_override(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_CLEAR_OVERRIDE, NULL);

        assert_int_equal(sysfs_tree_write(f->root, DEVDIR "/driver_override", "vfio-pci\n"), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), 0);
        assert_file(f, DEVDIR "/driver_override", "\n");
        assert_int_equal(f->log.n, 1);
        assert_string_equal(f->log.relpath[0], "bus/pci/devices/" ADDR "/driver_override");
        assert_string_equal(f->log.value[0], "\n");
}

static void test_unbind_already_unbound(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_UNBIND, "e1000");

        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), 0);
        assert_untouched(f);
}

static void test_unbind_other_driver(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_UNBIND, "e1000");

        assert_int_equal(sysfs_tree_set_driver(f->root, ADDR, "igb"), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), -ESTALE);
        assert_untouched(f);
        assert_file(f, "bus/pci/drivers/igb/unbind", "");
}

static void test_identity_mismatch(void **state) {
        Fixture *f = *state;
        const Step steps[] = {
                step(STEP_SET_OVERRIDE, "vfio-pci"),
                step(STEP_CLEAR_OVERRIDE, NULL),
                step(STEP_UNBIND, "e1000"),
                step(STEP_PROBE, NULL),
        };

        /* Another device now sits at the address: a different vendor… */
        assert_int_equal(sysfs_tree_write(f->root, DEVDIR "/vendor", "0x10ec\n"), 0);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[i]), -ESTALE);
        assert_untouched(f);

        /* …or the same vendor and a different device id. */
        assert_int_equal(sysfs_tree_write(f->root, DEVDIR "/vendor", "0x8086\n"), 0);
        assert_int_equal(sysfs_tree_write(f->root, DEVDIR "/device", "0x10d3\n"), 0);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[i]), -ESTALE);
        assert_untouched(f);

        /* The model's idea of the identity is what is compared, not the tree's. */
        f->expected.id.device = 0x10d3;
        assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[0]), 0);
        assert_file(f, DEVDIR "/driver_override", "vfio-pci");
}

static void test_unreadable_identity(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci");

        assert_int_equal(sysfs_tree_write(f->root, DEVDIR "/vendor", "garbage\n"), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), -EIO);
        assert_untouched(f);
}

static void test_device_removed(void **state) {
        Fixture *f = *state;
        const Step steps[] = {
                step(STEP_SET_OVERRIDE, "vfio-pci"),
                step(STEP_CLEAR_OVERRIDE, NULL),
                step(STEP_UNBIND, "e1000"),
                step(STEP_PROBE, NULL),
        };

        assert_int_equal(sysfs_tree_remove_device(f->root, ADDR), 0);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[i]), -ENODEV);
        assert_int_equal(f->log.n, 0);
        assert_file(f, "bus/pci/drivers_probe", "");
}

static void test_vendor_file_gone(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_PROBE, NULL);
        _cleanup_free_ char *path = NULL;

        /* The directory still opens but its attributes are going: the device is being torn down. */
        assert_true(asprintf(&path, "%s/" DEVDIR "/vendor", f->root) > 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), -ENODEV);
        assert_int_equal(f->log.n, 0);
}

static void test_injected_errors(void **state) {
        Fixture *f = *state;
        static const int errors[] = { -EBUSY, -EACCES, -EIO, -EINVAL, -ENODEV };
        const Step steps[] = {
                step(STEP_SET_OVERRIDE, "vfio-pci"),
                step(STEP_CLEAR_OVERRIDE, NULL),
                step(STEP_UNBIND, "e1000"),
                step(STEP_PROBE, NULL),
        };

        for (size_t e = 0; e < ELEMENTSOF(errors); e++)
                for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                        write_log_clear(&f->log);
                        f->log.inject = errors[e];
                        assert_int_equal(actuator_run(f->actuator, &f->expected, &steps[i]), errors[e]);
                        /* The hook saw the write it refused; the file never did. */
                        assert_int_equal(f->log.n, 1);
                }

        f->log.inject = 0;
        write_log_clear(&f->log);
        assert_untouched(f);
}

static void test_invalid_address(void **state) {
        Fixture *f = *state;
        static const char *const bad[] = {
                "",
                "0000:00:03.0/",
                "../../../..",
                "0000:00:03",
                "0000:00:03.8",
                "0000:00:20.0",
                "0000:00:03.00",
                "0000:0A:03.0",
                "0000:00:03.0\n",
        };
        Step s = step(STEP_PROBE, NULL);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Device d = f->expected;

                /* The long ones fill the whole buffer without a terminator, as a corrupted model would. */
                memset(d.id.address, 0, sizeof(d.id.address));
                memcpy(d.id.address, bad[i], MIN(strlen(bad[i]), sizeof(d.id.address)));
                assert_int_equal(actuator_run(f->actuator, &d, &s), -EINVAL);
        }
        assert_untouched(f);
}

static void test_invalid_driver(void **state) {
        Fixture *f = *state;
        static const char *const bad[] = { "", "../x", "..", ".", "x/y", "vfio pci", "vfio-pci\n", "\x01", "\x7f" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Step set = step(STEP_SET_OVERRIDE, bad[i]);
                Step unbind = step(STEP_UNBIND, bad[i]);

                assert_int_equal(actuator_run(f->actuator, &f->expected, &set), -EINVAL);
                assert_int_equal(actuator_run(f->actuator, &f->expected, &unbind), -EINVAL);
        }

        Step bad_kind = { .kind = _STEP_KIND_MAX };
        assert_int_equal(actuator_run(f->actuator, &f->expected, &bad_kind), -EINVAL);
        assert_untouched(f);

        /* The traversal never became a directory or file anywhere in the tree. */
        _cleanup_free_ char *escaped = sysfs_tree_read(f->root, "devices/pci0000:00/x");
        assert_null(escaped);
}

static void test_symlinked_attribute_refused(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci");
        _cleanup_free_ char *attr = NULL;

        /* Not something sysfs does; proves the final component is never followed. */
        assert_int_equal(sysfs_tree_write(f->root, "decoy", "untouched\n"), 0);
        assert_true(asprintf(&attr, "%s/" DEVDIR "/driver_override", f->root) > 0);
        assert_int_equal(unlink(attr), 0);
        assert_int_equal(symlink("../../../decoy", attr), 0);

        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), -ELOOP);
        assert_int_equal(f->log.n, 1); /* attempted (the hook runs before the open), refused by the open */
        assert_file(f, "decoy", "untouched\n");
}

static void test_missing_attribute_not_created(void **state) {
        Fixture *f = *state;
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci");
        _cleanup_free_ char *attr = NULL, *after = NULL;

        assert_true(asprintf(&attr, "%s/" DEVDIR "/driver_override", f->root) > 0);
        assert_int_equal(unlink(attr), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &s), -ENODEV);
        after = sysfs_tree_read(f->root, DEVDIR "/driver_override");
        assert_null(after);
}

static void test_without_hook(void **state) {
        Fixture *f = *state;
        Step set = step(STEP_SET_OVERRIDE, "vfio-pci"), unbind = step(STEP_UNBIND, "e1000"), probe = step(STEP_PROBE, NULL);

        actuator_set_write_hook(f->actuator, NULL, NULL);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &set), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &unbind), 0);
        assert_int_equal(actuator_run(f->actuator, &f->expected, &probe), 0);
        assert_file(f, DEVDIR "/driver_override", "vfio-pci");
        assert_file(f, "bus/pci/drivers/e1000/unbind", ADDR);
        assert_file(f, "bus/pci/drivers_probe", ADDR);
        assert_int_equal(f->log.n, 0);
}

/* ---- actuator_run_parallel ---- */

static Device device_like(const char *address) {
        Device d = {};

        strcpy(d.id.address, address);
        d.id.vendor = e1000.vendor;
        d.id.device = e1000.device;
        d.id.iommu_group = e1000.group;
        return d;
}

static void add_sibling(Fixture *f, const char *address) {
        TreeDevice td = e1000;

        td.address = address;
        assert_int_equal(sysfs_tree_add_device(f->root, &td), 0);
}

typedef struct FifoReader {
        char *paths[2]; /* opened in this order */
        char got[2][32];
} FifoReader;

static void *read_fifos(void *userdata) {
        FifoReader *r = userdata;

        for (size_t i = 0; i < 2; i++) {
                int fd = open(r->paths[i], O_RDONLY | O_CLOEXEC); /* blocks until a writer opens it */
                assert_true(fd >= 0);
                ssize_t n = read(fd, r->got[i], sizeof(r->got[i]) - 1);
                assert_true(n > 0);
                r->got[i][n] = '\0';
                assert_int_equal(close(fd), 0);
        }
        return NULL;
}

/* Proof that the steps run at once, without timing: each device's driver_override is a FIFO, whose open for
 * writing blocks until a reader opens it, and the reader opens the SECOND device's first. Run one after the other,
 * the first write would wait forever for a reader that waits for the second (the alarm ends the test as failed). */
static void test_parallel_runs_at_once(void **state) {
        Fixture *f = *state;
        const char *second = "0000:00:04.0";
        Device devices[2] = { device_like(ADDR), device_like(second) };
        Step set = step(STEP_SET_OVERRIDE, "vfio-pci");
        const Device *expected[2] = { &devices[0], &devices[1] };
        const Step *steps[2] = { &set, &set };
        int results[2] = { 1, 1 };
        FifoReader reader = {};
        pthread_t thread;

        add_sibling(f, second);
        actuator_set_write_hook(f->actuator, NULL, NULL); /* a hook would make the writes take turns */
        assert_true(asprintf(&reader.paths[1], "%s/" DEVDIR "/driver_override", f->root) > 0);
        assert_true(asprintf(&reader.paths[0], "%s/devices/pci0000:00/%s/driver_override", f->root, second) > 0);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(unlink(reader.paths[i]), 0);
                assert_int_equal(mkfifo(reader.paths[i], 0600), 0);
        }

        assert_int_equal(pthread_create(&thread, NULL, read_fifos, &reader), 0);
        alarm(30);
        assert_int_equal(actuator_run_parallel(f->actuator, expected, steps, 2, results), 0);
        alarm(0);
        assert_int_equal(pthread_join(thread, NULL), 0);

        assert_int_equal(results[0], 0);
        assert_int_equal(results[1], 0);
        assert_string_equal(reader.got[0], "vfio-pci");
        assert_string_equal(reader.got[1], "vfio-pci");
        free(reader.paths[0]);
        free(reader.paths[1]);
}

/* More steps than threads; one device gone and one write refused: each result is its own step's. */
static int inject_for_one(const char *relpath, const char *value, void *userdata) {
        WriteLog *log = userdata;
        int r = write_hook(relpath, value, userdata);

        (void) r;
        return strstr(relpath, "0000:00:07.0") ? -EBUSY : log->inject;
}

static void test_parallel_results(void **state) {
        Fixture *f = *state;
        enum { N = ACTUATOR_PARALLEL_MAX + 1 };
        Device devices[N];
        const Device *expected[N];
        const Step *steps[N];
        int results[N];
        Step set = step(STEP_SET_OVERRIDE, "vfio-pci");
        char address[N][PCI_ADDRESS_STRLEN];

        assert_true(N <= WRITES_MAX + 1);
        for (size_t i = 0; i < N; i++) {
                snprintf(address[i], sizeof(address[i]), "0000:00:%02zx.0", i + 3);
                if (i > 0 && i != 5) /* 0000:00:08.0 is never created: gone */
                        add_sibling(f, address[i]);
                devices[i] = device_like(address[i]);
                expected[i] = &devices[i];
                steps[i] = &set;
                results[i] = 1;
        }
        actuator_set_write_hook(f->actuator, inject_for_one, &f->log);

        assert_int_equal(actuator_run_parallel(f->actuator, expected, steps, N, results), 0);
        for (size_t i = 0; i < N; i++) {
                _cleanup_free_ char *path = NULL, *value = NULL;

                if (i == 5) {
                        assert_int_equal(results[i], -ENODEV);
                        continue;
                }
                assert_true(asprintf(&path, "devices/pci0000:00/%s/driver_override", address[i]) > 0);
                value = sysfs_tree_read(f->root, path);
                assert_non_null(value);
                if (i == 4) { /* 0000:00:07.0: refused by the hook, the file untouched */
                        assert_int_equal(results[i], -EBUSY);
                        assert_string_equal(value, "(null)\n");
                } else {
                        assert_int_equal(results[i], 0);
                        assert_string_equal(value, "vfio-pci");
                }
        }
        assert_int_equal(f->log.n, N - 1); /* every device that exists reached the hook, one at a time */

        assert_int_equal(actuator_run_parallel(f->actuator, expected, steps, 0, NULL), 0);
        assert_int_equal(actuator_run_parallel(NULL, expected, steps, 1, results), -EINVAL);
        assert_int_equal(actuator_run_parallel(f->actuator, NULL, steps, 1, results), -EINVAL);
}

static void test_kernel_time_accumulates(void **state) {
        Fixture *f = *state;
        Step set = step(STEP_SET_OVERRIDE, "vfio-pci");
        uint64_t before = actuator_kernel_usec(f->actuator);

        assert_int_equal(actuator_run(f->actuator, &f->expected, &set), 0);
        assert_true(actuator_kernel_usec(f->actuator) >= before);
        assert_int_equal(actuator_kernel_usec(NULL), 0);
}

static void test_new_errors(void **state) {
        Actuator *a = NULL;

        assert_int_equal(actuator_new("/nonexistent-dma-ownerd-root", &a), -ENOENT);
        assert_null(a);
        assert_int_equal(actuator_new("/dev/null", &a), -ENOTDIR);
        assert_null(a);
        assert_int_equal(actuator_new(NULL, &a), -EINVAL);
        assert_null(actuator_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_violation_sequence, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_set_override_replaces_longer_value, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_clear_override, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_already_unbound, setup_unbound, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_other_driver, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_identity_mismatch, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_identity, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_device_removed, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_vendor_file_gone, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_injected_errors, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_address, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_driver, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_attribute_refused, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_missing_attribute_not_created, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_without_hook, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_parallel_runs_at_once, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_parallel_results, setup_bound, teardown),
                cmocka_unit_test_setup_teardown(test_kernel_time_accumulates, setup_bound, teardown),
                cmocka_unit_test(test_new_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
