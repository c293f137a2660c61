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
#include "model.h"
#include "sysfs-tree.h"

#define RELEASE "6.1.0-37-amd64"

typedef struct Fixture {
        char *sysfs;
        char *proc;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);
        assert_int_equal(sysfs_tree_new(&f->sysfs), 0);
        assert_int_equal(asprintf(&f->proc, "%s/proc", f->sysfs), (int) strlen(f->sysfs) + 5);
        assert_int_equal(mkdir(f->proc, 0755), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        assert_int_equal(sysfs_tree_destroy(f->sysfs), 0);
        free(f->sysfs);
        free(f->proc);
        free(f);
        return 0;
}

static Model *scan(const Fixture *f) {
        Model *m = NULL;
        assert_int_equal(model_scan(f->sysfs, f->proc, RELEASE, &m), 0);
        assert_non_null(m);
        return m;
}

/* After any refresh, the model must be what a fresh scan sees. */
static void assert_equals_fresh_scan(const Fixture *f, const Model *m) {
        _cleanup_model_ Model *fresh = scan(f);
        assert_true(model_equal(m, fresh));
        assert_true(model_equal(fresh, m));
}

static void add(const Fixture *f, TreeDevice d) {
        assert_int_equal(sysfs_tree_add_device(f->sysfs, &d), 0);
}

static const Device *dev(const Model *m, const char *address) {
        const Device *d = model_find_device(m, address);
        assert_non_null(d);
        return d;
}

static const Group *grp(const Model *m, int64_t number) {
        const Group *g = model_find_group(m, number);
        assert_non_null(g);
        return g;
}

static void write_file(const Fixture *f, const char *relpath, const char *contents) {
        assert_int_equal(sysfs_tree_write(f->sysfs, relpath, contents), 0);
}

static void make_symlink(const Fixture *f, const char *target, const char *relpath) {
        _cleanup_free_ char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", f->sysfs, relpath) > 0);
        (void) unlink(p);
        assert_int_equal(symlink(target, p), 0);
}

/* A pcie-pci-bridge and two conventional endpoints behind it share one group (no ACS below a PCI bridge). */
static void add_bridge_group(const Fixture *f) {
        add(f, (TreeDevice) { .address = "0000:00:1e.0", .vendor = 0x1b36, .device = 0x000e, .class = 0x060400,
                              .header_type = 0x01, .group = 5, .driver = "shpchp" });
        add(f, (TreeDevice) { .address = "0000:01:00.0", .vendor = 0x8086, .device = 0x100e,
                              .subsystem_vendor = 0x8086, .subsystem_device = 0x001e, .class = 0x020000,
                              .group = 5, .driver = "e1000", .net = { "ens1", NULL } });
        add(f, (TreeDevice) { .address = "0000:01:01.0", .vendor = 0x8086, .device = 0x100e,
                              .subsystem_vendor = 0x8086, .subsystem_device = 0x001e, .class = 0x020000,
                              .group = 5, .driver = "e1000" });
}

static void test_bridge_group(void **state) {
        Fixture *f = *state;
        add_bridge_group(f);

        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(m->n_devices, 3);
        assert_int_equal(m->n_groups, 1);
        assert_int_equal(m->n_skipped, 0);
        assert_true(m->kernel_dma_ownership);
        assert_string_equal(m->sysfs_root, f->sysfs);
        assert_string_equal(m->proc_root, f->proc);

        const Device *bridge = dev(m, "0000:00:1e.0");
        assert_true(bridge->is_bridge);
        assert_int_equal(bridge->header_type, 1);
        assert_false(bridge->multifunction);
        assert_int_equal(bridge->id.vendor, 0x1b36);
        assert_int_equal(bridge->id.device, 0x000e);
        assert_int_equal(bridge->id.class, 0x060400);
        assert_int_equal(bridge->id.iommu_group, 5);
        assert_string_equal(bridge->driver, "shpchp");
        assert_null(bridge->driver_override);
        assert_null(bridge->vfio_cdev);
        assert_false(bridge->is_virtfn);
        assert_string_equal(bridge->physfn, "");
        assert_false(bridge->pinned);

        const Device *nic = dev(m, "0000:01:00.0");
        assert_false(nic->is_bridge);
        assert_int_equal(nic->header_type, 0);
        assert_int_equal(nic->id.vendor, 0x8086);
        assert_int_equal(nic->id.device, 0x100e);
        assert_int_equal(nic->id.subsystem_vendor, 0x8086);
        assert_int_equal(nic->id.subsystem_device, 0x001e);
        assert_int_equal(nic->id.class, 0x020000);
        assert_string_equal(nic->driver, "e1000");
        assert_int_equal(nic->n_net, 1);
        assert_string_equal(nic->net[0].name, "ens1");
        assert_false(nic->net[0].up);
        assert_false(nic->net[0].has_address);
        assert_false(nic->net[0].default_route);
        assert_int_equal(dev(m, "0000:01:01.0")->n_net, 0);

        /* Devices in address order, members in address order. */
        assert_string_equal(m->devices[0].id.address, "0000:00:1e.0");
        assert_string_equal(m->devices[1].id.address, "0000:01:00.0");
        assert_string_equal(m->devices[2].id.address, "0000:01:01.0");
        const Group *g = grp(m, 5);
        assert_int_equal(g->number, 5);
        assert_int_equal(g->n_members, 3);
        assert_string_equal(model_group_member(m, g, 0)->id.address, "0000:00:1e.0");
        assert_string_equal(model_group_member(m, g, 1)->id.address, "0000:01:00.0");
        assert_string_equal(model_group_member(m, g, 2)->id.address, "0000:01:01.0");
        assert_int_equal(g->n_holders, 0);
        /* e1000 and shpchp claim kernel DMA. */
        assert_int_equal(g->owner, DMA_OWNER_KERNEL);

        assert_null(model_find_group(m, 6));
        assert_null(model_find_device(m, "0000:02:00.0"));
}

