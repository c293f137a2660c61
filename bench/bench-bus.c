/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bench-bus: round trips of an sd-bus client to a running dma-ownerd (the system bus DBUS_SYSTEM_BUS_ADDRESS names,
 * a private one in bench/bench-list.sh): ListGroups 200 times, then Properties.GetAll(org.dmaownerd1.Group) on
 * every group it listed. Each call is timed from send to parsed reply.
 *
 * Last line: groups=G list_p50_usec=… list_p99_usec=… getall_p50_usec=… getall_p99_usec=… */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-bus.h>

#include "dma-ownerd/macro.h"

#define N_LIST_CALLS 200u
#define BUS_NAME "org.dmaownerd1"

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t percentile(uint64_t *v, size_t n, unsigned p) {
        size_t i = (n * p + 99) / 100;

        qsort(v, n, sizeof(uint64_t), compare_u64);
        return v[i > 0 ? i - 1 : 0];
}

/* One ListGroups; the object paths are returned when `ret_paths` is given. */
static int list_groups(sd_bus *bus, char ***ret_paths, size_t *ret_n) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char **paths = NULL;
        size_t n = 0, allocated = 0;
        const char *path;
        uint32_t number;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, "/org/dmaownerd1", "org.dmaownerd1.Manager", "ListGroups", &error,
                               &reply, NULL);
        if (r < 0) {
                fprintf(stderr, "ListGroups: %s\n", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(uo)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(uo)", &number, &path)) > 0) {
                if (ret_paths) {
                        if (n == allocated) {
                                size_t want = allocated ? 2 * allocated : 256;
                                char **p = reallocarray(paths, want, sizeof(char *));
                                if (!p)
                                        return -ENOMEM;
                                paths = p;
                                allocated = want;
                        }
                        paths[n] = strdup(path);
                        if (!paths[n])
                                return -ENOMEM;
                }
                n++;
        }
        if (r < 0)
                return r;
        if (ret_paths)
                *ret_paths = paths;
        *ret_n = n;
        return 0;
}

static int get_all(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply, "s",
                               "org.dmaownerd1.Group");
        if (r < 0) {
                fprintf(stderr, "GetAll %s: %s\n", path, error.message ?: strerror(-r));
                return r;
        }
        /* Walk the whole reply, as a client showing it would. */
        return sd_bus_message_skip(reply, "a{sv}");
}

int main(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint64_t list_usec[N_LIST_CALLS];
        _cleanup_free_ uint64_t *getall_usec = NULL;
        char **paths = NULL;
        size_t n_groups = 0;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "cannot connect to the system bus: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        r = list_groups(bus, &paths, &n_groups);
        if (r < 0 || n_groups == 0)
                return EXIT_FAILURE;

        for (size_t i = 0; i < N_LIST_CALLS; i++) {
                size_t n;
                uint64_t start = now_usec();

                r = list_groups(bus, NULL, &n);
                if (r < 0 || n != n_groups)
                        return EXIT_FAILURE;
                list_usec[i] = now_usec() - start;
        }

        getall_usec = calloc(n_groups, sizeof(uint64_t));
        if (!getall_usec)
                return EXIT_FAILURE;
        for (size_t i = 0; i < n_groups; i++) {
                uint64_t start = now_usec();

                r = get_all(bus, paths[i]);
                if (r < 0)
                        return EXIT_FAILURE;
                getall_usec[i] = now_usec() - start;
        }

        printf("groups=%zu list_p50_usec=%" PRIu64 " list_p99_usec=%" PRIu64 " getall_p50_usec=%" PRIu64
               " getall_p99_usec=%" PRIu64 "\n",
               n_groups, percentile(list_usec, N_LIST_CALLS, 50), percentile(list_usec, N_LIST_CALLS, 99),
               percentile(getall_usec, n_groups, 50), percentile(getall_usec, n_groups, 99));

        for (size_t i = 0; i < n_groups; i++)
                free(paths[i]);
        free(paths);
        return EXIT_SUCCESS;
}
