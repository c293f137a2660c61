/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The admin's policy: parsed from YAML with source marks, merged across the drop-in directories, compiled into an
 * immutable value. A reload builds a new Policy and swaps it in only when it is valid. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dma-ownerd/pci-address.h"

/* Where a setting or rule came from. `file` is owned by the Policy (its files[] array) or is the static string
 * POLICY_BUILTIN_FILE for the built-in defaults (line 0). */
#define POLICY_BUILTIN_FILE "(built-in)"

typedef struct SourceMark {
        const char *file;
        unsigned line;   /* 1-based; 0 for built-in */
        unsigned column; /* 1-based; 0 for built-in */
} SourceMark;

typedef enum PolicyMode {
        POLICY_MODE_ENFORCE,
        POLICY_MODE_AUDIT,
} PolicyMode;

typedef enum ViolationAction {
        VIOLATION_UNBIND,
        VIOLATION_LOG,
} ViolationAction;

typedef struct DriverGlob {
        char *pattern; /* fnmatch(3) glob, validated at load */
        SourceMark mark;
} DriverGlob;

/* What a device must look like for a reservation to apply. A field left unset matches anything. */
typedef struct DeviceMatch {
        char *address_glob; /* glob over "dddd:bb:dd.f", NULL = any */
        int32_t vendor;     /* -1 = any, else 0..0xffff */
        int32_t device;
        int32_t subsystem_vendor;
        int32_t subsystem_device;
        bool has_class;
        uint32_t class_value; /* 24-bit class code, compared under class_mask */
        uint32_t class_mask;  /* default 0xffffff when only `class` is given */
        int64_t iommu_group;  /* -1 = any */
} DeviceMatch;

typedef struct Reservation {
        char *name; /* unique across all files */
        SourceMark mark;
        DeviceMatch match;
        char *driver;     /* target driver, default "vfio-pci" */
        bool whole_group; /* default true */
} Reservation;

/* The identity of a PCI device, the part of the model that reservations match against. */
typedef struct PciIdentity {
        char address[PCI_ADDRESS_STRLEN];
        uint16_t vendor;
        uint16_t device;
        uint16_t subsystem_vendor;
        uint16_t subsystem_device;
        uint32_t class; /* 24-bit */
        int64_t iommu_group; /* -1 when the device has no IOMMU group */
} PciIdentity;

typedef struct Policy {
        PolicyMode mode;
        SourceMark mode_mark;
        ViolationAction on_violation;
        SourceMark on_violation_mark;
        bool network_protection; /* true: refuse to detach a device whose interface is up or routes by default */
        SourceMark network_protection_mark;

        /* The kernel's driver_managed_dma set always comes first (marks with POLICY_BUILTIN_FILE), the admin's globs
         * follow. Denied wins over allowed. */
        DriverGlob *allowed_drivers;
        size_t n_allowed_drivers;
        DriverGlob *denied_drivers;
        size_t n_denied_drivers;

        Reservation *reservations;
        size_t n_reservations;

        char **files; /* the files that were merged, in merge order; owns the strings SourceMark.file points to */
        size_t n_files;

        /* The reservations compiled into candidate lists (by IOMMU group, by vendor, the rest), so that matching a
         * device tests only the rules that can select it. Built by every merge; NULL (or built for another array)
         * means policy_match_reservation() falls back to trying every rule in order. */
        struct PolicyIndex *index;
} Policy;

/* A load collects every error it finds rather than stopping at the first one. */
typedef struct PolicyError {
        char *file;
        unsigned line;
        unsigned column;
        char *message;
} PolicyError;

typedef struct PolicyErrors {
        PolicyError *errors;
        size_t n_errors;
} PolicyErrors;

/* Where the policy lives. Tests and --check-policy point these elsewhere. NULL members are skipped. */
typedef struct PolicyPaths {
        const char *main_file;  /* /etc/dma-ownerd/policy.yaml */
        const char *vendor_dir; /* /usr/lib/dma-ownerd/policy.d */
        const char *admin_dir;  /* /etc/dma-ownerd/policy.d, masks same-named files in vendor_dir */
} PolicyPaths;

extern const PolicyPaths policy_default_paths;

/* The built-in policy: enforce, unbind, network protection on, the kernel's driver_managed_dma set, no
 * reservations. */
int policy_new_default(Policy **ret);
Policy *policy_free(Policy *p);
static inline void policy_freep(Policy **p) {
        if (*p)
                policy_free(*p);
}
#define _cleanup_policy_ __attribute__((cleanup(policy_freep)))

void policy_errors_clear(PolicyErrors *e);

/* Load the main file (a missing one is fine), then the *.yaml of both directories merged in lexical order of file
 * name. Returns 0 and sets *ret on success; on any error returns -EINVAL (or another negative errno), fills `errors`
 * and leaves *ret untouched. */
int policy_load(const PolicyPaths *paths, Policy **ret, PolicyErrors *errors);

/* Load exactly these files, in this order (as `--check-policy FILE…` does). */
int policy_load_files(char *const *files, size_t n_files, Policy **ret, PolicyErrors *errors);

/* Merge one document held in memory into `p`; `name` is used in source marks. For the fuzzer and tests. */
int policy_merge_buffer(Policy *p, const char *name, const char *data, size_t size, PolicyErrors *errors);

/* Print the effective policy as YAML with a comment naming each setting's source. */
void policy_print(const Policy *p, FILE *f);

/* Print errors as "FILE:LINE:COLUMN: MESSAGE", one per line. */
void policy_errors_print(const PolicyErrors *e, FILE *f);

/* Driver verdicts for members of a user-owned or reserved group. */
typedef enum DriverVerdict {
        DRIVER_ALLOWED,
        DRIVER_DENIED,      /* matched a denied glob */
        DRIVER_NOT_ALLOWED, /* matched nothing */
} DriverVerdict;

/* Denied globs are tried first, then allowed ones (the built-in set included). `*ret_mark` (optional) is set to
 * the glob that decided, or to NULL for DRIVER_NOT_ALLOWED. */
DriverVerdict policy_driver_verdict(const Policy *p, const char *driver, const SourceMark **ret_mark);

/* The kernel's own driver_managed_dma set (vfio-pci and its variants, pci-stub, pcieport), independent of policy:
 * what the model uses to infer the kernel's view of the DMA owner. */
bool driver_manages_dma(const char *driver);

/* True when `driver` is a vfio driver (vfio-pci or a variant): the member the pins follow. */
bool driver_is_vfio(const char *driver);

bool device_match(const DeviceMatch *m, const PciIdentity *id);

/* The first reservation (in merge order) whose match selects this device directly, or NULL. */
const Reservation *policy_match_reservation(const Policy *p, const PciIdentity *id);

/* Recompile p->index after changing p->reservations in place (every merge does it itself). On -ENOMEM the index is
 * dropped and matching stays correct, only linear. */
int policy_index_rebuild(Policy *p);

const char *policy_mode_to_string(PolicyMode m);
const char *violation_action_to_string(ViolationAction a);

/* The `--check-policy [FILE…]` entry point shared by the daemon and dma-ownerctl: prints the effective policy on
 * stdout and returns 0, or prints every error on stderr and returns non-zero. n_files == 0 checks the installed
 * paths. */
int policy_check_main(char *const *files, size_t n_files, const PolicyPaths *paths);
