/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure uevent translation, and the real libudev monitor fed through umockdev's preload library.
 *
 * The preload library turns the monitor's NETLINK_KOBJECT_UEVENT socket into an AF_UNIX datagram socket bound at
 * $UMOCKDEV_DIR/event<fd>, so this test can hand it uevents without emitting a single one on the host. main()
 * re-executes the test with the preload library and a private UMOCKDEV_DIR; when the library is missing, the
 * monitor tests skip. udev_monitor_receive_device() is interposed below to inject ENOBUFS, which a Unix socket never
 * reports. */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "dma-ownerd/macro.h"
#include "monitor.h"

#define ENV_OWNED_DIR "DMA_OWNERD_TEST_MONITOR_OWNS_DIR"

/* ---- interposition: fail the next receives with ENOBUFS on demand ---- */

static unsigned inject_enobufs;

struct udev_device *udev_monitor_receive_device(struct udev_monitor *udev_monitor) {
        static struct udev_device *(*real)(struct udev_monitor *);

        if (inject_enobufs > 0) {
                inject_enobufs--;
                errno = ENOBUFS;
                return NULL;
        }

        if (!real) {
                real = (struct udev_device *(*)(struct udev_monitor *)) dlsym(RTLD_NEXT, "udev_monitor_receive_device");
                if (!real)
                        abort();
        }
        return real(udev_monitor);
}

/* ---- event_from_uevent ---- */

static void check_valid(const char *action, const char *sysname, const char *driver, EventKind kind,
                        const char *want_driver) {
        Event e;

        memset(&e, 0x55, sizeof(e));
        assert_int_equal(event_from_uevent(action, sysname, driver, &e), 0);
        assert_int_equal(e.kind, kind);
        assert_string_equal(e.address, sysname);
        assert_string_equal(e.driver, want_driver);
        assert_int_equal(e.group, -1);
}

static void test_event_valid(void **state) {
        check_valid("add", "0000:00:03.0", NULL, EVENT_ADD, "");
        check_valid("add", "0000:00:03.0", "e1000", EVENT_ADD, "");
        check_valid("remove", "0000:00:1f.7", NULL, EVENT_REMOVE, "");
        check_valid("change", "ffff:ff:1f.7", "e1000", EVENT_CHANGE, "");
        check_valid("bind", "0000:00:03.0", "e1000", EVENT_BIND, "e1000");
        check_valid("bind", "0000:3a:00.1", "vfio-pci", EVENT_BIND, "vfio-pci");
        check_valid("unbind", "0000:00:03.0", "e1000", EVENT_UNBIND, "e1000");
        /* After an unbind the driver link is gone; libudev falls back to it when DRIVER= is absent. */
        check_valid("unbind", "0000:00:03.0", NULL, EVENT_UNBIND, "");
        check_valid("unbind", "0000:00:03.0", "", EVENT_UNBIND, "");
        check_valid("add", "0000:00:03.0", "", EVENT_ADD, "");

        /* Names that look odd but are valid kernel driver names. */
        check_valid("bind", "0000:00:03.0", "...", EVENT_BIND, "...");
        check_valid("bind", "0000:00:03.0", ".x", EVENT_BIND, ".x");
        check_valid("bind", "0000:00:03.0", "a:b_c-d.e+f", EVENT_BIND, "a:b_c-d.e+f");

        char longest[DRIVER_NAME_MAX + 1];
        memset(longest, 'd', DRIVER_NAME_MAX);
        longest[DRIVER_NAME_MAX] = '\0';
        check_valid("bind", "0000:00:03.0", longest, EVENT_BIND, longest);
}

static void check_result(const char *action, const char *sysname, const char *driver, int want) {
        Event e, sentinel;

        memset(&e, 0x5a, sizeof(e));
        sentinel = e;
        assert_int_equal(event_from_uevent(action, sysname, driver, &e), want);
        /* ret_* is only written on success. */
        assert_memory_equal(&e, &sentinel, sizeof(e));
}

