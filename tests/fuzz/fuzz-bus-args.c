/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the validation of what D-Bus callers send (daemon/bus-args.c): targets, group numbers,
 * flags, modes, and object paths as the Device and Group objects decode them (sd_bus_path_decode, then the same
 * checks). The first byte picks the function, the rest is the argument. Accepted values must round-trip. */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-args.h"
#include "dma-ownerd/bus-names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s;

        if (size < 1)
                return 0;
        s = malloc(size);
        if (!s)
                return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';

        switch (data[0] % 5) {
        case 0: {
                BusTarget t;
                if (bus_args_parse_target(s, &t) >= 0) {
                        if (t.kind == BUS_TARGET_DEVICE) {
                                assert(pci_address_is_valid(t.address));
                                assert(strcmp(t.address, s) == 0);
                        } else {
                                assert(t.kind == BUS_TARGET_GROUP && t.group <= INT32_MAX);
                                /* Leading zeros are accepted ("007"), so compare numerically. */
                                assert(strtoul(s, NULL, 10) == t.group);
                        }
                }
                break;
        }
        case 1: {
                unsigned g;
                if (bus_args_parse_group_number(s, &g) >= 0) {
                        assert(g <= INT32_MAX);
                        for (const char *p = s; *p; p++)
                                assert(*p >= '0' && *p <= '9');
                }
                break;
        }
        case 2: {
                uint64_t flags = 0;
                memcpy(&flags, data + 1, size - 1 < sizeof(flags) ? size - 1 : sizeof(flags));
                int r = bus_args_check_flags(flags, DMAOWNERD_ASSIGN_FLAGS_ALL);
                assert((r == 0) == ((flags & ~DMAOWNERD_ASSIGN_FLAGS_ALL) == 0));
                break;
        }
        case 3: {
                int mode;
                if (bus_args_parse_mode(s, &mode) >= 0)
                        assert((mode == 0 && strcmp(s, "enforce") == 0) || (mode == 1 && strcmp(s, "audit") == 0));
                break;
        }
        case 4: {
                /* An object path under the device prefix, as bus-device.c decodes it. */
                char *label = NULL;
                if (sd_bus_path_decode(s, DMAOWNERD_DEVICE_PATH_PREFIX, &label) > 0 && pci_address_is_valid(label)) {
                        char *encoded = NULL;
                        assert(sd_bus_path_encode(DMAOWNERD_DEVICE_PATH_PREFIX, label, &encoded) >= 0);
                        free(encoded);
                }
                free(label);
                label = NULL;
                unsigned g;
                if (sd_bus_path_decode(s, DMAOWNERD_GROUP_PATH_PREFIX, &label) > 0 &&
                    bus_args_parse_group_number(label, &g) >= 0)
                        assert(g <= INT32_MAX);
                free(label);
                break;
        }
        }
        free(s);
        return 0;
}