static void test_bridge_without_config(void **state) {
        Fixture *f = *state;
        add_bridge_group(f);
        /* Without config space the class decides (0x0604xx PCI bridge, 0x0607xx CardBus). */
        _cleanup_free_ char *p = NULL;
        assert_true(asprintf(&p, "%s/devices/pci0000:00/0000:00:1e.0/config", f->sysfs) > 0);
        assert_int_equal(unlink(p), 0);
        add(f, (TreeDevice) { .address = "0000:00:1f.0", .vendor = 0x104c, .device = 0xac56, .class = 0x060700,
                              .header_type = 0x02, .group = 6 });
        free(p);
        assert_true(asprintf(&p, "%s/devices/pci0000:00/0000:00:1f.0/config", f->sysfs) > 0);
        assert_int_equal(unlink(p), 0);

        _cleanup_model_ Model *m = scan(f);
        assert_true(dev(m, "0000:00:1e.0")->is_bridge);
        assert_int_equal(dev(m, "0000:00:1e.0")->header_type, 1);
        assert_true(dev(m, "0000:00:1f.0")->is_bridge);
        assert_int_equal(dev(m, "0000:00:1f.0")->header_type, 2);
        assert_false(dev(m, "0000:01:00.0")->is_bridge);
        assert_int_equal(grp(m, 6)->owner, DMA_OWNER_NONE);
}

static void test_single_device_group(void **state) {
        Fixture *f = *state;
        add(f, (TreeDevice) { .address = "0000:02:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
                              .group = 7, .driver = "vfio-pci", .driver_override = "vfio-pci",
                              .vfio_cdev = "vfio0" });
        add(f, (TreeDevice) { .address = "0000:03:00.0", .vendor = 0x144d, .device = 0xa808, .class = 0x010802,
                              .group = 8 });
        add(f, (TreeDevice) { .address = "0000:04:00.0", .vendor = 0x8086, .device = 0x1533, .class = 0x020000,
                              .group = -1, .driver = "igb" });

        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(m->n_devices, 3);
        assert_int_equal(m->n_groups, 2);

        const Device *gpu = dev(m, "0000:02:00.0");
        assert_string_equal(gpu->driver, "vfio-pci");
        assert_string_equal(gpu->driver_override, "vfio-pci");
        assert_string_equal(gpu->vfio_cdev, "vfio0");
        const Group *g7 = grp(m, 7);
        assert_int_equal(g7->n_members, 1);
        assert_ptr_equal(model_group_member(m, g7, 0), gpu);
        /* vfio-pci manages its own DMA and nobody holds the group. */
        assert_int_equal(g7->owner, DMA_OWNER_NONE);

        assert_null(dev(m, "0000:03:00.0")->driver);
        assert_int_equal(grp(m, 8)->owner, DMA_OWNER_NONE);

        /* No IOMMU group: in the model, but in no group. */
        assert_int_equal(dev(m, "0000:04:00.0")->id.iommu_group, -1);
        assert_string_equal(dev(m, "0000:04:00.0")->driver, "igb");
}

static void test_multifunction_same_group(void **state) {
        Fixture *f = *state;
        add(f, (TreeDevice) { .address = "0000:05:00.0", .vendor = 0x10de, .device = 0x2204, .class = 0x030000,
                              .header_type = 0x80, .group = 9, .driver = "nouveau" });
        add(f, (TreeDevice) { .address = "0000:05:00.1", .vendor = 0x10de, .device = 0x1aef, .class = 0x040300,
                              .header_type = 0x80, .group = 9, .driver = "snd_hda_intel" });

        _cleanup_model_ Model *m = scan(f);
        for (size_t i = 0; i < 2; i++) {
                assert_true(m->devices[i].multifunction);
                assert_int_equal(m->devices[i].header_type, 0);
                assert_false(m->devices[i].is_bridge);
        }
        const Group *g = grp(m, 9);
        assert_int_equal(g->n_members, 2);
        assert_string_equal(model_group_member(m, g, 0)->id.address, "0000:05:00.0");
        assert_string_equal(model_group_member(m, g, 1)->id.address, "0000:05:00.1");
        assert_int_equal(g->owner, DMA_OWNER_KERNEL);
}

static void test_multifunction_separate_groups(void **state) {
        Fixture *f = *state;
        /* Functions with ACS isolation get groups of their own. */
        add(f, (TreeDevice) { .address = "0000:06:00.0", .vendor = 0x8086, .device = 0x1521, .class = 0x020000,
                              .header_type = 0x80, .group = 10, .driver = "igb" });
        add(f, (TreeDevice) { .address = "0000:06:00.1", .vendor = 0x8086, .device = 0x1521, .class = 0x020000,
                              .header_type = 0x80, .group = 11, .driver = "vfio-pci" });
        /* A single-function device for contrast. */
        add(f, (TreeDevice) { .address = "0000:07:00.0", .vendor = 0x8086, .device = 0x1533, .class = 0x020000,
                              .header_type = 0x00, .group = 12 });

        _cleanup_model_ Model *m = scan(f);
        assert_true(dev(m, "0000:06:00.0")->multifunction);
        assert_true(dev(m, "0000:06:00.1")->multifunction);
        assert_false(dev(m, "0000:07:00.0")->multifunction);
        assert_int_equal(grp(m, 10)->n_members, 1);
        assert_int_equal(grp(m, 11)->n_members, 1);
        assert_int_equal(grp(m, 10)->owner, DMA_OWNER_KERNEL);
        assert_int_equal(grp(m, 11)->owner, DMA_OWNER_NONE);
}

static const char *const vfs[] = { "0000:08:10.0", "0000:08:10.2", "0000:08:10.4", "0000:08:10.6" };

static void add_sriov(const Fixture *f) {
        add(f, (TreeDevice) { .address = "0000:08:00.0", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
                              .header_type = 0x80, .group = 20, .driver = "ixgbe", .sriov_numvfs = 4,
                              .net = { "enp8s0f0", NULL } });
        for (size_t i = 0; i < ELEMENTSOF(vfs); i++)
                add(f, (TreeDevice) { .address = vfs[i], .vendor = 0x8086, .device = 0x10ed, .class = 0x020000,
                                      .group = 21 + (int64_t) i, .driver = "ixgbevf", .physfn = "0000:08:00.0" });
}