static void test_event_actions(void **state) {
        check_result(NULL, "0000:00:03.0", NULL, -EINVAL);
        check_result(NULL, NULL, NULL, -EINVAL);
        check_result("move", "0000:00:03.0", NULL, -EOPNOTSUPP);
        check_result("online", "0000:00:03.0", NULL, -EOPNOTSUPP);
        check_result("offline", "0000:00:03.0", NULL, -EOPNOTSUPP);
        check_result("", "0000:00:03.0", NULL, -EOPNOTSUPP);
        check_result("ADD", "0000:00:03.0", NULL, -EOPNOTSUPP);
        check_result("add ", "0000:00:03.0", NULL, -EOPNOTSUPP);
        check_result("bin", "0000:00:03.0", "e1000", -EOPNOTSUPP);
        assert_int_equal(event_from_uevent("add", "0000:00:03.0", NULL, NULL), -EINVAL);
}

static void test_event_bad_address(void **state) {
        static const char *const bad[] = {
                "",
                "0",
                "0000:00:03",
                "0000:00:03.",
                "0000:00:03.0 ",
                " 0000:00:03.0",
                "0000:00:03.0\n",
                "0000:00:03.8",
                "0000:00:03.9",
                "0000:00:20.0", /* device numbers end at 0x1f */
                "0000:00:2f.0",
                "0000:00:ff.0",
                "0000:00:1F.0", /* sysfs spells hex in lower case */
                "0000:0A:00.0",
                "ABCD:00:00.0",
                "0000:00:03.a",
                "000:00:03.0",
                "00000:00:03.0",
                "10000:00:03.0",
                "0000:000:03.0",
                "0000-00-03.0",
                "0000:00:03:0",
                "0000.00:03.0",
                "g000:00:03.0",
                "0000:0g:03.0",
                "0000:00:03.0/..",
                "../0000:00:03.0",
                "../../etc/pas",
                "..",
                "0000:00:03.0.0",
                "pci0000:00",
                "0000:00:03.0-1",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                check_result("add", bad[i], NULL, -EINVAL);
                check_result("bind", bad[i], "e1000", -EINVAL);
        }
        check_result("add", NULL, NULL, -EINVAL);
        check_result("bind", NULL, "e1000", -EINVAL);

        /* A long NUL-free string must be rejected without reading past what validation needs. */
        _cleanup_free_ char *huge = malloc(1 << 16);
        assert_non_null(huge);
        memset(huge, '0', (1 << 16) - 1);
        huge[(1 << 16) - 1] = '\0';
        check_result("add", huge, NULL, -EINVAL);
        memcpy(huge, "0000:00:03.0", 12); /* valid prefix, then more */
        check_result("add", huge, NULL, -EINVAL);

        /* The action is checked before the address: an ignored action with a bad address is still ignored. */
        check_result("move", "../x", NULL, -EOPNOTSUPP);
}

static void test_event_bad_driver(void **state) {
        static const char *const bad[] = {
                ".",
                "..",
                "../e1000",
                "e1000/..",
                "/",
                "e1000/x",
                "with space",
                " e1000",
                "e1000\n",
                "tab\there",
                "\x7f",
                "e1000\x7f",
                "\x80",
                "caf\xc3\xa9",
                "\x1b[31m",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                check_result("bind", "0000:00:03.0", bad[i], -EINVAL);
                check_result("unbind", "0000:00:03.0", bad[i], -EINVAL);
                check_result("add", "0000:00:03.0", bad[i], -EINVAL);
        }

        /* A bind always names its driver. */
        check_result("bind", "0000:00:03.0", NULL, -EINVAL);
        check_result("bind", "0000:00:03.0", "", -EINVAL);

        char too_long[DRIVER_NAME_MAX + 2];
        memset(too_long, 'd', DRIVER_NAME_MAX + 1);
        too_long[DRIVER_NAME_MAX + 1] = '\0';
        check_result("bind", "0000:00:03.0", too_long, -EINVAL);

        _cleanup_free_ char *huge = malloc(1 << 16);
        assert_non_null(huge);
        memset(huge, 'd', (1 << 16) - 1);
        huge[(1 << 16) - 1] = '\0';
        check_result("bind", "0000:00:03.0", huge, -EINVAL);
}

