/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for event_from_uevent() (daemon/monitor.c): the input is split at NUL bytes into ACTION,
 * sysname and DRIVER (a missing part is NULL). Whatever it is, the translation either refuses it or yields an Event
 * whose address and driver passed validation, so nothing unvalidated reaches a path or the bus. */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *parts[3] = {};
        char *copy = malloc(size + 1);
        size_t n = 0, start = 0;
        Event e;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = '\0';
        for (size_t i = 0; i <= size && n < 3; i++)
                if (i == size || copy[i] == '\0') {
                        copy[i] = '\0';
                        parts[n++] = copy + start;
                        start = i + 1;
                }

        memset(&e, 0xaa, sizeof(e));
        int r = event_from_uevent(parts[0], parts[1], parts[2], &e);
        if (r >= 0) {
                assert(pci_address_is_valid(e.address));
                assert(strcmp(e.address, parts[1]) == 0);
                assert(e.driver[0] == '\0' || driver_name_is_valid(e.driver));
                assert(e.group == -1);
                assert(e.kind != EVENT_BIND || e.driver[0] != '\0');
        } else
                assert(r == -EINVAL || r == -EOPNOTSUPP);
        free(copy);
        return 0;
}