static void test_sriov(void **state) {
        Fixture *f = *state;
        add_sriov(f);

        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(m->n_devices, 5);
        assert_int_equal(m->n_groups, 5);

        const Device *pf = dev(m, "0000:08:00.0");
        assert_false(pf->is_virtfn);
        assert_string_equal(pf->physfn, "");
        assert_int_equal(pf->sriov_numvfs, 4);
        assert_true(pf->multifunction);

        for (size_t i = 0; i < ELEMENTSOF(vfs); i++) {
                const Device *vf = dev(m, vfs[i]);
                assert_true(vf->is_virtfn);
                assert_string_equal(vf->physfn, "0000:08:00.0");
                assert_int_equal(vf->sriov_numvfs, 0);
                assert_int_equal(vf->id.device, 0x10ed);
                const Group *g = grp(m, 21 + (int64_t) i);
                assert_int_equal(g->n_members, 1);
                assert_ptr_equal(model_group_member(m, g, 0), vf);
                assert_int_equal(g->owner, DMA_OWNER_KERNEL);
        }
        for (size_t i = 0; i + 1 < m->n_groups; i++)
                assert_true(m->groups[i].number < m->groups[i + 1].number);
}

static void test_driver_override_parsing(void **state) {
        Fixture *f = *state;
        static const char *const addrs[] = { "0000:09:00.0", "0000:09:00.1", "0000:09:00.2", "0000:09:00.3",
                                             "0000:09:00.4", "0000:09:00.5", "0000:09:00.6" };
        for (size_t i = 0; i < ELEMENTSOF(addrs); i++)
                add(f, (TreeDevice) { .address = addrs[i], .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                                      .group = 30 + (int64_t) i });

        write_file(f, "bus/pci/devices/0000:09:00.0/driver_override", "vfio-pci\n");
        write_file(f, "bus/pci/devices/0000:09:00.1/driver_override", "(null)\n");
        write_file(f, "bus/pci/devices/0000:09:00.2/driver_override", "\n");
        /* Control characters and invalid UTF-8. */
        write_file(f, "bus/pci/devices/0000:09:00.3/driver_override", "evil\x1b[31m\xff\xfe\n");
        /* More than an attribute can hold. */
        _cleanup_free_ char *big = malloc(5001);
        assert_non_null(big);
        memset(big, 'a', 5000);
        big[5000] = '\0';
        write_file(f, "bus/pci/devices/0000:09:00.4/driver_override", big);
        /* A symlink loop in place of the attribute. */
        make_symlink(f, "driver_override", "devices/pci0000:00/0000:09:00.5/driver_override");
        /* A path in place of a name. */
        write_file(f, "bus/pci/devices/0000:09:00.6/driver_override", "../../../etc\n");

        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(m->n_devices, ELEMENTSOF(addrs));
        assert_string_equal(dev(m, "0000:09:00.0")->driver_override, "vfio-pci");
        assert_null(dev(m, "0000:09:00.1")->driver_override);
        assert_null(dev(m, "0000:09:00.2")->driver_override);
        assert_string_equal(dev(m, "0000:09:00.3")->driver_override, DEVICE_DRIVER_UNKNOWN);
        assert_string_equal(dev(m, "0000:09:00.4")->driver_override, DEVICE_DRIVER_UNKNOWN);
        assert_string_equal(dev(m, "0000:09:00.5")->driver_override, DEVICE_DRIVER_UNKNOWN);
        assert_string_equal(dev(m, "0000:09:00.6")->driver_override, DEVICE_DRIVER_UNKNOWN);
        for (size_t i = 0; i < m->n_devices; i++) {
                assert_null(m->devices[i].driver);
                if (m->devices[i].driver_override)
                        assert_true(driver_name_is_valid(m->devices[i].driver_override));
        }
}

static void test_driver_parsing(void **state) {
        Fixture *f = *state;
        add(f, (TreeDevice) { .address = "0000:0a:00.0", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 40, .driver = "virtio-pci" });
        add(f, (TreeDevice) { .address = "0000:0a:00.1", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 41 });
        add(f, (TreeDevice) { .address = "0000:0a:00.2", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 42 });
        add(f, (TreeDevice) { .address = "0000:0a:00.3", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 43 });

        /* Dangling: the name is still the kernel's word (and valid). */
        make_symlink(f, "../../../bus/pci/drivers/gone", "devices/pci0000:00/0000:0a:00.1/driver");
        /* A name that is not a driver name: control characters. */
        make_symlink(f, "../../../bus/pci/drivers/bad\x07name", "devices/pci0000:00/0000:0a:00.2/driver");
        /* A link to "..": not a name at all. */
        make_symlink(f, "..", "devices/pci0000:00/0000:0a:00.3/driver");

        _cleanup_model_ Model *m = scan(f);
        assert_string_equal(dev(m, "0000:0a:00.0")->driver, "virtio-pci");
        assert_string_equal(dev(m, "0000:0a:00.1")->driver, "gone");
        assert_string_equal(dev(m, "0000:0a:00.2")->driver, DEVICE_DRIVER_UNKNOWN);
        assert_string_equal(dev(m, "0000:0a:00.3")->driver, DEVICE_DRIVER_UNKNOWN);
        /* Bound to something unknown: assume it claims kernel DMA. */
        assert_int_equal(grp(m, 42)->owner, DMA_OWNER_KERNEL);
        assert_int_equal(grp(m, 43)->owner, DMA_OWNER_KERNEL);
}

