/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the files of the policy layer only; nothing outside policy/ includes this. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "dma-ownerd/macro.h"
#include "policy.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

/* The kernel's driver_managed_dma set. The first three are the vfio drivers, whose members the pins follow. */
extern const char *const policy_builtin_drivers[];
extern const size_t policy_n_builtin_drivers;
#define POLICY_N_VFIO_DRIVERS 3

/* Limits that keep a hostile or broken file from costing more than a bounded amount of memory and time. */
#define POLICY_FILE_MAX (1024 * 1024)
#define POLICY_DEPTH_MAX 16
#define POLICY_GLOB_MAX 64
#define POLICY_NAME_MAX 64
#define POLICY_ERRORS_MAX 1000
#define POLICY_GLOBS_MAX 1024
#define POLICY_RESERVATIONS_MAX 4096

static inline bool source_mark_is_builtin(const SourceMark *m) {
        return m->line == 0 && streq_ptr(m->file, POLICY_BUILTIN_FILE);
}

/* fnmatch(pattern, s, 0) == 0, without fnmatch's per-call setup for the globs policies hold: those without '[' or
 * '\\' are matched by a plain '*'/'?' walk (exactly fnmatch's answer for ASCII), the rest by fnmatch. */
bool policy_glob_match(const char *pattern, const char *s);

void policy_index_free(struct PolicyIndex *index);

int policy_errors_add(PolicyErrors *e, const char *file, unsigned line, unsigned column, const char *format, ...)
        _printf_(5, 6);
int policy_errors_addv(PolicyErrors *e, const char *file, unsigned line, unsigned column, const char *format,
                       va_list ap) _printf_(5, 0);

/* A string from the input made safe for a message or a comment: non-printable bytes as \xNN, quotes and
 * backslashes escaped, cut after `max` input bytes with "...". Returns NULL only on OOM. */
char *policy_escape(const char *s, size_t max);
