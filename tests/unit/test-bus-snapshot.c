/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* daemon/bus-snapshot.c: the values a PropertiesChanged would carry, compared exactly, and the tables that keep them.
 * The getters write into real sd-bus messages; the bus is never connected to anything. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bus-snapshot.h"
#include "dma-ownerd/macro.h"

typedef struct Pair {
        uint32_t number;
        const char *text;
} Pair;

typedef struct Object {
        const char *name;
        const char *const *list;
        const Pair *pairs;
        size_t n_pairs;
        bool flag;
        uint64_t counter;
        uint16_t small;
        bool fail; /* the getters fail, as ours do when the object is gone */
} Object;

static int get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        if (o->fail)
                return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "gone");
        return sd_bus_message_append(reply, "s", o->name);
}

static int get_list(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append_strv(reply, (char **) o->list);
}

static int get_pairs(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "(us)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n_pairs; i++) {
                r = sd_bus_message_append(reply, "(us)", o->pairs[i].number, o->pairs[i].text);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int get_flag(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "b", o->flag);
}

static int get_counter(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "t", o->counter);
}

static int get_small(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "q", o->small);
}

static int get_variant(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        /* The same number as a different type is a different value. */
        if (o->flag)
                return sd_bus_message_append(reply, "v", "u", (uint32_t) o->small);
        return sd_bus_message_append(reply, "v", "q", o->small);
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Constant", "s", get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", get_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("List", "as", get_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Nothing", NULL, NULL, NULL, 0),
        SD_BUS_PROPERTY("Pairs", "a(us)", get_pairs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Flag", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Counter", "t", get_counter, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Small", "q", get_small, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("Variant", "v", get_variant, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

/* Name, List, Pairs, Flag, Counter, Variant: the properties that emit changes. */
#define N_CHANGING 6

static const sd_bus_vtable too_many_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("P1", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P2", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P3", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P4", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P5", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P6", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P7", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P8", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("P9", "b", get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

#define PATH "/org/dmaownerd1/test"
#define INTERFACE "org.dmaownerd1.Test"

typedef struct Fixture {
        sd_bus *bus;
        int peer;
} Fixture;

/* A bus that is "open" (its handshake started on one end of a socketpair) is all sd-bus needs to build messages. */
static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        int fds[2];

        assert_non_null(f);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        assert_int_equal(sd_bus_new(&f->bus), 0);
        assert_int_equal(sd_bus_set_fd(f->bus, fds[0], fds[0]), 0);
        assert_int_equal(sd_bus_start(f->bus), 0);
        f->peer = fds[1];
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        sd_bus_close_unref(f->bus);
        (void) close(f->peer);
        free(f);
        return 0;
}

static void take(Fixture *f, Object *o, BusSnapshot *ret) {
        assert_int_equal(bus_snapshot_take(f->bus, test_vtable, PATH, INTERFACE, o, ret), 0);
        assert_true(bus_snapshot_is_set(ret));
        assert_int_equal(ret->n_properties, N_CHANGING);
}

/* The names that differ between `o` as it was (`before`) and as it is now, as one comma-separated string. */
static char *changes(Fixture *f, const BusSnapshot *before, Object *o) {
        _cleanup_(bus_snapshot_done) BusSnapshot now = {};
        const char *names[BUS_SNAPSHOT_PROPERTIES_MAX + 1];
        char *out = strdup("");
        size_t n;

        take(f, o, &now);
        n = bus_snapshot_diff(test_vtable, before, &now, names);
        assert_null(names[n]);
        for (size_t i = 0; i < n; i++) {
                char *joined;
                assert_int_not_equal(asprintf(&joined, "%s%s%s", out, i > 0 ? "," : "", names[i]), -1);
                free(out);
                out = joined;
        }
        return out;
}

#define assert_changes(f, before, o, expected)                                                                     \
        do {                                                                                                       \
                _cleanup_free_ char *_c = changes((f), (before), (o));                                             \
                assert_string_equal(_c, (expected));                                                               \
        } while (0)

static const char *const list_ab_c[] = { "ab", "c", NULL };
static const char *const list_a_bc[] = { "a", "bc", NULL };
/* Without the lengths these two would encode alike: 's' is the type byte of a string. */
static const char *const list_as_c[] = { "as", "c", NULL };
static const char *const list_a_sc[] = { "a", "sc", NULL };
static const char *const list_empty[] = { NULL };
static const char *const list_one_empty[] = { "", NULL };

static void test_same_values_no_change(void **state) {
        Fixture *f = *state;
        const Pair pairs[] = { { 7, "qemu" } };
        Object o = { .name = "x", .list = list_ab_c, .pairs = pairs, .n_pairs = 1, .flag = true, .counter = 3 };
        _cleanup_(bus_snapshot_done) BusSnapshot before = {};

        take(f, &o, &before);
        assert_changes(f, &before, &o, "");
        /* Same values from other storage: compared by value, not by pointer. */
        char name[] = "x";
        o.name = name;
        assert_changes(f, &before, &o, "");
}

static void test_exactly_the_changed_names(void **state) {
        Fixture *f = *state;
        Object o = { .name = "x", .list = list_empty, .counter = 1 };
        _cleanup_(bus_snapshot_done) BusSnapshot before = {};

        take(f, &o, &before);
        o.flag = true;
        assert_changes(f, &before, &o, "Flag,Variant"); /* Variant switches from q to u with the flag */
        o.flag = false;
        o.counter = 2;
        assert_changes(f, &before, &o, "Counter");
        o.name = "y";
        assert_changes(f, &before, &o, "Name,Counter");
        /* A property that only invalidates is not compared, nor is a constant one. */
        o.name = "x";
        o.counter = 1;
        o.small = 9;
        assert_changes(f, &before, &o, "Variant");
}

static void test_boundaries_are_part_of_the_value(void **state) {
        Fixture *f = *state;
        const Pair one[] = { { 1, "ab" } }, two[] = { { 1, "a" }, { 0, "b" } }, other_number[] = { { 2, "ab" } };
        Object o = { .name = "x", .list = list_ab_c, .pairs = one, .n_pairs = 1 };
        _cleanup_(bus_snapshot_done) BusSnapshot before = {}, empty = {};

        take(f, &o, &before);
        o.list = list_a_bc;
        assert_changes(f, &before, &o, "List");
        o.list = list_ab_c;
        o.pairs = two;
        o.n_pairs = 2;
        assert_changes(f, &before, &o, "Pairs");
        o.pairs = other_number;
        o.n_pairs = 1;
        assert_changes(f, &before, &o, "Pairs");

        o.list = list_as_c;
        o.pairs = one;
        bus_snapshot_done(&before);
        take(f, &o, &before);
        o.list = list_a_sc;
        assert_changes(f, &before, &o, "List");

        o.list = list_empty;
        take(f, &o, &empty);
        o.list = list_one_empty;
        assert_changes(f, &empty, &o, "List");
}

static void test_unset_means_all(void **state) {
        Fixture *f = *state;
        Object o = { .name = "x", .list = list_empty };
        BusSnapshot unset = {};

        assert_false(bus_snapshot_is_set(&unset));
        assert_changes(f, &unset, &o, "Name,List,Pairs,Flag,Counter,Variant");
}

static void test_failures(void **state) {
        Fixture *f = *state;
        Object o = { .name = "x", .list = list_empty, .fail = true };
        BusSnapshot s = { .n_properties = 42 };

        assert_int_equal(bus_snapshot_take(f->bus, test_vtable, PATH, INTERFACE, &o, &s), -EBADR); /* UnknownObject */
        assert_null(s.data); /* untouched on failure */
        assert_int_equal(s.n_properties, 42);

        o.fail = false;
        assert_int_equal(bus_snapshot_take(f->bus, too_many_vtable, PATH, INTERFACE, &o, &s), -E2BIG);
        assert_null(s.data);
}

static void test_take_over(void **state) {
        Fixture *f = *state;
        Object o = { .name = "x", .list = list_empty };
        _cleanup_(bus_snapshot_done) BusSnapshot a = {}, b = {};

        take(f, &o, &a);
        b = bus_snapshot_take_over(&a);
        assert_false(bus_snapshot_is_set(&a));
        assert_true(bus_snapshot_is_set(&b));
        assert_changes(f, &b, &o, "");
}

static void test_table(void **state) {
        Fixture *f = *state;
        Object o = { .name = "x", .list = list_empty };
        _cleanup_(bus_snapshot_table_done) BusSnapshotTable t = {};
        BusSnapshotEntry *e;

        /* Out of order, with a duplicate: the table keeps one entry per key, sorted. */
        const uint64_t keys[] = { 30, 10, 20, 10, 40 };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                assert_int_equal(bus_snapshot_table_ensure(&t, keys[i], &e), 0);
                assert_int_equal(e->key, keys[i]);
                if (!bus_snapshot_is_set(&e->snapshot)) {
                        assert_int_equal(e->group, -1);
                        take(f, &o, &e->snapshot);
                        e->group = (int64_t) keys[i] / 10;
                }
        }
        assert_int_equal(t.n, 4);
        for (size_t i = 0; i < t.n; i++)
                assert_int_equal(t.entries[i].key, (i + 1) * 10);
        assert_null(bus_snapshot_table_find(&t, 25));
        e = bus_snapshot_table_find(&t, 20);
        assert_non_null(e);
        assert_int_equal(e->group, 2);

        bus_snapshot_table_remove(&t, 20);
        bus_snapshot_table_remove(&t, 20); /* absent: nothing happens */
        assert_int_equal(t.n, 3);
        assert_null(bus_snapshot_table_find(&t, 20));

        bus_snapshot_table_clear_seen(&t);
        bus_snapshot_table_find(&t, 40)->seen = true;
        assert_int_equal(bus_snapshot_table_sweep(&t), 2);
        assert_int_equal(t.n, 1);
        assert_int_equal(t.entries[0].key, 40);
        assert_int_equal(t.entries[0].group, 4);
}

static void test_table_memory_follows_objects(void **state) {
        _cleanup_(bus_snapshot_table_done) BusSnapshotTable t = {};
        BusSnapshotEntry *e;

        /* The bench size: 4096 devices, most of which then go away. */
        for (uint64_t k = 0; k < 4096; k++)
                assert_int_equal(bus_snapshot_table_ensure(&t, k, &e), 0);
        assert_int_equal(t.n, 4096);
        assert_int_equal(t.allocated, 4096);

        bus_snapshot_table_clear_seen(&t);
        for (uint64_t k = 0; k < 4096; k += 1024)
                bus_snapshot_table_find(&t, k)->seen = true;
        assert_int_equal(bus_snapshot_table_sweep(&t), 4092);
        assert_int_equal(t.n, 4);
        assert_int_equal(t.allocated, 16);

        for (uint64_t k = 0; k < 4096; k += 1024)
                bus_snapshot_table_remove(&t, k);
        assert_int_equal(t.n, 0);
        assert_int_equal(t.allocated, 16);
}

static void test_device_key(void **state) {
        const char *ordered[] = { "0000:00:00.0", "0000:00:00.7", "0000:00:01.0", "0000:00:1f.7", "0000:01:00.0",
                                  "0000:ff:1f.7", "0001:00:00.0", "ffff:ff:1f.7" };
        uint64_t previous = 0, key;

        for (size_t i = 0; i < ELEMENTSOF(ordered); i++) {
                assert_int_equal(bus_snapshot_device_key(ordered[i], &key), 0);
                if (i > 0)
                        assert_true(key > previous);
                previous = key;
        }
        assert_int_equal(bus_snapshot_device_key("0000:02:00.1", &key), 0);
        assert_int_equal(key, 0x0201);
        assert_int_equal(bus_snapshot_device_key("abcd:12:1c.3", &key), 0);
        assert_int_equal(key, 0xabcdULL << 16 | 0x12 << 8 | 0x1c << 3 | 3);

        key = 77;
        for (const char *const *bad = (const char *const[]) { "", "0000:02:00.8", "0000:02:20.0", "0000:02:00.0 ",
                                                             "0000:0G:00.0", "../../etc", NULL };
             *bad; bad++)
                assert_int_equal(bus_snapshot_device_key(*bad, &key), -EINVAL);
        assert_int_equal(key, 77);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_same_values_no_change, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exactly_the_changed_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_boundaries_are_part_of_the_value, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unset_means_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_take_over, setup, teardown),
                cmocka_unit_test_setup_teardown(test_table, setup, teardown),
                cmocka_unit_test(test_table_memory_follows_objects),
                cmocka_unit_test(test_device_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