static void test_owner_user_group_file(void **state) {
        Fixture *f = *state;
        add(f, (TreeDevice) { .address = "0000:0b:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
                              .group = 50, .driver = "vfio-pci" });
        add(f, (TreeDevice) { .address = "0000:0b:00.1", .vendor = 0x10de, .device = 0x10f8, .class = 0x040300,
                              .group = 50, .driver = "vfio-pci" });
        add(f, (TreeDevice) { .address = "0000:0c:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
                              .group = 51, .driver = "vfio-pci" });

        assert_int_equal(proc_tree_add_fd(f->proc, 4242, "qemu-system-x86", 20, "/dev/vfio/50"), 0);
        assert_int_equal(proc_tree_add_fd(f->proc, 4242, "qemu-system-x86", 21, "/dev/vfio/vfio"), 0);
        /* The container alone claims nothing. */
        assert_int_equal(proc_tree_add_fd(f->proc, 4343, "other", 3, "/dev/vfio/vfio"), 0);
        /* A held group that has no device in the model is ignored. */
        assert_int_equal(proc_tree_add_fd(f->proc, 4444, "stale", 3, "/dev/vfio/77"), 0);

        _cleanup_model_ Model *m = scan(f);
        const Group *g = grp(m, 50);
        assert_int_equal(g->owner, DMA_OWNER_USER);
        assert_int_equal(g->n_holders, 1);
        assert_int_equal(g->holders[0].pid, 4242);
        assert_string_equal(g->holders[0].comm, "qemu-system-x86");
        assert_string_equal(g->holders[0].dev_path, "/dev/vfio/50");
        assert_null(g->holders[0].unit);
        assert_int_equal(grp(m, 51)->owner, DMA_OWNER_NONE);
        assert_int_equal(grp(m, 51)->n_holders, 0);
        assert_null(model_find_group(m, 77));
}

static void test_owner_user_cdev(void **state) {
        Fixture *f = *state;
        add(f, (TreeDevice) { .address = "0000:0d:00.0", .vendor = 0x15b3, .device = 0x101e, .class = 0x020000,
                              .group = 60, .driver = "vfio-pci", .vfio_cdev = "vfio3" });
        add(f, (TreeDevice) { .address = "0000:0d:00.1", .vendor = 0x15b3, .device = 0x101e, .class = 0x020000,
                              .group = 61, .driver = "mlx5_core", .vfio_cdev = NULL });

        assert_int_equal(proc_tree_add_fd(f->proc, 77, "cloud-hypervisor", 9, "/dev/vfio/devices/vfio3"), 0);
        assert_int_equal(proc_tree_add_fd(f->proc, 77, "cloud-hypervisor", 10, "/dev/iommu"), 0);
        /* A cdev of a device that is not in the model. */
        assert_int_equal(proc_tree_add_fd(f->proc, 78, "x", 9, "/dev/vfio/devices/vfio99"), 0);

        _cleanup_model_ Model *m = scan(f);
        const Group *g = grp(m, 60);
        assert_int_equal(g->owner, DMA_OWNER_USER);
        assert_int_equal(g->n_holders, 1);
        assert_int_equal(g->holders[0].pid, 77);
        assert_string_equal(g->holders[0].dev_path, "/dev/vfio/devices/vfio3");
        assert_int_equal(grp(m, 61)->owner, DMA_OWNER_KERNEL);

        /* The holder closes: refresh sees it. */
        _cleanup_free_ char *p = NULL;
        assert_true(asprintf(&p, "%s/77/fd/9", f->proc) > 0);
        assert_int_equal(unlink(p), 0);
        _cleanup_model_ Model *before = scan(f);
        assert_int_equal(model_refresh_holders(m), 0);
        assert_int_equal(grp(m, 60)->owner, DMA_OWNER_NONE);
        assert_int_equal(grp(m, 60)->n_holders, 0);
        assert_true(model_equal(m, before));
}

static void test_kernel_release(void **state) {
        assert_false(kernel_release_has_dma_ownership("5.10.0-30-amd64"));
        assert_false(kernel_release_has_dma_ownership("5.18.19"));
        assert_false(kernel_release_has_dma_ownership("4.19.0"));
        assert_false(kernel_release_has_dma_ownership("3.99"));
        assert_true(kernel_release_has_dma_ownership("5.19"));
        assert_true(kernel_release_has_dma_ownership("5.19.0-rc1"));
        assert_true(kernel_release_has_dma_ownership("6.1.0-37-amd64"));
        assert_true(kernel_release_has_dma_ownership("6.12.9"));
        assert_true(kernel_release_has_dma_ownership("6.12.0-0.rc3.fc42.x86_64"));
        assert_true(kernel_release_has_dma_ownership("10.0"));
        assert_false(kernel_release_has_dma_ownership(""));
        assert_false(kernel_release_has_dma_ownership(NULL));
        assert_false(kernel_release_has_dma_ownership("garbage"));
        assert_false(kernel_release_has_dma_ownership("6"));
        assert_false(kernel_release_has_dma_ownership("6."));
        assert_false(kernel_release_has_dma_ownership(".19"));
        assert_false(kernel_release_has_dma_ownership("-6.1"));
        assert_false(kernel_release_has_dma_ownership("99999999999999999999.1"));

        Fixture *f = *state;
        Model *m = NULL;
        assert_int_equal(model_scan(f->sysfs, f->proc, "5.10.0-30-amd64", &m), 0);
        assert_false(m->kernel_dma_ownership);
        /* A rescan keeps what the first scan was told. */
        assert_int_equal(model_rescan(m), 0);
        assert_false(m->kernel_dma_ownership);
        model_free(m);

        assert_string_equal(dma_owner_to_string(DMA_OWNER_NONE), "none");
        assert_string_equal(dma_owner_to_string(DMA_OWNER_KERNEL), "kernel");
        assert_string_equal(dma_owner_to_string(DMA_OWNER_USER), "user");
}

/* A re-read after a uevent does not read config space again for a device it knows (same ids): the header type
 * cannot change while the device exists, and in a VM that read traps to the hypervisor. A different device at the
 * same address is read in full. */
