/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Showing a policy to the admin: the effective policy as YAML that parses back to the same policy, each setting
 * annotated with where it came from, and errors in the FILE:LINE:COLUMN form editors jump to. */

#include <inttypes.h>
#include <stdlib.h>

#include "policy-internal.h"
#include "policy.h"

/* Everything printed as a YAML value was validated at load to printable ASCII; quoting still matters because a glob
 * like "*-vfio-pci" would otherwise read as an alias. Escape anyway so the output stays YAML whatever happens. */
static void print_quoted(FILE *f, const char *s) {
        _cleanup_free_ char *e = policy_escape(s, SIZE_MAX / 8);
        fprintf(f, "\"%s\"", strna(e));
}

/* File names end up in comments: a newline in one would end the comment and break the YAML. */
static void print_mark(FILE *f, const SourceMark *m) {
        _cleanup_free_ char *e = NULL;

        if (source_mark_is_builtin(m)) {
                fputs("  # " POLICY_BUILTIN_FILE "\n", f);
                return;
        }
        e = policy_escape(strna(m->file), 4096);
        fprintf(f, "  # %s:%u\n", strna(e), m->line);
}

static void print_glob_list(FILE *f, const char *key, const DriverGlob *l, size_t n) {
        size_t n_admin = 0, n_builtin = 0;

        for (size_t i = 0; i < n; i++) {
                if (source_mark_is_builtin(&l[i].mark))
                        n_builtin++;
                else
                        n_admin++;
        }

        /* The built-in entries are always there: shown, but as a comment, so that parsing the output back does not
         * list them twice. */
        if (n_builtin > 0) {
                fputs("# Built in, always present:", f);
                for (size_t i = 0; i < n; i++)
                        if (source_mark_is_builtin(&l[i].mark))
                                fprintf(f, " %s", l[i].pattern);
                fputs("\n", f);
        }
        if (n_admin == 0) {
                fprintf(f, "%s: []\n", key);
                return;
        }
        fprintf(f, "%s:\n", key);
        for (size_t i = 0; i < n; i++) {
                if (source_mark_is_builtin(&l[i].mark))
                        continue;
                fputs("  - ", f);
                print_quoted(f, l[i].pattern);
                print_mark(f, &l[i].mark);
        }
}

static void print_reservation(FILE *f, const Reservation *r) {
        const DeviceMatch *m = &r->match;

        fputs("  - name: ", f);
        print_quoted(f, r->name);
        print_mark(f, &r->mark);
        fputs("    match:\n", f);
        if (m->address_glob) {
                fputs("      address: ", f);
                print_quoted(f, m->address_glob);
                fputs("\n", f);
        }
        if (m->vendor >= 0)
                fprintf(f, "      vendor: 0x%04" PRIx32 "\n", (uint32_t) m->vendor);
        if (m->device >= 0)
                fprintf(f, "      device: 0x%04" PRIx32 "\n", (uint32_t) m->device);
        if (m->subsystem_vendor >= 0)
                fprintf(f, "      subsystem-vendor: 0x%04" PRIx32 "\n", (uint32_t) m->subsystem_vendor);
        if (m->subsystem_device >= 0)
                fprintf(f, "      subsystem-device: 0x%04" PRIx32 "\n", (uint32_t) m->subsystem_device);
        if (m->has_class) {
                fprintf(f, "      class: 0x%06" PRIx32 "\n", m->class_value);
                if (m->class_mask != 0xffffff)
                        fprintf(f, "      class-mask: 0x%06" PRIx32 "\n", m->class_mask);
        }
        if (m->iommu_group >= 0)
                fprintf(f, "      iommu-group: %" PRId64 "\n", m->iommu_group);
        fputs("    driver: ", f);
        print_quoted(f, r->driver);
        fprintf(f, "\n    whole-group: %s\n", r->whole_group ? "true" : "false");
}

void policy_print(const Policy *p, FILE *f) {
        fputs("# The effective dma-ownerd policy, merged from:\n", f);
        if (p->n_files == 0)
                fputs("#   (no files: built-in defaults only)\n", f);
        for (size_t i = 0; i < p->n_files; i++) {
                _cleanup_free_ char *e = policy_escape(p->files[i], 4096);
                fprintf(f, "#   %s\n", strna(e));
        }
        fputs("\n", f);

        fprintf(f, "mode: %s", policy_mode_to_string(p->mode));
        print_mark(f, &p->mode_mark);
        fprintf(f, "on-violation: %s", violation_action_to_string(p->on_violation));
        print_mark(f, &p->on_violation_mark);
        fprintf(f, "network-protection: %s", p->network_protection ? "true" : "false");
        print_mark(f, &p->network_protection_mark);
        fputs("\n", f);

        print_glob_list(f, "allowed-drivers", p->allowed_drivers, p->n_allowed_drivers);
        fputs("\n", f);
        print_glob_list(f, "denied-drivers", p->denied_drivers, p->n_denied_drivers);
        fputs("\n", f);

        if (p->n_reservations == 0) {
                fputs("reservations: []\n", f);
                return;
        }
        fputs("reservations:\n", f);
        for (size_t i = 0; i < p->n_reservations; i++)
                print_reservation(f, &p->reservations[i]);
}

void policy_errors_print(const PolicyErrors *e, FILE *f) {
        for (size_t i = 0; i < e->n_errors; i++) {
                _cleanup_free_ char *file = policy_escape(strna(e->errors[i].file), 4096);
                fprintf(f, "%s:%u:%u: %s\n", strna(file), e->errors[i].line, e->errors[i].column,
                        e->errors[i].message);
        }
}

int policy_check_main(char *const *files, size_t n_files, const PolicyPaths *paths) {
        _cleanup_(policy_errors_clear) PolicyErrors errors = {};
        _cleanup_policy_ Policy *p = NULL;
        int r;

        if (n_files > 0)
                r = policy_load_files(files, n_files, &p, &errors);
        else
                r = policy_load(paths ? paths : &policy_default_paths, &p, &errors);
        if (r < 0) {
                policy_errors_print(&errors, stderr);
                if (errors.n_errors == 0)
                        fprintf(stderr, "Failed to load the policy: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        policy_print(p, stdout);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
