/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
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

#include "dma-ownerd/macro.h"
#include "holders.h"
#include "sysfs-tree.h"

static int setup(void **state) {
        char *root = NULL;
        /* A sysfs tree is only used for its temporary folder and its rm -rf. */
        assert_int_equal(sysfs_tree_new(&root), 0);
        *state = root;
        return 0;
}

static int teardown(void **state) {
        char *root = *state;
        assert_int_equal(sysfs_tree_destroy(root), 0);
        free(root);
        return 0;
}

static const HolderRecord *find(const HolderRecord *r, size_t n, pid_t pid, const char *dev_path) {
        const HolderRecord *found = NULL;
        for (size_t i = 0; i < n; i++)
                if (r[i].pid == pid && strcmp(r[i].dev_path, dev_path) == 0) {
                        assert_null(found); /* one record per (pid, file) */
                        found = &r[i];
                }
        return found;
}

static void mkdir_in(const char *root, const char *rel) {
        _cleanup_free_ char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
        assert_int_equal(mkdir(p, 0755), 0);
}

static void write_in(const char *root, const char *rel, const char *contents) {
        assert_int_equal(sysfs_tree_write(root, rel, contents), 0);
}

static void test_fake_proc(void **state) {
        const char *root = *state;
        HolderRecord *r = NULL;
        size_t n = 0;

        /* A VMM: the container, one group twice, a cdev, and unrelated files. */
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 3, "/dev/vfio/vfio"), 0);
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 4, "/dev/vfio/12"), 0);
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 5, "/dev/vfio/12"), 0);
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 6, "/dev/vfio/devices/vfio0"), 0);
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 7, "/dev/null"), 0);
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 8, "socket:[12345]"), 0);
        assert_int_equal(proc_tree_add_fd(root, 100, "qemu-system-x86", 9, "/dev/iommu"), 0);

        /* Look-alikes that are not group files or cdevs; a comm with control characters. */
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 3, "/dev/vfio/012"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 4, "/dev/vfio/12abc"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 5, "/dev/vfio/devices/vfioX"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 6, "/dev/vfio/"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 7, "/dev/vfio/-1"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 8, "/dev/vfio/99999999999"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 9, "/dev/vfio/7"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 10, "/dev/vfio/noiommu-4"), 0);
        assert_int_equal(proc_tree_add_fd(root, 200, "bad\x01name\x7f", 11, "/dev/vfio/devices/vfio17"), 0);

        /* A second process on the same group counts separately. */
        assert_int_equal(proc_tree_add_fd(root, 300, "dpdk", 3, "/dev/vfio/12"), 0);

        /* Gone between listing and reading: no comm file. */
        assert_int_equal(proc_tree_add_fd(root, 400, NULL, 3, "/dev/vfio/13"), 0);

        /* Unreadable: fd is not a directory (as with EACCES, the process is skipped). */
        mkdir_in(root, "500");
        write_in(root, "500/comm", "x\n");
        write_in(root, "500/fd", "");

        /* Not processes. */
        mkdir_in(root, "self");
        mkdir_in(root, "0");
        mkdir_in(root, "007");
        mkdir_in(root, "acpi");
        write_in(root, "600", "a file where a pid directory would be");

        assert_int_equal(holders_scan(root, &r, &n), 0);
        assert_int_equal(n, 6);

        const HolderRecord *g12 = find(r, n, 100, "/dev/vfio/12");
        assert_non_null(g12);
        assert_int_equal(g12->group, 12);
        assert_null(g12->cdev);
        assert_string_equal(g12->comm, "qemu-system-x86");
        assert_null(g12->unit);

        const HolderRecord *cdev = find(r, n, 100, "/dev/vfio/devices/vfio0");
        assert_non_null(cdev);
        assert_int_equal(cdev->group, -1);
        assert_string_equal(cdev->cdev, "vfio0");

        assert_null(find(r, n, 100, "/dev/vfio/vfio"));
        assert_null(find(r, n, 100, "/dev/null"));

        const HolderRecord *g7 = find(r, n, 200, "/dev/vfio/7");
        assert_non_null(g7);
        assert_int_equal(g7->group, 7);
        assert_string_equal(g7->comm, "bad?name?");
        const HolderRecord *noiommu = find(r, n, 200, "/dev/vfio/noiommu-4");
        assert_non_null(noiommu);
        assert_int_equal(noiommu->group, 4);
        const HolderRecord *c17 = find(r, n, 200, "/dev/vfio/devices/vfio17");
        assert_non_null(c17);
        assert_string_equal(c17->cdev, "vfio17");

        const HolderRecord *dpdk = find(r, n, 300, "/dev/vfio/12");
        assert_non_null(dpdk);
        assert_string_equal(dpdk->comm, "dpdk");

        for (size_t i = 0; i < n; i++)
                assert_true(r[i].pid == 100 || r[i].pid == 200 || r[i].pid == 300);

        holder_records_free(r, n);
}

static void test_empty_and_missing(void **state) {
        const char *root = *state;
        HolderRecord *r = (HolderRecord *) 0x1;
        size_t n = 42;

        assert_int_equal(holders_scan(root, &r, &n), 0);
        assert_int_equal(n, 0);
        holder_records_free(r, n);

        r = NULL;
        assert_int_equal(holders_scan("/nonexistent-dma-ownerd-proc", &r, &n), -ENOENT);
        assert_null(r);
        assert_int_equal(holders_scan(NULL, &r, &n), -EINVAL);
        holder_records_free(NULL, 0);
}

static void test_host_proc(void **state) {
        HolderRecord *r = NULL;
        size_t n = 0;

        /* Read-only: whatever this host holds, every record is well formed. */
        assert_int_equal(holders_scan("/proc", &r, &n), 0);
        for (size_t i = 0; i < n; i++) {
                assert_true(r[i].pid > 0);
                assert_non_null(r[i].comm);
                assert_non_null(r[i].dev_path);
                assert_true((r[i].group >= 0) != (r[i].cdev != NULL));
        }
        holder_records_free(r, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fake_proc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
                cmocka_unit_test(test_host_proc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
