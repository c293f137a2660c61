/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The pure parts of dma-ownerctl: command line, targets, exit codes. No bus here, so tests/unit/test-ctl.c can
 * exercise them directly. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dma-ownerd/pci-address.h"

#define CTL_PROGRAM_NAME "dma-ownerctl"

/* Documented in --help and dma-ownerctl(1); scripts depend on them. */
typedef enum CtlExit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_NOT_VIABLE = 3,
        CTL_EXIT_ACCESS_DENIED = 4,
        CTL_EXIT_UNREACHABLE = 5,
        CTL_EXIT_NO_SUCH_OBJECT = 6,
} CtlExit;

/* The largest group number the policy accepts (iommu-group: 0..2147483647). */
#define CTL_GROUP_MAX UINT32_C(2147483647)

typedef enum TargetKind {
        TARGET_ADDRESS,
        TARGET_GROUP,
} TargetKind;

typedef struct Target {
        TargetKind kind;
        char address[PCI_ADDRESS_STRLEN]; /* TARGET_ADDRESS */
        uint32_t group;                   /* TARGET_GROUP */
        /* The canonical form that goes on the bus: the address, or the group number without leading zeros. */
        char string[PCI_ADDRESS_STRLEN];
} Target;

/* A PCI address exactly as pci_address_is_valid() accepts it, or a group number in decimal (0..CTL_GROUP_MAX).
 * Returns 0 and fills *ret, or -EINVAL. */
int target_parse(const char *s, Target *ret);

/* Map a D-Bus error (name may be NULL) or a negative errno from sd-bus to one of the exit codes above. */
CtlExit exit_code_from_bus_error(const char *name, int error);

typedef enum Verb {
        VERB_LIST,
        VERB_SHOW,
        VERB_CHECK,
        VERB_ASSIGN,
        VERB_RELEASE,
        VERB_MONITOR,
        VERB_RELOAD,
        VERB_RESCAN,
        VERB_MODE,
        VERB_POLICY_CHECK,
        VERB_POLICY_GENERATE,
        VERB_HELP,
        VERB_VERSION,
        _VERB_MAX,
} Verb;

typedef struct CtlArgs {
        Verb verb;
        bool json;
        bool force;
        bool persist;
        const char *bus_address; /* --address, NULL = the system bus */
        Target target;           /* show, check, assign, release */
        const char *mode;        /* mode with an argument: "enforce" or "audit"; NULL = print the mode */
        char **files;            /* policy check: pointers into argv */
        size_t n_files;
} CtlArgs;

/* Parse the whole command line (options may come before or after the verb; "--" ends them). Returns 0 and fills
 * *ret, or -EINVAL after printing the reason to `err`. Nothing is printed on success: --help and --version come back
 * as VERB_HELP and VERB_VERSION. */
int ctl_parse_argv(int argc, char *argv[], CtlArgs *ret, FILE *err);

void ctl_help(FILE *f);
const char *verb_to_string(Verb v);