static void test_refresh_keeps_header_type(void **state) {
        Fixture *f = *state;
        add(f, (TreeDevice) { .address = "0000:0f:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
                              .header_type = 0x80, .group = 80 });

        _cleanup_model_ Model *m = scan(f);
        assert_true(dev(m, "0000:0f:00.0")->multifunction);

        /* Config space now reads as nothing: were it read again, the header type would fall back to the class. */
        assert_int_equal(sysfs_tree_write(f->sysfs, "bus/pci/devices/0000:0f:00.0/config", ""), 0);
        assert_int_equal(sysfs_tree_set_driver(f->sysfs, "0000:0f:00.0", "vfio-pci"), 0);
        assert_int_equal(model_refresh_device(m, "0000:0f:00.0"), 0);
        assert_string_equal(dev(m, "0000:0f:00.0")->driver, "vfio-pci");
        assert_true(dev(m, "0000:0f:00.0")->multifunction);
        assert_int_equal(dev(m, "0000:0f:00.0")->header_type, 0);

        /* Another device at the address (the remove was missed): its own header is read. */
        assert_int_equal(sysfs_tree_remove_device(f->sysfs, "0000:0f:00.0"), 0);
        add(f, (TreeDevice) { .address = "0000:0f:00.0", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
                              .header_type = 0x01, .group = 80 });
        assert_int_equal(model_refresh_device(m, "0000:0f:00.0"), 0);
        assert_int_equal(dev(m, "0000:0f:00.0")->id.vendor, 0x8086);
        assert_int_equal(dev(m, "0000:0f:00.0")->header_type, 1);
        assert_false(dev(m, "0000:0f:00.0")->multifunction);
        assert_true(dev(m, "0000:0f:00.0")->is_bridge);
}

static void test_refresh(void **state) {
        Fixture *f = *state;
        add_bridge_group(f);
        add_sriov(f);
        add(f, (TreeDevice) { .address = "0000:0e:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
                              .group = 70, .driver = "vfio-pci" });
        assert_int_equal(proc_tree_add_fd(f->proc, 500, "qemu", 5, "/dev/vfio/70"), 0);

        _cleanup_model_ Model *m = scan(f);
        assert_equals_fresh_scan(f, m);
        assert_int_equal(grp(m, 70)->owner, DMA_OWNER_USER);

        /* Unbind both e1000s: the bridge (shpchp) still claims kernel DMA. */
        assert_int_equal(sysfs_tree_set_driver(f->sysfs, "0000:01:00.0", NULL), 0);
        assert_int_equal(sysfs_tree_set_driver(f->sysfs, "0000:01:01.0", NULL), 0);
        assert_int_equal(model_refresh_device(m, "0000:01:00.0"), 0);
        assert_int_equal(model_refresh_device(m, "0000:01:01.0"), 0);
        assert_null(dev(m, "0000:01:00.0")->driver);
        assert_int_equal(grp(m, 5)->owner, DMA_OWNER_KERNEL);
        assert_equals_fresh_scan(f, m);

        /* Bridge to pci-stub (driver_managed_dma): the group is nobody's. */
        assert_int_equal(sysfs_tree_set_driver(f->sysfs, "0000:00:1e.0", "pci-stub"), 0);
        assert_int_equal(model_refresh_device(m, "0000:00:1e.0"), 0);
        assert_int_equal(grp(m, 5)->owner, DMA_OWNER_NONE);
        assert_equals_fresh_scan(f, m);

        /* Bind one to vfio-pci. */
        assert_int_equal(sysfs_tree_set_driver(f->sysfs, "0000:01:00.0", "vfio-pci"), 0);
        assert_int_equal(model_refresh_device(m, "0000:01:00.0"), 0);
        assert_string_equal(dev(m, "0000:01:00.0")->driver, "vfio-pci");
        assert_int_equal(grp(m, 5)->owner, DMA_OWNER_NONE);
        assert_equals_fresh_scan(f, m);

        /* Remove a VF (its group goes with it) and the first device of the array. */
        assert_int_equal(sysfs_tree_remove_device(f->sysfs, vfs[1]), 0);
        assert_int_equal(model_refresh_device(m, vfs[1]), 0);
        assert_null(model_find_device(m, vfs[1]));
        assert_null(model_find_group(m, 22));
        assert_equals_fresh_scan(f, m);
        assert_int_equal(sysfs_tree_remove_device(f->sysfs, "0000:00:1e.0"), 0);
        assert_int_equal(model_refresh_device(m, "0000:00:1e.0"), 0);
        assert_int_equal(grp(m, 5)->n_members, 2);
        assert_equals_fresh_scan(f, m);

        /* Add a device at the front, one in the middle into an existing group, one in a new group. */
        add(f, (TreeDevice) { .address = "0000:00:02.0", .vendor = 0x8086, .device = 0x3e92, .class = 0x030000,
                              .group = 1, .driver = "i915" });
        assert_int_equal(model_refresh_device(m, "0000:00:02.0"), 0);
        assert_equals_fresh_scan(f, m);
        add(f, (TreeDevice) { .address = "0000:01:00.1", .vendor = 0x8086, .device = 0x100e, .class = 0x020000,
                              .group = 5, .driver = "e1000" });
        assert_int_equal(model_refresh_device(m, "0000:01:00.1"), 0);
        assert_int_equal(grp(m, 5)->n_members, 3);
        assert_string_equal(model_group_member(m, grp(m, 5), 1)->id.address, "0000:01:00.1");
        assert_int_equal(grp(m, 5)->owner, DMA_OWNER_KERNEL);
        assert_equals_fresh_scan(f, m);
        add(f, (TreeDevice) { .address = "0000:0f:00.0", .vendor = 0x8086, .device = 0x1533, .class = 0x020000,
                              .group = 90 });
        assert_int_equal(model_refresh_device(m, "0000:0f:00.0"), 0);
        assert_int_equal(grp(m, 90)->n_members, 1);
        assert_equals_fresh_scan(f, m);

        /* Holders survive re-indexing of their group. */
        assert_int_equal(grp(m, 70)->owner, DMA_OWNER_USER);
        assert_int_equal(grp(m, 70)->n_holders, 1);

        /* A device moves to another group (re-created by the kernel), emptying its old one. */
        make_symlink(f, "../../../kernel/iommu_groups/91", "devices/pci0000:00/0000:0f:00.0/iommu_group");
        assert_int_equal(model_refresh_device(m, "0000:0f:00.0"), 0);
        assert_null(model_find_group(m, 90));
        assert_int_equal(grp(m, 91)->n_members, 1);
        assert_equals_fresh_scan(f, m);
        /* ... and into the held group 70. */
        make_symlink(f, "../../../kernel/iommu_groups/70", "devices/pci0000:00/0000:0f:00.0/iommu_group");
        assert_int_equal(model_refresh_device(m, "0000:0f:00.0"), 0);
        assert_null(model_find_group(m, 91));
        assert_int_equal(grp(m, 70)->n_members, 2);
        assert_int_equal(grp(m, 70)->owner, DMA_OWNER_USER);
        assert_equals_fresh_scan(f, m);

        /* Unknown and already-gone addresses are fine; invalid ones are refused. */
        assert_int_equal(model_refresh_device(m, "0000:7f:00.0"), 0);
        assert_int_equal(model_refresh_device(m, vfs[1]), 0);
        assert_int_equal(model_refresh_device(m, "../../etc"), -EINVAL);
        assert_int_equal(model_refresh_device(m, "0000:00:20.0"), -EINVAL);
        assert_equals_fresh_scan(f, m);

        /* The whole tree drained device by device ends as an empty model. */
        while (m->n_devices > 0) {
                char address[PCI_ADDRESS_STRLEN];
                memcpy(address, m->devices[m->n_devices / 2].id.address, sizeof(address));
                assert_int_equal(sysfs_tree_remove_device(f->sysfs, address), 0);
                assert_int_equal(model_refresh_device(m, address), 0);
                assert_equals_fresh_scan(f, m);
        }
        assert_int_equal(m->n_groups, 0);
}