static void test_source_strings(void **state) {
        MonitorSource s;

        assert_string_equal(monitor_source_to_string(MONITOR_SOURCE_AUTO), "auto");
        assert_string_equal(monitor_source_to_string(MONITOR_SOURCE_UDEV), "udev");
        assert_string_equal(monitor_source_to_string(MONITOR_SOURCE_KERNEL), "kernel");
        assert_null(monitor_source_to_string((MonitorSource) 3));
        assert_null(monitor_source_to_string((MonitorSource) -1));

        for (MonitorSource i = MONITOR_SOURCE_AUTO; i <= MONITOR_SOURCE_KERNEL; i++) {
                s = (MonitorSource) 77;
                assert_int_equal(monitor_source_from_string(monitor_source_to_string(i), &s), 0);
                assert_int_equal(s, i);
        }

        s = (MonitorSource) 77;
        assert_int_equal(monitor_source_from_string("Udev", &s), -EINVAL);
        assert_int_equal(monitor_source_from_string("", &s), -EINVAL);
        assert_int_equal(monitor_source_from_string("kernel ", &s), -EINVAL);
        assert_int_equal(monitor_source_from_string("netlink", &s), -EINVAL);
        assert_int_equal(monitor_source_from_string(NULL, &s), -EINVAL);
        assert_int_equal((int) s, 77);
        assert_int_equal(monitor_source_from_string("udev", NULL), -EINVAL);
}

/* ---- the real monitor, through umockdev ---- */

typedef struct Recorder {
        Event events[2048];
        size_t n;
        unsigned overflows;
        Monitor *monitor;
        size_t hold_after; /* hold the monitor from inside the callback after this many events; 0: never */
} Recorder;

static void record_event(const Event *e, void *userdata) {
        Recorder *r = userdata;

        assert_true(r->n < ELEMENTSOF(r->events));
        r->events[r->n++] = *e;
        if (r->hold_after > 0 && r->n == r->hold_after)
                monitor_hold(r->monitor);
}

static void record_overflow(void *userdata) {
        Recorder *r = userdata;
        r->overflows++;
}

typedef struct Harness {
        sd_event *loop;
        Monitor *monitor;
        Recorder rec;
        char socket_path[PATH_MAX];
        int fd; /* the monitor's socket, named by the preload library after it */
        int sender;
        unsigned long long seqnum;
} Harness;

static const char *umockdev_dir(void) {
        return getenv("UMOCKDEV_DIR");
}

/* Remove the sockets of monitors closed earlier: the preload library names a socket after its fd number, so the one
 * a new monitor binds is then the only one. */
static void remove_event_sockets(void) {
        DIR *d;
        struct dirent *de;

        d = opendir(umockdev_dir());
        assert_non_null(d);
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "event", 5) == 0)
                        assert_return_code(unlinkat(dirfd(d), de->d_name, 0), errno);
        closedir(d);
}

static int find_event_socket(char *ret_path, size_t size) {
        DIR *d;
        struct dirent *de;
        int fd = -1, n = 0;

        d = opendir(umockdev_dir());
        assert_non_null(d);
        while ((de = readdir(d))) {
                char *end;
                long v;

                if (strncmp(de->d_name, "event", 5) != 0)
                        continue;
                errno = 0;
                v = strtol(de->d_name + 5, &end, 10);
                if (errno != 0 || *end != '\0' || end == de->d_name + 5 || v < 0 || v > INT_MAX)
                        continue;
                assert_true((size_t) snprintf(ret_path, size, "%s/%s", umockdev_dir(), de->d_name) < size);
                fd = (int) v;
                n++;
        }
        closedir(d);

        return n == 1 ? fd : -1;
}

static int harness_setup(void **state, MonitorSource source) {
        Harness *h;

        /* Without the preload library a monitor would be a real netlink socket: the tests below would then wait
         * for uevents that never come. (Nothing is ever sent to netlink either way.) */
        if (!umockdev_dir() || !getenv(ENV_OWNED_DIR)) {
                *state = NULL;
                return 0;
        }

        h = calloc(1, sizeof(Harness));
        assert_non_null(h);
        h->fd = h->sender = -1;

        remove_event_sockets();
        assert_int_equal(sd_event_new(&h->loop), 0);
        assert_int_equal(monitor_new(h->loop, source, "/nonexistent/udev/control", record_event, record_overflow,
                                     &h->rec, &h->monitor), 0);
        h->rec.monitor = h->monitor;

        h->fd = find_event_socket(h->socket_path, sizeof(h->socket_path));
        if (h->fd < 0) {
                /* The preload library is not active (not installed?): nothing to feed the monitor with. */
                monitor_free(h->monitor);
                sd_event_unref(h->loop);
                free(h);
                *state = NULL;
                return 0;
        }

        h->sender = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_return_code(h->sender, errno);

        *state = h;
        return 0;
}

static int harness_setup_kernel(void **state) {
        return harness_setup(state, MONITOR_SOURCE_KERNEL);
}

