/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The topology of the bus tests, written with tests/lib/sysfs-tree so it has the kernel's layout:
 *
 *   bus-mktree create                         print the new root (under $TMPDIR)
 *   bus-mktree set-driver ROOT ADDRESS DRIVER  re-point the driver link ("-" unbinds), as a bind would
 *   bus-mktree remove-device ROOT ADDRESS      as a hot unplug would
 *   bus-mktree add-device ROOT ADDRESS         put one of the devices below back, as a hotplug would
 *   bus-mktree destroy ROOT
 *
 * group 1: a PCIe root port on pcieport and two driverless endpoints behind it;
 * group 2: a NIC on e1000e with interface eth0. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma-ownerd/macro.h"
#include "sysfs-tree.h"

static const TreeDevice devices[] = {
        { .address = "0000:00:1c.0", .vendor = 0x8086, .device = 0xa110, .class = 0x060400,
          .header_type = 0x81, .group = 1, .driver = "pcieport" },
        { .address = "0000:01:00.0", .vendor = 0x10de, .device = 0x1eb8, .class = 0x030200,
          .header_type = 0x80, .group = 1 },
        { .address = "0000:01:00.1", .vendor = 0x10de, .device = 0x10f8, .class = 0x040300,
          .header_type = 0x80, .group = 1 },
        { .address = "0000:02:00.0", .vendor = 0x8086, .device = 0x10d3, .subsystem_vendor = 0x8086,
          .subsystem_device = 0xa01f, .class = 0x020000, .group = 2, .driver = "e1000e",
          .net = { "eth0" } },
};

static int create(void) {
        _cleanup_free_ char *root = NULL;
        int r;

        r = sysfs_tree_new(&root);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                r = sysfs_tree_add_device(root, &devices[i]);
                if (r < 0)
                        return r;
        }
        printf("%s\n", root);
        return 0;
}

static int add_device(const char *root, const char *address) {
        for (size_t i = 0; i < ELEMENTSOF(devices); i++)
                if (strcmp(devices[i].address, address) == 0)
                        return sysfs_tree_add_device(root, &devices[i]);
        return -ENOENT;
}

int main(int argc, char *argv[]) {
        int r;

        if (argc == 2 && strcmp(argv[1], "create") == 0)
                r = create();
        else if (argc == 5 && strcmp(argv[1], "set-driver") == 0)
                r = sysfs_tree_set_driver(argv[2], argv[3], strcmp(argv[4], "-") == 0 ? NULL : argv[4]);
        else if (argc == 4 && strcmp(argv[1], "remove-device") == 0)
                r = sysfs_tree_remove_device(argv[2], argv[3]);
        else if (argc == 4 && strcmp(argv[1], "add-device") == 0)
                r = add_device(argv[2], argv[3]);
        else if (argc == 3 && strcmp(argv[1], "destroy") == 0)
                r = sysfs_tree_destroy(argv[2]);
        else {
                fprintf(stderr, "usage: %s create | set-driver ROOT ADDRESS DRIVER|- | remove-device ROOT ADDRESS |\n"
                                "       add-device ROOT ADDRESS | destroy ROOT\n", argv[0]);
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        return 0;
}
