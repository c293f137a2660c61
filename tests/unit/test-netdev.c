/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dma-ownerd/macro.h"
#include "netdev.h"
#include "sysfs-tree.h"

static int setup(void **state) {
        char *root = NULL;
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

static Netdev *fake(const char *root, const char *contents) {
        _cleanup_free_ char *path = NULL;
        Netdev *n = NULL;

        assert_int_equal(sysfs_tree_write(root, "netstate", contents), 0);
        assert_true(asprintf(&path, "%s/netstate", root) > 0);
        assert_int_equal(netdev_new_fake(path, &n), 0);
        assert_non_null(n);
        return n;
}

static NetInterface query(Netdev *n, const char *name) {
        NetInterface i = { .up = true, .has_address = true, .default_route = true }; /* must be overwritten */
        assert_true(strlen(name) < sizeof(i.name));
        strcpy(i.name, name);
        assert_int_equal(netdev_query(n, &i), 0);
        return i;
}

static void test_fake_source(void **state) {
        Netdev *n = fake(*state,
                         "# name and flags\n"
                         "eth0 up address\n"
                         "\n"
                         "wlan0 up\n"
                         "br0 default-route\n"
                         "  lo   up\taddress  \n"
                         "ens1 address\n"
                         "wg0 up address default-route\n"
                         "eth9 up\n"
                         "eth9\n");

        NetInterface i = query(n, "eth0");
        assert_true(i.up);
        assert_true(i.has_address);
        assert_false(i.default_route);
        assert_true(net_interface_in_use(&i));

        i = query(n, "wlan0");
        assert_true(i.up);
        assert_false(i.has_address);
        assert_false(i.default_route);
        assert_false(net_interface_in_use(&i));

        i = query(n, "br0");
        assert_false(i.up);
        assert_false(i.has_address);
        assert_true(i.default_route);
        assert_true(net_interface_in_use(&i));

        i = query(n, "lo");
        assert_true(i.up && i.has_address && !i.default_route);

        i = query(n, "ens1");
        assert_false(i.up);
        assert_true(i.has_address);
        assert_false(net_interface_in_use(&i));

        i = query(n, "wg0");
        assert_true(i.up && i.has_address && i.default_route);

        /* The later line wins. */
        i = query(n, "eth9");
        assert_false(i.up || i.has_address || i.default_route);

        /* Unknown and invalid names read all false. */
        i = query(n, "eth1");
        assert_false(i.up || i.has_address || i.default_route);
        i = query(n, "");
        assert_false(i.up || i.has_address || i.default_route);
        i = query(n, "bad/name");
        assert_false(i.up || i.has_address || i.default_route);

        assert_int_equal(netdev_query(n, NULL), -EINVAL);

        /* The one-link question: up, or (the fake only) a route on a down link; unknown and invalid names are down. */
        const struct {
                const char *name;
                bool up;
        } links[] = { { "eth0", true }, { "wlan0", true }, { "br0", true }, { "ens1", false }, { "eth9", false },
                      { "eth1", false }, { "", false }, { "bad/name", false } };
        for (size_t k = 0; k < ELEMENTSOF(links); k++) {
                bool up = !links[k].up;
                assert_int_equal(netdev_link_up(n, links[k].name, &up), 0);
                assert_int_equal(up, links[k].up);
        }
        bool up;
        assert_int_equal(netdev_link_up(n, NULL, &up), -EINVAL);
        assert_int_equal(netdev_link_up(NULL, "eth0", &up), -EINVAL);
        assert_null(netdev_free(n));
}

static void test_fake_errors(void **state) {
        const char *root = *state;
        _cleanup_free_ char *path = NULL;
        Netdev *n = NULL;

        assert_int_equal(netdev_new_fake("/nonexistent-dma-ownerd/netstate", &n), -ENOENT);
        assert_null(n);

        assert_true(asprintf(&path, "%s/netstate", root) > 0);
        static const char *const bad[] = {
                "eth0 up sideways\n",                 /* unknown flag */
                "averyveryverylongname up\n",         /* longer than IFNAMSIZ - 1 */
                "bad\x01name up\n",                   /* control character */
                "..\n",                               /* not a name */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(sysfs_tree_write(root, "netstate", bad[i]), 0);
                assert_int_equal(netdev_new_fake(path, &n), -EINVAL);
                assert_null(n);
        }

        /* An empty file is a host without interfaces. */
        assert_int_equal(sysfs_tree_write(root, "netstate", ""), 0);
        assert_int_equal(netdev_new_fake(path, &n), 0);
        NetInterface i = query(n, "eth0");
        assert_false(i.up || i.has_address || i.default_route);
        netdev_free(n);
}

static void test_host_loopback(void **state) {
        Netdev *n = NULL;

        /* Read-only netlink dumps of this host: lo is up and holds 127.0.0.1. */
        assert_int_equal(netdev_new(&n), 0);
        NetInterface lo = query(n, "lo");
        assert_true(lo.up);
        assert_true(lo.has_address);
        assert_true(net_interface_in_use(&lo));

        NetInterface none = query(n, "dmaownerd-none");
        assert_false(none.up || none.has_address || none.default_route);

        /* One link asked of the kernel, without a dump. */
        bool up = false;
        assert_int_equal(netdev_link_up(n, "lo", &up), 0);
        assert_true(up);
        assert_int_equal(netdev_link_up(n, "dmaownerd-none", &up), 0);
        assert_false(up);

        /* A refresh takes a new snapshot: the queries after it answer the same. */
        assert_int_equal(netdev_refresh(n), 0);
        lo = query(n, "lo");
        assert_true(lo.up && lo.has_address);
        assert_int_equal(netdev_refresh(NULL), -EINVAL);
        netdev_free(n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fake_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fake_errors, setup, teardown),
                cmocka_unit_test(test_host_loopback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
