/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <string.h>

#include "bus-args.h"

int bus_args_parse_group_number(const char *s, unsigned *ret) {
        uint64_t v = 0;
        size_t n;

        if (!s || !ret)
                return -EINVAL;
        n = strnlen(s, 11);
        if (n == 0 || n > 10)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > INT32_MAX)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int bus_args_parse_target(const char *s, BusTarget *ret) {
        BusTarget t = {};

        if (!s || !ret)
                return -EINVAL;
        /* Bounded first: whatever the caller sent, at most BUS_ARGS_TARGET_MAX + 1 bytes are looked at. */
        if (strnlen(s, BUS_ARGS_TARGET_MAX + 1) > BUS_ARGS_TARGET_MAX)
                return -EINVAL;

        if (pci_address_is_valid(s)) {
                t.kind = BUS_TARGET_DEVICE;
                memcpy(t.address, s, PCI_ADDRESS_STRLEN);
        } else if (bus_args_parse_group_number(s, &t.group) >= 0)
                t.kind = BUS_TARGET_GROUP;
        else
                return -EINVAL;

        *ret = t;
        return 0;
}

int bus_args_check_flags(uint64_t flags, uint64_t known) {
        return flags & ~known ? -EINVAL : 0;
}

int bus_args_parse_mode(const char *s, int *ret) {
        if (!s || !ret)
                return -EINVAL;
        if (strcmp(s, "enforce") == 0)
                *ret = 0;
        else if (strcmp(s, "audit") == 0)
                *ret = 1;
        else
                return -EINVAL;
        return 0;
}