static void test_pins(void **state) {
        Fixture *f = *state;
        add_bridge_group(f);
        add(f, (TreeDevice) { .address = "0000:0e:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
                              .group = 70, .driver = "vfio-pci" });

        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(model_set_pinned(m, "0000:7f:00.0", true), -ENOENT);

        /* dma-ownerd pins the siblings' override... */
        write_file(f, "bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci\n");
        write_file(f, "bus/pci/devices/0000:01:01.0/driver_override", "vfio-pci\n");
        assert_int_equal(model_refresh_device(m, "0000:01:00.0"), 0);
        assert_int_equal(model_refresh_device(m, "0000:01:01.0"), 0);
        assert_int_equal(model_set_pinned(m, "0000:01:00.0", true), 0);
        assert_int_equal(model_set_pinned(m, "0000:01:01.0", true), 0);
        assert_true(dev(m, "0000:01:00.0")->pinned);

        /* ... which survives refreshes and unrelated changes (bind, unbind) while the override stays. */
        assert_int_equal(model_refresh_device(m, "0000:01:00.0"), 0);
        assert_int_equal(sysfs_tree_set_driver(f->sysfs, "0000:01:00.0", NULL), 0);
        assert_int_equal(model_refresh_device(m, "0000:01:00.0"), 0);
        assert_true(dev(m, "0000:01:00.0")->pinned);
        /* Pins are not the kernel's business: still equal to a fresh scan (which has none). */
        assert_equals_fresh_scan(f, m);

        /* Someone else rewrites one override: that pin is gone. */
        write_file(f, "bus/pci/devices/0000:01:01.0/driver_override", "e1000\n");
        assert_int_equal(model_refresh_device(m, "0000:01:01.0"), 0);
        assert_false(dev(m, "0000:01:01.0")->pinned);
        assert_true(dev(m, "0000:01:00.0")->pinned);

        /* A rescan carries the remaining pin over, but only while the override is unchanged. */
        assert_int_equal(model_rescan(m), 0);
        assert_true(dev(m, "0000:01:00.0")->pinned);
        assert_false(dev(m, "0000:01:01.0")->pinned);
        write_file(f, "bus/pci/devices/0000:01:00.0/driver_override", "(null)\n");
        assert_int_equal(model_rescan(m), 0);
        assert_false(dev(m, "0000:01:00.0")->pinned);
        assert_equals_fresh_scan(f, m);

        /* Lifting a pin by hand. */
        assert_int_equal(model_set_pinned(m, "0000:0e:00.0", true), 0);
        assert_int_equal(model_set_pinned(m, "0000:0e:00.0", false), 0);
        assert_false(dev(m, "0000:0e:00.0")->pinned);
}