static int harness_setup_udev(void **state) {
        return harness_setup(state, MONITOR_SOURCE_UDEV);
}

static int harness_teardown(void **state) {
        Harness *h = *state;

        if (!h)
                return 0;
        inject_enobufs = 0;
        monitor_free(h->monitor);
        sd_event_unref(h->loop);
        if (h->sender >= 0)
                close(h->sender);
        free(h);
        return 0;
}

static Harness *harness_get(void **state) {
        if (!*state)
                skip();
        return *state;
}

/* Run the loop until the monitor read everything we sent. The deadline only turns a hang into a failure. */
static void harness_pump(Harness *h) {
        for (unsigned i = 0; i < 10000; i++) {
                int pending = -1;

                assert_return_code(ioctl(h->fd, FIONREAD, &pending), errno);
                if (pending == 0)
                        return;
                assert_return_code(sd_event_run(h->loop, 1000), -errno);
        }
        fail_msg("the monitor did not drain its socket");
}

/* Send one uevent in the kernel's wire format, as the kernel's netlink broadcast carries it: "ACTION@DEVPATH",
 * then NUL-separated KEY=VALUE pairs. `extra` is one more raw NUL-terminated property, or NULL. */
static void harness_send_raw(Harness *h, const char *action, const char *devpath, const char *subsystem,
                             const char *driver) {
        char buf[4096];
        int n, len = 0;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        h->seqnum++;
        n = snprintf(buf, sizeof(buf), "%s@%s", action, devpath);
        assert_true(n > 0 && (size_t) n < sizeof(buf));
        len = n + 1;
#define APPEND(...)                                                                             \
        do {                                                                                    \
                n = snprintf(buf + len, sizeof(buf) - len, __VA_ARGS__);                        \
                assert_true(n > 0 && (size_t) n < sizeof(buf) - len);                           \
                len += n + 1;                                                                   \
        } while (0)
        APPEND("ACTION=%s", action);
        APPEND("DEVPATH=%s", devpath);
        APPEND("SUBSYSTEM=%s", subsystem);
        if (driver)
                APPEND("DRIVER=%s", driver);
        APPEND("SEQNUM=%llu", h->seqnum);
#undef APPEND

        assert_true(strlen(h->socket_path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, h->socket_path);

        for (unsigned i = 0; i < 10000; i++) {
                if (sendto(h->sender, buf, (size_t) len, 0, (struct sockaddr *) &sa, sizeof(sa)) == len)
                        return;
                /* The receiving queue is full (net.unix.max_dgram_qlen is small): let the monitor read. */
                assert_int_equal(errno, EAGAIN);
                assert_return_code(sd_event_run(h->loop, 1000), -errno);
        }
        fail_msg("could not send to the monitor");
}

static void harness_send(Harness *h, const char *action, const char *address, const char *driver) {
        char devpath[256];

        assert_true((size_t) snprintf(devpath, sizeof(devpath), "/devices/pci0000:00/%s", address) < sizeof(devpath));
        harness_send_raw(h, action, devpath, "pci", driver);
}

static void assert_event(const Event *e, EventKind kind, const char *address, const char *driver) {
        assert_int_equal(e->kind, kind);
        assert_string_equal(e->address, address);
        assert_string_equal(e->driver, driver);
        assert_int_equal(e->group, -1);
}

static void test_monitor_delivers(void **state) {
        Harness *h = harness_get(state);

        assert_int_equal(monitor_get_source(h->monitor), MONITOR_SOURCE_KERNEL);

        harness_send(h, "add", "0000:00:03.0", NULL);
        harness_send(h, "bind", "0000:00:03.0", "e1000");
        harness_send(h, "unbind", "0000:00:03.0", "e1000");
        harness_send(h, "change", "0000:00:04.0", NULL);
        harness_send(h, "remove", "0000:00:03.0", NULL);
        harness_pump(h);

        assert_int_equal(h->rec.n, 5);
        assert_event(&h->rec.events[0], EVENT_ADD, "0000:00:03.0", "");
        assert_event(&h->rec.events[1], EVENT_BIND, "0000:00:03.0", "e1000");
        assert_event(&h->rec.events[2], EVENT_UNBIND, "0000:00:03.0", "e1000");
        assert_event(&h->rec.events[3], EVENT_CHANGE, "0000:00:04.0", "");
        assert_event(&h->rec.events[4], EVENT_REMOVE, "0000:00:03.0", "");
        assert_int_equal(h->rec.overflows, 0);
}

static void test_monitor_udev_source(void **state) {
        Harness *h = harness_get(state);

        assert_int_equal(monitor_get_source(h->monitor), MONITOR_SOURCE_UDEV);
        harness_send(h, "bind", "0000:00:03.0", "vfio-pci");
        harness_pump(h);
        assert_int_equal(h->rec.n, 1);
        assert_event(&h->rec.events[0], EVENT_BIND, "0000:00:03.0", "vfio-pci");
}

static void test_monitor_drops_junk(void **state) {
        Harness *h = harness_get(state);

        /* Another subsystem: filtered by libudev. */
        harness_send_raw(h, "add", "/devices/pci0000:00/0000:00:03.0/usb1", "usb", NULL);
        /* Ignored actions. */
        harness_send(h, "move", "0000:00:03.0", NULL);
        harness_send(h, "online", "0000:00:03.0", NULL);
        /* Malformed names and drivers. */
        harness_send(h, "add", "0000:00:20.0", NULL);
        harness_send(h, "add", "0000:00:1F.0", NULL);
        harness_send(h, "add", "0000:00:03.0.0", NULL);
        harness_send(h, "bind", "0000:00:03.0", "..");
        harness_send(h, "bind", "0000:00:03.0", "x\x1b[0m");
        harness_send_raw(h, "add", "/devices/pci0000:00/..", "pci", NULL);
        harness_send_raw(h, "add", "/", "pci", NULL);
        /* Not a uevent at all. */
        {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                static const char garbage[] = "this is not a uevent, but long enough to be read as one";
                strcpy(sa.sun_path, h->socket_path);
                assert_int_equal(sendto(h->sender, garbage, sizeof(garbage), 0, (struct sockaddr *) &sa, sizeof(sa)),
                                 (ssize_t) sizeof(garbage));
        }
        /* The one good event behind them all. */
        harness_send(h, "add", "0000:00:05.0", NULL);
        harness_pump(h);

        assert_int_equal(h->rec.n, 1);
        assert_event(&h->rec.events[0], EVENT_ADD, "0000:00:05.0", "");
        assert_int_equal(h->rec.overflows, 0);
}

static void test_monitor_hold_release(void **state) {
        Harness *h = harness_get(state);

        monitor_hold(h->monitor);
        harness_send(h, "add", "0000:00:03.0", NULL);
        harness_send(h, "bind", "0000:00:03.0", "e1000");
        harness_send(h, "add", "0000:00:04.0", NULL);
        harness_pump(h);
        assert_int_equal(h->rec.n, 0);

        monitor_release(h->monitor);
        assert_int_equal(h->rec.n, 3);
        assert_event(&h->rec.events[0], EVENT_ADD, "0000:00:03.0", "");
        assert_event(&h->rec.events[1], EVENT_BIND, "0000:00:03.0", "e1000");
        assert_event(&h->rec.events[2], EVENT_ADD, "0000:00:04.0", "");

        /* Released: the next event goes straight through. A second release is harmless. */
        monitor_release(h->monitor);
        assert_int_equal(h->rec.n, 3);
        harness_send(h, "remove", "0000:00:04.0", NULL);
        harness_pump(h);
        assert_int_equal(h->rec.n, 4);
        assert_event(&h->rec.events[3], EVENT_REMOVE, "0000:00:04.0", "");
        assert_int_equal(h->rec.overflows, 0);
}

static void test_monitor_hold_from_callback(void **state) {
        Harness *h = harness_get(state);

        monitor_hold(h->monitor);
        for (unsigned i = 0; i < 5; i++) {
                char address[PCI_ADDRESS_STRLEN];
                snprintf(address, sizeof(address), "0000:00:%02x.0", i);
                harness_send(h, "add", address, NULL);
        }
        harness_pump(h);

        /* The callback holds again after the second event: delivery stops there, in order, and goes on at the
         * next release, with what arrived in between behind it. */
        h->rec.hold_after = 2;
        monitor_release(h->monitor);
        assert_int_equal(h->rec.n, 2);

        harness_send(h, "add", "0000:00:1f.0", NULL);
        harness_pump(h);
        assert_int_equal(h->rec.n, 2);

        h->rec.hold_after = 0;
        monitor_release(h->monitor);
        assert_int_equal(h->rec.n, 6);
        for (unsigned i = 0; i < 5; i++) {
                char address[PCI_ADDRESS_STRLEN];
                snprintf(address, sizeof(address), "0000:00:%02x.0", i);
                assert_event(&h->rec.events[i], EVENT_ADD, address, "");
        }
        assert_event(&h->rec.events[5], EVENT_ADD, "0000:00:1f.0", "");
}

static void test_monitor_burst(void **state) {
        Harness *h = harness_get(state);
        const size_t n = 1500;

        monitor_hold(h->monitor);
        for (size_t i = 0; i < n; i++) {
                char address[PCI_ADDRESS_STRLEN];
                snprintf(address, sizeof(address), "%04zx:%02zx:%02zx.%zu", i >> 8, i & 0xff, i % 32, i % 8);
                harness_send(h, i % 2 ? "bind" : "add", address, i % 2 ? "e1000e" : NULL);
        }
        harness_pump(h);
        assert_int_equal(h->rec.n, 0);

        monitor_release(h->monitor);
        assert_int_equal(h->rec.n, n);
        for (size_t i = 0; i < n; i++) {
                char address[PCI_ADDRESS_STRLEN];
                snprintf(address, sizeof(address), "%04zx:%02zx:%02zx.%zu", i >> 8, i & 0xff, i % 32, i % 8);
                assert_event(&h->rec.events[i], i % 2 ? EVENT_BIND : EVENT_ADD, address, i % 2 ? "e1000e" : "");
        }

        /* And not held: straight through, still in order. */
        h->rec.n = 0;
        for (size_t i = 0; i < 100; i++)
                harness_send(h, "change", "0000:00:03.0", NULL);
        harness_pump(h);
        assert_int_equal(h->rec.n, 100);
        assert_int_equal(h->rec.overflows, 0);
}

static void test_monitor_overflow(void **state) {
        Harness *h = harness_get(state);

        /* Events still in the socket when the kernel reports the overflow are drained: the rescan covers them. */
        harness_send(h, "add", "0000:00:03.0", NULL);
        harness_send(h, "add", "0000:00:04.0", NULL);
        inject_enobufs = 1;
        harness_pump(h);
        assert_int_equal(h->rec.overflows, 1);
        assert_int_equal(h->rec.n, 0);

        /* Afterwards events flow again. */
        harness_send(h, "bind", "0000:00:03.0", "vfio-pci");
        harness_pump(h);
        assert_int_equal(h->rec.overflows, 1);
        assert_int_equal(h->rec.n, 1);
        assert_event(&h->rec.events[0], EVENT_BIND, "0000:00:03.0", "vfio-pci");

        /* Two reports in a row while draining still make one rescan. */
        harness_send(h, "add", "0000:00:05.0", NULL);
        inject_enobufs = 2;
        harness_pump(h);
        assert_int_equal(h->rec.overflows, 2);
        assert_int_equal(h->rec.n, 1);
}

static void test_monitor_overflow_while_held(void **state) {
        Harness *h = harness_get(state);

        monitor_hold(h->monitor);
        harness_send(h, "add", "0000:00:03.0", NULL);
        harness_pump(h);

        /* The overflow throws the queue away and asks for the rescan only at release, once. */
        inject_enobufs = 1;
        harness_send(h, "add", "0000:00:04.0", NULL);
        harness_pump(h);
        assert_int_equal(h->rec.overflows, 0);

        /* What arrives after the overflow is kept. */
        harness_send(h, "bind", "0000:00:05.0", "e1000");
        harness_pump(h);
        assert_int_equal(h->rec.n, 0);

        monitor_release(h->monitor);
        assert_int_equal(h->rec.overflows, 1);
        assert_int_equal(h->rec.n, 1);
        assert_event(&h->rec.events[0], EVENT_BIND, "0000:00:05.0", "e1000");

        monitor_release(h->monitor);
        assert_int_equal(h->rec.overflows, 1);
}

static void test_monitor_receive_buffer(void **state) {
        Harness *h = harness_get(state);
        int size = 0;
        socklen_t l = sizeof(size);

        assert_int_equal(monitor_set_receive_buffer_size(h->monitor, 4 * 1024 * 1024), 0);
        assert_return_code(getsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &size, &l), errno);
        /* The kernel doubles the value it is given (bookkeeping overhead). */
        assert_true(size >= 4 * 1024 * 1024);

        assert_int_equal(monitor_set_receive_buffer_size(h->monitor, 0), -EINVAL);
        assert_int_equal(monitor_set_receive_buffer_size(h->monitor, -1), -EINVAL);
        assert_int_equal(monitor_set_receive_buffer_size(NULL, 1024), -EINVAL);
}

