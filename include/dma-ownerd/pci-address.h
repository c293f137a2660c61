/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The names dma-ownerd takes from sysfs, uevents and the bus — PCI addresses, driver names, network interface names —
 * and their validation. Shared by the daemon, the CLI, the tests and the benchmarks: every such name goes through one
 * of these checks before it is joined into a path or sent back out.
 *
 * PCI addresses as sysfs names them are "dddd:bb:dd.f" in lower-case hex. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "0000:00:00.0" plus the terminating NUL. */
#define PCI_ADDRESS_STRLEN 13

static inline bool pci_address_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Strict: four hex digits of domain, two of bus, a device number 00..1f, a function 0..7, lower case, nothing more.
 * (Domains wider than 16 bits, as behind Intel VMD, are not accepted; they are reported and skipped.) */
static inline bool pci_address_is_valid(const char *s) {
        if (!s)
                return false;
        for (size_t i = 0; i < PCI_ADDRESS_STRLEN - 1; i++) {
                char c = s[i];
                switch (i) {
                case 4:
                case 7:
                        if (c != ':')
                                return false;
                        break;
                case 10:
                        if (c != '.')
                                return false;
                        break;
                case 8:
                        if (c != '0' && c != '1')
                                return false;
                        break;
                case 11:
                        if (c < '0' || c > '7')
                                return false;
                        break;
                default:
                        if (!pci_address_hex(c))
                                return false;
                }
        }
        return s[PCI_ADDRESS_STRLEN - 1] == '\0';
}

/* Kernel driver names as they appear under /sys/bus/pci/drivers: printable ASCII without '/', bounded, not "." or
 * "..". A name that fails this never reaches a path, the journal unescaped, or the bus. */
#define DRIVER_NAME_MAX 64

static inline bool driver_name_is_valid(const char *s) {
        size_t n = 0;
        if (!s || !*s)
                return false;
        for (; s[n]; n++) {
                unsigned char c = (unsigned char) s[n];
                if (n >= DRIVER_NAME_MAX || c <= ' ' || c >= 0x7f || c == '/')
                        return false;
        }
        return !(s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.')));
}

/* Network interface names as the kernel accepts them (dev_valid_name): 1..15 bytes, printable, no '/' or ':', not "."
 * or "..". */
#define IFNAME_MAX 16 /* IFNAMSIZ */

static inline bool ifname_is_valid(const char *s) {
        size_t n = 0;

        if (!s || !*s || (s[0] == '.' && (s[1] == '\0' || (s[1] == '.' && s[2] == '\0'))))
                return false;
        for (; s[n]; n++) {
                unsigned char c = (unsigned char) s[n];
                if (n >= IFNAME_MAX - 1 || c <= ' ' || c >= 0x7f || c == '/' || c == ':')
                        return false;
        }
        return true;
}