static void test_hostile_tree(void **state) {
        Fixture *f = *state;
        add_bridge_group(f);

        /* Names on the bus that are not PCI addresses. */
        make_symlink(f, "../../../devices/pci0000:00/0000:01:00.0", "bus/pci/devices/garbage");
        make_symlink(f, "../../../devices/pci0000:00/0000:01:00.0", "bus/pci/devices/0000:01:00.0 ");
        make_symlink(f, "../../../devices/pci0000:00/0000:01:00.0", "bus/pci/devices/0000:01:20.0");
        make_symlink(f, "../../../devices/pci0000:00/0000:01:00.0", "bus/pci/devices/0000:01:00.0\n");
        /* A valid name that loops on itself, and one that dangles. */
        make_symlink(f, "0000:10:00.0", "bus/pci/devices/0000:10:00.0");
        make_symlink(f, "../../../devices/pci0000:00/0000:11:00.0", "bus/pci/devices/0000:11:00.0");
        /* A group listing a device that is gone, and a group that lists only a gone device. */
        make_symlink(f, "../../../../devices/pci0000:00/0000:12:00.0", "kernel/iommu_groups/5/devices/0000:12:00.0");
        _cleanup_free_ char *g99 = NULL, *g99p = NULL;
        assert_true(asprintf(&g99, "%s/kernel/iommu_groups/99/devices", f->sysfs) > 0);
        assert_true(asprintf(&g99p, "%s/kernel/iommu_groups/99", f->sysfs) > 0);
        assert_int_equal(mkdir(g99p, 0755), 0);
        assert_int_equal(mkdir(g99, 0755), 0);
        make_symlink(f, "../../../../devices/pci0000:00/0000:13:00.0", "kernel/iommu_groups/99/devices/0000:13:00.0");
        make_symlink(f, "x", "kernel/iommu_groups/99/devices/not-an-address");
        /* A group link whose basename is not a number, and an interface name with a control character. */
        add(f, (TreeDevice) { .address = "0000:14:00.0", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 100, .net = { "ok0", "bad\x01if", "waytoolonginterfacename", NULL } });
        make_symlink(f, "../../../kernel/iommu_groups/1x", "devices/pci0000:00/0000:14:00.0/iommu_group");
        /* An unparsable id: the device cannot be trusted and is skipped. */
        add(f, (TreeDevice) { .address = "0000:15:00.0", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 101 });
        write_file(f, "devices/pci0000:00/0000:15:00.0/vendor", "0xnothex\n");
        write_file(f, "devices/pci0000:00/0000:15:00.0/uevent", "PCI_ID=zz\n"); /* after: vendor rewrites it */
        /* A vfio-dev entry that is not vfioN. */
        add(f, (TreeDevice) { .address = "0000:16:00.0", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 102, .vfio_cdev = "vfioX" });
        /* A physfn link that does not name an address. */
        add(f, (TreeDevice) { .address = "0000:17:00.0", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
                              .group = 103 });
        make_symlink(f, "../not-a-pf", "devices/pci0000:00/0000:17:00.0/physfn");

        _cleanup_model_ Model *m = scan(f);
        /* The bridge group, 14:00.0, 16:00.0, 17:00.0; nothing else. */
        assert_int_equal(m->n_devices, 6);
        assert_non_null(model_find_device(m, "0000:01:00.0"));
        assert_null(model_find_device(m, "0000:01:20.0"));
        assert_null(model_find_device(m, "0000:10:00.0"));
        assert_null(model_find_device(m, "0000:11:00.0"));
        assert_null(model_find_device(m, "0000:12:00.0"));
        assert_null(model_find_device(m, "0000:13:00.0"));
        assert_null(model_find_device(m, "0000:15:00.0"));
        assert_null(model_find_group(m, 99));
        assert_int_equal(grp(m, 5)->n_members, 3);
        /* On the bus: 4 bad names, the loop, the dangling link, the unparsable id. The stale group listings (12:00.0,
         * 13:00.0, not-an-address, 14:00.0 listed in group 100 but linked to "1x") create nothing: groups come from
         * the devices' own links. */
        assert_int_equal(m->n_skipped, 7);

        const Device *d = dev(m, "0000:14:00.0");
        assert_int_equal(d->id.iommu_group, -1);
        assert_null(model_find_group(m, 100));
        assert_int_equal(d->n_net, 1);
        assert_string_equal(d->net[0].name, "ok0");
        assert_null(dev(m, "0000:16:00.0")->vfio_cdev);
        assert_true(dev(m, "0000:17:00.0")->is_virtfn);
        assert_string_equal(dev(m, "0000:17:00.0")->physfn, "");

        for (size_t i = 0; i < m->n_devices; i++) {
                assert_true(pci_address_is_valid(m->devices[i].id.address));
                if (m->devices[i].driver)
                        assert_true(driver_name_is_valid(m->devices[i].driver));
        }
        /* Refreshing the hostile entries changes nothing. */
        assert_int_equal(model_refresh_device(m, "0000:10:00.0"), 0);
        assert_int_equal(model_refresh_device(m, "0000:11:00.0"), 0);
        assert_int_equal(model_refresh_device(m, "0000:15:00.0"), 0);
        assert_int_equal(m->n_devices, 6);
}

static void test_ids_from_attributes(void **state) {
        Fixture *f = *state;
        /* Without uevent (older trees, other generators) the attribute files are read. */
        add(f, (TreeDevice) { .address = "0000:18:00.0", .vendor = 0x1234, .device = 0x5678,
                              .subsystem_vendor = 0x9abc, .subsystem_device = 0xdef0, .class = 0x0c0330,
                              .group = 110, .driver = "xhci_hcd" });
        _cleanup_free_ char *p = NULL;
        assert_true(asprintf(&p, "%s/devices/pci0000:00/0000:18:00.0/uevent", f->sysfs) > 0);
        assert_int_equal(unlink(p), 0);

        _cleanup_model_ Model *m = scan(f);
        const Device *d = dev(m, "0000:18:00.0");
        assert_int_equal(d->id.vendor, 0x1234);
        assert_int_equal(d->id.device, 0x5678);
        assert_int_equal(d->id.subsystem_vendor, 0x9abc);
        assert_int_equal(d->id.subsystem_device, 0xdef0);
        assert_int_equal(d->id.class, 0x0c0330);
        assert_string_equal(d->driver, "xhci_hcd");

        /* An id changed through the tree helper shows in uevent as in the attribute. */
        write_file(f, "bus/pci/devices/0000:18:00.0/class", "0x0c0320\n");
        assert_int_equal(model_refresh_device(m, "0000:18:00.0"), 0);
        assert_int_equal(dev(m, "0000:18:00.0")->id.class, 0x0c0320);
        assert_equals_fresh_scan(f, m);
}

static void test_model_equal(void **state) {
        Fixture *f = *state;
        add_bridge_group(f);
        _cleanup_model_ Model *a = scan(f);
        _cleanup_model_ Model *b = scan(f);
        assert_true(model_equal(a, b));
        assert_true(model_equal(a, a));
        assert_false(model_equal(a, NULL));

        /* Net state and pins are not the kernel's. */
        model_find_device_mutable(b, "0000:01:00.0")->net[0].up = true;
        b->devices[0].pinned = true;
        assert_true(model_equal(a, b));

        free(b->devices[1].driver);
        b->devices[1].driver = strdup("igb");
        assert_false(model_equal(a, b));
        free(b->devices[1].driver);
        b->devices[1].driver = strdup("e1000");
        assert_true(model_equal(a, b));

        b->devices[2].id.subsystem_device = 1;
        assert_false(model_equal(a, b));
        b->devices[2].id.subsystem_device = 0x001e;
        b->groups[0].owner = DMA_OWNER_USER;
        assert_false(model_equal(a, b));
        b->groups[0].owner = DMA_OWNER_KERNEL;
        assert_true(model_equal(a, b));
        assert_int_equal(model_add_holder(b, 5, 1, "x", NULL, "/dev/vfio/5"), 0);
        assert_false(model_equal(a, b));
}

