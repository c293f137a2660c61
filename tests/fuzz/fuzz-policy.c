/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: any byte string given to the policy parser must be either merged or rejected with errors,
 * never crash, leak or hang; and a policy it accepts must print as YAML that it accepts again, unchanged. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma-ownerd/macro.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print_policy(const Policy *p) {
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        if (!f)
                return NULL;
        policy_print(p, f);
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

static void print_errors(const PolicyErrors *e) {
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        if (!f)
                return;
        policy_errors_print(e, f);
        (void) fclose(f);
        free(out);
}

static bool match_equal(const DeviceMatch *a, const DeviceMatch *b) {
        return streq_ptr(a->address_glob, b->address_glob) && a->vendor == b->vendor && a->device == b->device &&
               a->subsystem_vendor == b->subsystem_vendor && a->subsystem_device == b->subsystem_device &&
               a->has_class == b->has_class && a->class_value == b->class_value && a->class_mask == b->class_mask &&
               a->iommu_group == b->iommu_group;
}

static bool globs_equal(const DriverGlob *a, size_t n_a, const DriverGlob *b, size_t n_b) {
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (strcmp(a[i].pattern, b[i].pattern) != 0)
                        return false;
        return true;
}

static bool policy_equal(const Policy *a, const Policy *b) {
        if (a->mode != b->mode || a->on_violation != b->on_violation ||
            a->network_protection != b->network_protection ||
            !globs_equal(a->allowed_drivers, a->n_allowed_drivers, b->allowed_drivers, b->n_allowed_drivers) ||
            !globs_equal(a->denied_drivers, a->n_denied_drivers, b->denied_drivers, b->n_denied_drivers) ||
            a->n_reservations != b->n_reservations)
                return false;
        for (size_t i = 0; i < a->n_reservations; i++) {
                const Reservation *x = &a->reservations[i], *y = &b->reservations[i];
                if (strcmp(x->name, y->name) != 0 || strcmp(x->driver, y->driver) != 0 ||
                    x->whole_group != y->whole_group || !match_equal(&x->match, &y->match))
                        return false;
        }
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_policy_ Policy *p = NULL, *q = NULL;
        _cleanup_(policy_errors_clear) PolicyErrors errors = {};
        _cleanup_free_ char *printed = NULL;

        if (policy_new_default(&p) < 0)
                return 0;
        if (policy_merge_buffer(p, "fuzz.yaml", (const char *) data, size, &errors) < 0) {
                if (errors.n_errors == 0)
                        abort(); /* a rejection must say why */
                print_errors(&errors);
                return 0;
        }
        if (errors.n_errors != 0)
                abort();

        /* The round trip: what policy_print() shows must parse back to the same policy. */
        printed = print_policy(p);
        if (!printed || policy_new_default(&q) < 0)
                return 0;
        if (policy_merge_buffer(q, "printed.yaml", printed, strlen(printed), &errors) < 0 || !policy_equal(p, q))
                abort();
        return 0;
}
