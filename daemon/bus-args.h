/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Validation of what D-Bus callers send, as pure functions (no bus, no model): the method handlers and
 * manager_resolve_target() use them, and tests/fuzz/fuzz-bus-args.c fuzzes them. Every string argument is bounded
 * before it is looked at, so a 1 MiB argument costs one strnlen(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dma-ownerd/pci-address.h"

/* Longer targets are rejected before any parsing: a PCI address is 12 characters, a group number at most 10. */
#define BUS_ARGS_TARGET_MAX 64

typedef enum BusTargetKind {
        BUS_TARGET_DEVICE, /* "dddd:bb:dd.f" */
        BUS_TARGET_GROUP,  /* strict decimal, 0..INT32_MAX */
} BusTargetKind;

typedef struct BusTarget {
        BusTargetKind kind;
        char address[PCI_ADDRESS_STRLEN]; /* BUS_TARGET_DEVICE */
        unsigned group;                   /* BUS_TARGET_GROUP */
} BusTarget;

/* Returns 0, or -EINVAL for anything that is not exactly one of the two forms (NULL, empty, too long, signs,
 * blanks, "0x", upper-case hex, trailing newlines…). */
int bus_args_parse_target(const char *s, BusTarget *ret);

/* Strict decimal group number: no sign, no blanks, no leading "+", at most 10 digits, <= INT32_MAX. */
int bus_args_parse_group_number(const char *s, unsigned *ret);

/* 0 when `flags` only holds known bits (`known`), -EINVAL otherwise. */
int bus_args_check_flags(uint64_t flags, uint64_t known);

/* "enforce" → 0, "audit" → 1; -EINVAL otherwise. */
int bus_args_parse_mode(const char *s, int *ret);