static void test_monitor_auto_source(void **state) {
        _cleanup_free_ char *control = NULL;
        sd_event *loop = NULL;
        Monitor *m = NULL;
        int fd;

        if (!umockdev_dir() || !getenv(ENV_OWNED_DIR))
                skip();

        assert_int_equal(sd_event_new(&loop), 0);

        assert_int_equal(monitor_new(loop, MONITOR_SOURCE_AUTO, "/nonexistent/udev/control", NULL, NULL, NULL, &m),
                         0);
        assert_int_equal(monitor_get_source(m), MONITOR_SOURCE_KERNEL);
        m = monitor_free(m);
        assert_null(m);

        assert_true(asprintf(&control, "%s/control", umockdev_dir()) > 0);
        fd = open(control, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_return_code(fd, errno);
        close(fd);
        assert_int_equal(monitor_new(loop, MONITOR_SOURCE_AUTO, control, NULL, NULL, NULL, &m), 0);
        assert_int_equal(monitor_get_source(m), MONITOR_SOURCE_UDEV);
        monitor_free(m);
        assert_return_code(unlink(control), errno);

        m = (Monitor *) 0x1;
        assert_int_equal(monitor_new(loop, (MonitorSource) 7, NULL, NULL, NULL, NULL, &m), -EINVAL);
        assert_ptr_equal(m, (Monitor *) 0x1);
        assert_int_equal(monitor_new(NULL, MONITOR_SOURCE_KERNEL, NULL, NULL, NULL, NULL, &m), -EINVAL);
        assert_null(monitor_free(NULL));

        sd_event_unref(loop);
}

/* ---- re-execution under the preload library ---- */

static int rm_rf_dir(const char *path) {
        DIR *d;
        struct dirent *de;

        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
}

static void reexec_under_umockdev(char **argv) {
        _cleanup_free_ char *preload = NULL, *asan = NULL;
        char dir[] = "/tmp/test-monitor-XXXXXX";
        const char *old;

        if (getenv(ENV_OWNED_DIR) || getenv("UMOCKDEV_DIR"))
                return;

        if (!mkdtemp(dir))
                return;

        old = getenv("LD_PRELOAD");
        if (asprintf(&preload, "libumockdev-preload.so.0%s%s", old && *old ? ":" : "", old && *old ? old : "") < 0)
                return;
        /* The sanitizer runtime must otherwise come first in the library list; the preload library only needs to
         * see the socket calls. */
        old = getenv("ASAN_OPTIONS");
        if (asprintf(&asan, "%s%sverify_asan_link_order=0", old && *old ? old : "", old && *old ? ":" : "") < 0)
                return;

        if (setenv("UMOCKDEV_DIR", dir, 1) < 0 || setenv(ENV_OWNED_DIR, "1", 1) < 0 ||
            setenv("LD_PRELOAD", preload, 1) < 0 || setenv("ASAN_OPTIONS", asan, 1) < 0)
                return;

        (void) execv("/proc/self/exe", argv);

        /* Could not re-execute: run without the monitor tests. */
        (void) unsetenv("UMOCKDEV_DIR");
        (void) unsetenv(ENV_OWNED_DIR);
        (void) rmdir(dir);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_event_valid),
                cmocka_unit_test(test_event_actions),
                cmocka_unit_test(test_event_bad_address),
                cmocka_unit_test(test_event_bad_driver),
                cmocka_unit_test(test_source_strings),
                cmocka_unit_test_setup_teardown(test_monitor_delivers, harness_setup_kernel, harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_udev_source, harness_setup_udev, harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_drops_junk, harness_setup_kernel, harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_hold_release, harness_setup_kernel, harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_hold_from_callback, harness_setup_kernel,
                                                harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_burst, harness_setup_kernel, harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_overflow, harness_setup_kernel, harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_overflow_while_held, harness_setup_kernel,
                                                harness_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_receive_buffer, harness_setup_kernel, harness_teardown),
                cmocka_unit_test(test_monitor_auto_source),
        };
        int r;

        reexec_under_umockdev(argv);

        r = cmocka_run_group_tests(tests, NULL, NULL);

        if (getenv(ENV_OWNED_DIR) && umockdev_dir())
                (void) rm_rf_dir(umockdev_dir());

        return r;
}