static void test_in_memory(void **state) {
        _cleanup_model_ Model *m = NULL;
        assert_int_equal(model_new_empty(&m), 0);
        assert_int_equal(m->n_devices, 0);

        NetInterface net[] = { { .name = "eth0", .up = true } };
        Device d = { .id = { .address = "0000:02:00.0", .vendor = 0x8086, .iommu_group = 3 },
                     .driver = (char *) "e1000e", .net = net, .n_net = 1 };
        assert_int_equal(model_add_device(m, &d), 0);
        memcpy(d.id.address, "0000:01:00.0", PCI_ADDRESS_STRLEN);
        d.driver = (char *) "vfio-pci";
        d.n_net = 0;
        d.net = NULL;
        assert_int_equal(model_add_device(m, &d), 0);
        memcpy(d.id.address, "0000:03:00.0", PCI_ADDRESS_STRLEN);
        d.id.iommu_group = 4;
        assert_int_equal(model_add_device(m, &d), 0);
        assert_int_equal(model_add_device(m, &d), -EEXIST);
        memcpy(d.id.address, "0000:03:00.8", PCI_ADDRESS_STRLEN);
        assert_int_equal(model_add_device(m, &d), -EINVAL);
        memcpy(d.id.address, "0000:04:00.0", PCI_ADDRESS_STRLEN);
        d.driver = (char *) "bad/driver";
        assert_int_equal(model_add_device(m, &d), -EINVAL);

        assert_int_equal(m->n_devices, 3);
        assert_string_equal(m->devices[0].id.address, "0000:01:00.0");
        assert_string_equal(m->devices[1].id.address, "0000:02:00.0");
        /* Deep copies. */
        assert_ptr_not_equal(m->devices[1].net, net);
        assert_string_equal(m->devices[1].net[0].name, "eth0");
        assert_true(m->devices[1].net[0].up);

        /* A holder before indexing indexes first. */
        assert_int_equal(model_add_holder(m, 4, 99, "qemu", "qemu.service", "/dev/vfio/4"), 0);
        assert_int_equal(m->n_groups, 2);
        assert_int_equal(grp(m, 3)->n_members, 2);
        assert_int_equal(grp(m, 3)->owner, DMA_OWNER_KERNEL);
        assert_int_equal(grp(m, 4)->owner, DMA_OWNER_USER);
        assert_string_equal(grp(m, 4)->holders[0].unit, "qemu.service");
        assert_int_equal(model_add_holder(m, 5, 99, "qemu", NULL, "/dev/vfio/5"), -ENOENT);

        /* Re-indexing keeps the holders. */
        assert_int_equal(model_index(m), 0);
        assert_int_equal(grp(m, 4)->owner, DMA_OWNER_USER);
        assert_int_equal(grp(m, 4)->n_holders, 1);
        assert_int_equal(model_set_pinned(m, "0000:03:00.0", true), 0);
        assert_true(model_find_device(m, "0000:03:00.0")->pinned);
}

static void test_empty_and_missing(void **state) {
        Fixture *f = *state;
        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(m->n_devices, 0);
        assert_int_equal(m->n_groups, 0);

        Model *x = NULL;
        assert_int_equal(model_scan("/nonexistent-dma-ownerd", NULL, RELEASE, &x), -ENOENT);
        assert_null(x);
        assert_int_equal(model_scan(NULL, NULL, RELEASE, &x), -EINVAL);

        /* No proc root: no holders, no error. */
        add_bridge_group(f);
        assert_int_equal(model_scan(f->sysfs, NULL, NULL, &x), 0);
        assert_int_equal(x->n_devices, 3);
        assert_int_equal(model_refresh_holders(x), 0);
        model_free(x);
}

static void test_large_tree(void **state) {
        Fixture *f = *state;
        const size_t n = 600; /* enough for the scan to spread over threads (256 devices per job) */

        /* Added in reverse so the listing order is nothing like address order. */
        for (size_t k = n; k-- > 0;) {
                char address[PCI_ADDRESS_STRLEN];
                snprintf(address, sizeof(address), "0000:%02zx:%02zx.%zu", k / 256, (k / 8) % 32, k % 8);
                add(f, (TreeDevice) { .address = address, .vendor = 0x8086, .device = (uint16_t) k,
                                      .class = 0x020000, .header_type = k % 8 == 0 ? 0x80 : 0,
                                      .group = (int64_t) (k / 4), .driver = k % 3 == 0 ? "e1000e" : NULL });
        }
        assert_int_equal(proc_tree_add_fd(f->proc, 9, "qemu", 3, "/dev/vfio/100"), 0);

        _cleanup_model_ Model *m = scan(f);
        assert_int_equal(m->n_devices, n);
        assert_int_equal(m->n_groups, n / 4);
        assert_int_equal(m->n_skipped, 0);
        for (size_t k = 0; k < n; k++) {
                assert_int_equal(m->devices[k].id.device, k);
                assert_int_equal(m->devices[k].multifunction, k % 8 == 0);
                if (k > 0)
                        assert_true(strcmp(m->devices[k - 1].id.address, m->devices[k].id.address) < 0);
        }
        for (size_t g = 0; g < m->n_groups; g++) {
                assert_int_equal(m->groups[g].number, g);
                assert_int_equal(m->groups[g].n_members, 4);
                for (size_t i = 0; i < 4; i++)
                        assert_int_equal(m->groups[g].members[i], 4 * g + i);
                /* Four consecutive numbers always include a multiple of 3: every group has an e1000e. */
                assert_int_equal(m->groups[g].owner, g == 100 ? DMA_OWNER_USER : DMA_OWNER_KERNEL);
        }
        assert_equals_fresh_scan(f, m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_bridge_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bridge_without_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_single_device_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_multifunction_same_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_multifunction_separate_groups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sriov, setup, teardown),
                cmocka_unit_test_setup_teardown(test_driver_override_parsing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_driver_parsing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_owner_user_group_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_owner_user_cdev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kernel_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refresh_keeps_header_type, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_tree, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ids_from_attributes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_model_equal, setup, teardown),
                cmocka_unit_test(test_in_memory),
                cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_large_tree, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
