/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy layer: the good and bad corpora, merging across a main file and two drop-in directories, driver
 * verdicts, matching, printing and reading back. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dma-ownerd/macro.h"
#include "policy-internal.h"
#include "policy.h"

static bool str_eq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

/* ---- temporary folders ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void rm_rf(const char *path) {
        (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *make_temp_dir(void) {
        char *d = strdup("/tmp/test-policy-XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static char *path_join(const char *a, const char *b) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", a, b) > 0);
        return p;
}

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = path_join(dir, name);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static char *make_subdir(const char *dir, const char *name) {
        char *p = path_join(dir, name);
        assert_int_equal(mkdir(p, 0755), 0);
        return p;
}

/* ---- helpers ---- */

static Policy *load_buffer(const char *text) {
        Policy *p = NULL;
        PolicyErrors e = {};
        assert_int_equal(policy_new_default(&p), 0);
        int r = policy_merge_buffer(p, "test.yaml", text, strlen(text), &e);
        if (r < 0)
                policy_errors_print(&e, stderr);
        assert_int_equal(r, 0);
        assert_int_equal(e.n_errors, 0);
        return p;
}

static bool has_error(const PolicyErrors *e, const char *file, unsigned line, unsigned column, const char *substring) {
        for (size_t i = 0; i < e->n_errors; i++)
                if ((!file || str_eq(e->errors[i].file, file)) && e->errors[i].line == line &&
                    e->errors[i].column == column && strstr(e->errors[i].message, substring))
                        return true;
        return false;
}

static bool has_error_substring(const PolicyErrors *e, const char *file, const char *substring) {
        for (size_t i = 0; i < e->n_errors; i++)
                if ((!file || str_eq(e->errors[i].file, file)) && strstr(e->errors[i].message, substring))
                        return true;
        return false;
}

static bool is_yaml_name(const char *n) {
        size_t l = strlen(n);
        return n[0] != '.' && l > 5 && strcmp(n + l - 5, ".yaml") == 0;
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.yaml files of a directory as full paths, sorted, NULL-terminated. */
static char **list_yaml(const char *dir, size_t *ret_n) {
        DIR *d = opendir(dir);
        char **l = NULL;
        size_t n = 0;
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d))) {
                if (!is_yaml_name(de->d_name))
                        continue;
                l = realloc(l, (n + 2) * sizeof(char *));
                assert_non_null(l);
                l[n++] = path_join(dir, de->d_name);
                l[n] = NULL;
        }
        (void) closedir(d);
        assert_non_null(l);
        qsort(l, n, sizeof(char *), name_compare);
        *ret_n = n;
        return l;
}

static char *data_path(const char *sub) {
        const char *d = getenv("TEST_DATA_DIR");
        assert_non_null(d);
        return path_join(d, sub);
}

static size_t count_builtin(const DriverGlob *l, size_t n) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                if (l[i].mark.line == 0 && str_eq(l[i].mark.file, POLICY_BUILTIN_FILE))
                        c++;
        return c;
}

static void assert_match_equal(const DeviceMatch *a, const DeviceMatch *b) {
        assert_true((a->address_glob == NULL) == (b->address_glob == NULL));
        if (a->address_glob)
                assert_string_equal(a->address_glob, b->address_glob);
        assert_int_equal(a->vendor, b->vendor);
        assert_int_equal(a->device, b->device);
        assert_int_equal(a->subsystem_vendor, b->subsystem_vendor);
        assert_int_equal(a->subsystem_device, b->subsystem_device);
        assert_int_equal(a->has_class, b->has_class);
        assert_int_equal(a->class_value, b->class_value);
        assert_int_equal(a->class_mask, b->class_mask);
        assert_int_equal(a->iommu_group, b->iommu_group);
}

/* Same settings and rules in the same order; where they came from may differ. */
static void assert_policy_equal(const Policy *a, const Policy *b) {
        assert_int_equal(a->mode, b->mode);
        assert_int_equal(a->on_violation, b->on_violation);
        assert_int_equal(a->network_protection, b->network_protection);
        assert_int_equal(a->n_allowed_drivers, b->n_allowed_drivers);
        for (size_t i = 0; i < a->n_allowed_drivers; i++)
                assert_string_equal(a->allowed_drivers[i].pattern, b->allowed_drivers[i].pattern);
        assert_int_equal(a->n_denied_drivers, b->n_denied_drivers);
        for (size_t i = 0; i < a->n_denied_drivers; i++)
                assert_string_equal(a->denied_drivers[i].pattern, b->denied_drivers[i].pattern);
        assert_int_equal(a->n_reservations, b->n_reservations);
        for (size_t i = 0; i < a->n_reservations; i++) {
                assert_string_equal(a->reservations[i].name, b->reservations[i].name);
                assert_string_equal(a->reservations[i].driver, b->reservations[i].driver);
                assert_int_equal(a->reservations[i].whole_group, b->reservations[i].whole_group);
                assert_match_equal(&a->reservations[i].match, &b->reservations[i].match);
        }
}

static void assert_default_settings(const Policy *p) {
        assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
        assert_int_equal(p->on_violation, VIOLATION_UNBIND);
        assert_true(p->network_protection);
        assert_int_equal(p->n_allowed_drivers, 5);
        assert_int_equal(count_builtin(p->allowed_drivers, p->n_allowed_drivers), 5);
        assert_string_equal(p->allowed_drivers[0].pattern, "vfio-pci");
        assert_string_equal(p->allowed_drivers[1].pattern, "*-vfio-pci");
        assert_string_equal(p->allowed_drivers[2].pattern, "*_vfio_pci");
        assert_string_equal(p->allowed_drivers[3].pattern, "pci-stub");
        assert_string_equal(p->allowed_drivers[4].pattern, "pcieport");
        assert_int_equal(p->n_denied_drivers, 0);
        assert_int_equal(p->n_reservations, 0);
}

/* ---- tests ---- */

static void test_defaults(void **state) {
        _cleanup_policy_ Policy *p = NULL, *loaded = NULL;
        PolicyErrors e = {};
        _cleanup_free_ char *dir = make_temp_dir();
        _cleanup_free_ char *main_file = path_join(dir, "policy.yaml");
        _cleanup_free_ char *vendor = path_join(dir, "vendor.d");
        _cleanup_free_ char *admin = path_join(dir, "admin.d");
        PolicyPaths paths = { .main_file = main_file, .vendor_dir = vendor, .admin_dir = admin };

        assert_int_equal(policy_new_default(&p), 0);
        assert_default_settings(p);
        assert_string_equal(p->mode_mark.file, POLICY_BUILTIN_FILE);
        assert_int_equal(p->mode_mark.line, 0);
        assert_int_equal(p->n_files, 0);

        /* Nothing exists: not an error, the built-in policy. */
        assert_int_equal(policy_load(&paths, &loaded, &e), 0);
        assert_int_equal(e.n_errors, 0);
        assert_default_settings(loaded);
        assert_int_equal(loaded->n_files, 0);
        policy_free(TAKE_PTR(loaded));

        /* All members NULL: also the defaults. */
        PolicyPaths none = {};
        assert_int_equal(policy_load(&none, &loaded, &e), 0);
        assert_default_settings(loaded);

        assert_string_equal(policy_mode_to_string(POLICY_MODE_ENFORCE), "enforce");
        assert_string_equal(policy_mode_to_string(POLICY_MODE_AUDIT), "audit");
        assert_string_equal(violation_action_to_string(VIOLATION_UNBIND), "unbind");
        assert_string_equal(violation_action_to_string(VIOLATION_LOG), "log");
        assert_non_null(policy_default_paths.main_file);
        assert_non_null(strstr(policy_default_paths.main_file, "dma-ownerd/policy.yaml"));
        assert_non_null(strstr(policy_default_paths.admin_dir, "dma-ownerd/policy.d"));
        assert_non_null(strstr(policy_default_paths.vendor_dir, "lib/dma-ownerd/policy.d"));
        rm_rf(dir);
}

static void test_good_corpus(void **state) {
        _cleanup_free_ char *dir = data_path("policy/good");
        size_t n;
        char **files = list_yaml(dir, &n);

        assert_true(n >= 10);
        for (size_t i = 0; i < n; i++) {
                _cleanup_policy_ Policy *p = NULL;
                PolicyErrors e = {};
                int r = policy_load_files(&files[i], 1, &p, &e);
                if (r < 0) {
                        fprintf(stderr, "%s should load:\n", files[i]);
                        policy_errors_print(&e, stderr);
                }
                assert_int_equal(r, 0);
                assert_int_equal(e.n_errors, 0);
                assert_non_null(p);
        }
        strv_free(files);
}

static void test_good_corpus_contents(void **state) {
        _cleanup_free_ char *full = data_path("policy/good/full.yaml");
        _cleanup_free_ char *flow = data_path("policy/good/flow-style.yaml");
        _cleanup_policy_ Policy *p = NULL, *q = NULL;
        PolicyErrors e = {};
        char *files[] = { full };
        const Reservation *r;

        assert_int_equal(policy_load_files(files, 1, &p, &e), 0);
        assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
        assert_int_equal(p->on_violation, VIOLATION_LOG);
        assert_false(p->network_protection);
        assert_int_equal(p->on_violation_mark.line, 2);
        assert_int_equal(p->on_violation_mark.column, 1);
        assert_string_equal(p->on_violation_mark.file, full);
        assert_int_equal(p->n_allowed_drivers, 9);
        assert_string_equal(p->allowed_drivers[5].pattern, "snd_hda_intel");
        assert_int_equal(p->allowed_drivers[5].mark.line, 5);
        assert_int_equal(p->allowed_drivers[5].mark.column, 5);
        assert_int_equal(p->n_denied_drivers, 2);
        assert_string_equal(p->denied_drivers[1].pattern, "mlx5_[!v]*");
        assert_int_equal(p->n_reservations, 2);
        r = &p->reservations[0];
        assert_string_equal(r->name, "gpu0");
        assert_int_equal(r->mark.line, 13);
        assert_int_equal(r->mark.column, 5);
        assert_string_equal(r->match.address_glob, "0000:0a:00.*"); /* folded to lower case */
        assert_int_equal(r->match.vendor, 0x10de);
        assert_int_equal(r->match.device, 0x2204);
        assert_int_equal(r->match.subsystem_vendor, 0x1458);
        assert_int_equal(r->match.subsystem_device, 0x403b);
        assert_true(r->match.has_class);
        assert_int_equal(r->match.class_value, 0x030000);
        assert_int_equal(r->match.class_mask, 0xff0000);
        assert_int_equal(r->match.iommu_group, 14);
        assert_string_equal(r->driver, "vfio-pci");
        assert_true(r->whole_group);
        r = &p->reservations[1];
        assert_string_equal(r->name, "nic.sriov-1_a");
        assert_int_equal(r->match.vendor, 32902);
        assert_int_equal(r->match.device, 0x10ed);
        assert_false(r->match.has_class);
        assert_int_equal(r->match.class_mask, 0xffffff);
        assert_int_equal(r->match.iommu_group, -1);
        assert_int_equal(r->match.subsystem_vendor, -1);
        assert_null(r->match.address_glob);
        assert_string_equal(r->driver, "ixgbevf-vfio-pci");
        assert_false(r->whole_group);

        files[0] = flow;
        assert_int_equal(policy_load_files(files, 1, &q, &e), 0);
        assert_int_equal(q->mode, POLICY_MODE_AUDIT);
        assert_int_equal(q->n_reservations, 1);
        assert_int_equal(q->reservations[0].match.iommu_group, 0);
        assert_string_equal(q->reservations[0].driver, "vfio-pci");
        assert_true(q->reservations[0].whole_group);
}

static void test_bad_corpus(void **state) {
        _cleanup_free_ char *dir = data_path("policy/bad");
        size_t n;
        char **files = list_yaml(dir, &n);

        assert_true(n >= 20);
        for (size_t i = 0; i < n; i++) {
                Policy *p = (Policy *) 0x1; /* must stay untouched */
                PolicyErrors e = {};
                char first[512], substring[512];
                unsigned line, column;
                FILE *f;

                f = fopen(files[i], "re");
                assert_non_null(f);
                assert_non_null(fgets(first, sizeof first, f));
                (void) fclose(f);
                first[strcspn(first, "\n")] = '\0';
                if (sscanf(first, "# expect: %u:%u %511[^\n]", &line, &column, substring) != 3)
                        fail_msg("%s: first line must be \"# expect: LINE:COLUMN SUBSTRING\"", files[i]);

                int r = policy_load_files(&files[i], 1, &p, &e);
                assert_int_equal(r, -EINVAL);
                assert_ptr_equal(p, (Policy *) 0x1);
                if (!has_error(&e, files[i], line, column, substring)) {
                        fprintf(stderr, "%s: expected %u:%u \"%s\", got:\n", files[i], line, column, substring);
                        policy_errors_print(&e, stderr);
                        fail();
                }
                policy_errors_clear(&e);
                assert_int_equal(e.n_errors, 0);
                assert_null(e.errors);
        }
        strv_free(files);
}

static void test_examples(void **state) {
        const char *dir = getenv("TEST_EXAMPLES_DIR");
        size_t n;
        char **files;
        bool saw_main = false;

        assert_non_null(dir);
        files = list_yaml(dir, &n);
        assert_true(n >= 5);
        for (size_t i = 0; i < n; i++) {
                _cleanup_policy_ Policy *p = NULL;
                PolicyErrors e = {};
                int r = policy_load_files(&files[i], 1, &p, &e);
                if (r < 0)
                        policy_errors_print(&e, stderr);
                assert_int_equal(r, 0);

                /* The installed main file spells out the defaults and activates nothing. */
                const char *base = strrchr(files[i], '/') + 1;
                if (str_eq(base, "policy.yaml")) {
                        saw_main = true;
                        assert_default_settings(p);
                        assert_string_equal(p->mode_mark.file, files[i]);
                        assert_true(p->mode_mark.line > 0);
                        assert_true(p->on_violation_mark.line > 0);
                        assert_true(p->network_protection_mark.line > 0);
                } else
                        assert_int_equal(p->n_files, 1);
        }
        assert_true(saw_main);

        /* All of them together, as they would be installed side by side: no clash of names. */
        _cleanup_policy_ Policy *all = NULL;
        PolicyErrors e = {};
        assert_int_equal(policy_load_files(files, n, &all, &e), 0);
        assert_true(all->n_reservations >= 4);
        strv_free(files);
}

static void test_merge_order_and_masking(void **state) {
        _cleanup_free_ char *dir = make_temp_dir();
        _cleanup_free_ char *vendor = make_subdir(dir, "vendor.d");
        _cleanup_free_ char *admin = make_subdir(dir, "admin.d");
        _cleanup_free_ char *main_file = path_join(dir, "policy.yaml");
        _cleanup_free_ char *null_link = path_join(admin, "40-null.yaml");
        _cleanup_policy_ Policy *p = NULL;
        PolicyErrors e = {};

        write_file(dir, "policy.yaml",
                   "mode: audit\n"
                   "on-violation: log\n"
                   "allowed-drivers: [main]\n");
        write_file(vendor, "10-vendor.yaml",
                   "allowed-drivers: [v10]\n"
                   "reservations:\n"
                   "  - name: r10\n"
                   "    match: {vendor: 0x10}\n");
        write_file(vendor, "30-both.yaml", "mode: audit\nallowed-drivers: [masked30]\n");
        write_file(vendor, "40-null.yaml", "allowed-drivers: [masked40]\n");
        write_file(vendor, "50-empty.yaml", "allowed-drivers: [masked50]\n");
        write_file(vendor, "60-vendor.yaml", "denied-drivers: [v60]\n");
        write_file(vendor, "README", "not: [yaml\n");
        write_file(vendor, "70.yml", "not: [yaml\n");
        write_file(admin, ".hidden.yaml", "not: [yaml\n");
        write_file(admin, "20-admin.yaml",
                   "mode: enforce\n"
                   "network-protection: false\n"
                   "allowed-drivers: [a20]\n"
                   "denied-drivers: [a20deny]\n"
                   "reservations:\n"
                   "  - name: r20\n"
                   "    match: {vendor: 0x20}\n");
        write_file(admin, "30-both.yaml", "allowed-drivers: [a30]\n");
        assert_int_equal(symlink("/dev/null", null_link), 0);
        write_file(admin, "50-empty.yaml", "");
        write_file(admin, "55-admin.yaml", "mode: audit\n");

        PolicyPaths paths = { .main_file = main_file, .vendor_dir = vendor, .admin_dir = admin };
        int r = policy_load(&paths, &p, &e);
        if (r < 0)
                policy_errors_print(&e, stderr);
        assert_int_equal(r, 0);

        /* Lists accumulate: main first, then drop-ins by name across both directories. */
        assert_int_equal(p->n_allowed_drivers, 5 + 4);
        assert_string_equal(p->allowed_drivers[5].pattern, "main");
        assert_string_equal(p->allowed_drivers[6].pattern, "v10");
        assert_string_equal(p->allowed_drivers[7].pattern, "a20");
        assert_string_equal(p->allowed_drivers[8].pattern, "a30");
        assert_int_equal(p->n_denied_drivers, 2);
        assert_string_equal(p->denied_drivers[0].pattern, "a20deny");
        assert_string_equal(p->denied_drivers[1].pattern, "v60");
        assert_int_equal(p->n_reservations, 2);
        assert_string_equal(p->reservations[0].name, "r10");
        assert_string_equal(p->reservations[1].name, "r20");

        /* Scalars: the last file that sets one wins, with its mark. */
        assert_int_equal(p->mode, POLICY_MODE_AUDIT);
        _cleanup_free_ char *a55 = path_join(admin, "55-admin.yaml");
        assert_string_equal(p->mode_mark.file, a55);
        assert_int_equal(p->mode_mark.line, 1);
        assert_int_equal(p->mode_mark.column, 1);
        assert_int_equal(p->on_violation, VIOLATION_LOG);
        assert_string_equal(p->on_violation_mark.file, main_file);
        assert_int_equal(p->on_violation_mark.line, 2);
        assert_false(p->network_protection);
        _cleanup_free_ char *a20 = path_join(admin, "20-admin.yaml");
        assert_string_equal(p->network_protection_mark.file, a20);
        assert_int_equal(p->network_protection_mark.line, 2);
        assert_string_equal(p->allowed_drivers[7].mark.file, a20);
        assert_int_equal(p->allowed_drivers[7].mark.line, 3);
        assert_int_equal(p->allowed_drivers[7].mark.column, 19);

        /* Masked, empty and /dev/null files are not listed; the rest in merge order. */
        assert_int_equal(p->n_files, 6);
        assert_string_equal(p->files[0], main_file);
        _cleanup_free_ char *v10 = path_join(vendor, "10-vendor.yaml");
        _cleanup_free_ char *a30 = path_join(admin, "30-both.yaml");
        _cleanup_free_ char *v60 = path_join(vendor, "60-vendor.yaml");
        assert_string_equal(p->files[1], v10);
        assert_string_equal(p->files[2], a20);
        assert_string_equal(p->files[3], a30);
        assert_string_equal(p->files[4], a55);
        assert_string_equal(p->files[5], v60);
        assert_int_equal(e.n_errors, 0);

        rm_rf(dir);
}

static void test_errors_across_files(void **state) {
        _cleanup_free_ char *dir = make_temp_dir();
        _cleanup_free_ char *admin = make_subdir(dir, "admin.d");
        _cleanup_free_ char *main_file = path_join(dir, "policy.yaml");
        _cleanup_free_ char *a10 = path_join(admin, "10-a.yaml");
        _cleanup_free_ char *a20 = path_join(admin, "20-b.yaml");
        Policy *p = (Policy *) 0x1;
        PolicyErrors e = {};

        write_file(dir, "policy.yaml",
                   "mode: audti\n"
                   "reservations:\n"
                   "  - name: gpu\n"
                   "    match: {vendor: 0x10de}\n");
        write_file(admin, "10-a.yaml", "on-violation: never\nnetwork-protection: on\n");
        write_file(admin, "20-b.yaml",
                   "reservations:\n"
                   "  - name: gpu\n"
                   "    match: {vendor: 0x1002}\n");
        PolicyPaths paths = { .main_file = main_file, .admin_dir = admin };

        assert_int_equal(policy_load(&paths, &p, &e), -EINVAL);
        assert_ptr_equal(p, (Policy *) 0x1);
        assert_int_equal(e.n_errors, 4);
        assert_true(has_error(&e, main_file, 1, 7, "invalid value \"audti\" for \"mode\""));
        assert_true(has_error(&e, a10, 1, 15, "\"never\""));
        assert_true(has_error(&e, a10, 2, 21, "invalid boolean \"on\""));
        /* Both places named: where it is and where it was first. */
        _cleanup_free_ char *first = NULL;
        assert_true(asprintf(&first, "first defined at %s:3:5", main_file) > 0);
        assert_true(has_error(&e, a20, 2, 11, first));

        /* Reported in file order. */
        assert_string_equal(e.errors[0].file, main_file);
        assert_string_equal(e.errors[3].file, a20);

        /* The error list printed the way editors read it. */
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        assert_non_null(f);
        policy_errors_print(&e, f);
        assert_int_equal(fclose(f), 0);
        _cleanup_free_ char *expect = NULL;
        assert_true(asprintf(&expect, "%s:1:7: invalid value \"audti\" for \"mode\" (expected enforce or audit)\n",
                             main_file) > 0);
        assert_true(strncmp(out, expect, strlen(expect)) == 0);
        size_t lines = 0;
        for (char *c = out; *c; c++)
                lines += *c == '\n';
        assert_int_equal(lines, 4);

        policy_errors_clear(&e);
        rm_rf(dir);
}

static void test_non_regular_files(void **state) {
        _cleanup_free_ char *dir = make_temp_dir();
        _cleanup_free_ char *admin = make_subdir(dir, "admin.d");
        _cleanup_free_ char *fifo = path_join(admin, "10-fifo.yaml");
        _cleanup_free_ char *subdir = make_subdir(admin, "20-dir.yaml");
        _cleanup_free_ char *dangling = path_join(admin, "30-dangling.yaml");
        _cleanup_free_ char *good = path_join(admin, "40-good.yaml");
        _cleanup_free_ char *main_dir = make_subdir(dir, "main.yaml");
        Policy *p = (Policy *) 0x1;
        PolicyErrors e = {};

        /* No writer ever opens the FIFO: a blocking open or read would hang here until the test times out. */
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(symlink("/nonexistent/x.yaml", dangling), 0);
        write_file(admin, "40-good.yaml", "mode: audit\n");
        write_file(admin, "50-bad.yaml", "mode: [audit]\n");

        PolicyPaths paths = { .main_file = main_dir, .admin_dir = admin };
        assert_int_equal(policy_load(&paths, &p, &e), -EINVAL);
        assert_ptr_equal(p, (Policy *) 0x1);
        assert_true(has_error(&e, main_dir, 1, 1, "a directory is not allowed (expected a regular file)"));
        assert_true(has_error(&e, fifo, 1, 1, "a FIFO is not allowed (expected a regular file)"));
        assert_true(has_error(&e, subdir, 1, 1, "a directory is not allowed"));
        assert_true(has_error(&e, dangling, 1, 1, "cannot open"));
        assert_true(has_error_substring(&e, NULL, "wrong type for \"mode\""));
        assert_int_equal(e.n_errors, 5);
        policy_errors_clear(&e);

        /* A directory where a directory of drop-ins should be is an error, a missing one is not. */
        _cleanup_free_ char *missing = path_join(dir, "missing.d");
        PolicyPaths paths2 = { .vendor_dir = missing, .admin_dir = good };
        assert_int_equal(policy_load(&paths2, &p, &e), -EINVAL);
        assert_int_equal(e.n_errors, 1);
        assert_true(has_error(&e, good, 1, 1, "cannot open the directory"));
        policy_errors_clear(&e);

        /* An error in the vendor directory does not stop the admin directory from being read and checked. */
        PolicyPaths paths3 = { .vendor_dir = good, .admin_dir = admin };
        assert_int_equal(policy_load(&paths3, &p, &e), -EINVAL);
        assert_true(has_error(&e, good, 1, 1, "cannot open the directory"));
        assert_true(has_error(&e, fifo, 1, 1, "a FIFO"));
        assert_int_equal(e.n_errors, 5);
        policy_errors_clear(&e);

        /* Explicit files: a missing one is an error there. */
        char *files[] = { fifo, dangling };
        assert_int_equal(policy_load_files(files, 2, &p, &e), -EINVAL);
        assert_int_equal(e.n_errors, 2);
        policy_errors_clear(&e);
        rm_rf(dir);
}

static void test_size_limit(void **state) {
        _cleanup_free_ char *dir = make_temp_dir();
        _cleanup_free_ char *big = path_join(dir, "big.yaml");
        _cleanup_free_ char *data = NULL;
        _cleanup_policy_ Policy *p = NULL;
        Policy *untouched = (Policy *) 0x1;
        PolicyErrors e = {};
        size_t size = 1024 * 1024 + 1;
        FILE *f;

        /* Valid YAML, only too large. */
        data = malloc(size);
        assert_non_null(data);
        memset(data, '#', size);
        data[size - 1] = '\n';
        f = fopen(big, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, size, f), size);
        assert_int_equal(fclose(f), 0);

        char *files[] = { big };
        assert_int_equal(policy_load_files(files, 1, &untouched, &e), -EINVAL);
        assert_true(has_error(&e, big, 1, 1, "larger than 1 MiB"));
        policy_errors_clear(&e);

        assert_int_equal(policy_new_default(&p), 0);
        assert_int_equal(policy_merge_buffer(p, "buf", data, size, &e), -EINVAL);
        assert_true(has_error(&e, "buf", 1, 1, "larger than"));
        policy_errors_clear(&e);

        /* Exactly 1 MiB is fine. */
        assert_int_equal(policy_merge_buffer(p, "buf", data, size - 1, &e), 0);
        rm_rf(dir);
}

static void test_bounded_errors_and_nesting(void **state) {
        _cleanup_policy_ Policy *p = NULL;
        _cleanup_free_ char *text = NULL;
        PolicyErrors e = {};
        size_t n = 3000, len = 0;

        /* Many mistakes: bounded, and the last entry says so. */
        text = malloc(n * 16 + 1);
        assert_non_null(text);
        for (size_t i = 0; i < n; i++)
                len += (size_t) sprintf(text + len, "k%zu: 1\n", i);
        assert_int_equal(policy_new_default(&p), 0);
        assert_int_equal(policy_merge_buffer(p, "many", text, len, &e), -EINVAL);
        assert_int_equal(e.n_errors, 1001);
        assert_non_null(strstr(e.errors[1000].message, "too many errors"));
        assert_true(has_error(&e, "many", 1, 1, "unknown key \"k0\""));
        /* With the list full, a bad buffer still fails although nothing more is stored. */
        const char *bad = "mode: x\n";
        assert_int_equal(policy_merge_buffer(p, "more", bad, strlen(bad), &e), -EINVAL);
        assert_int_equal(e.n_errors, 1001);
        assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
        policy_errors_clear(&e);

        /* Very deep nesting stops at the limit. */
        free(text);
        text = malloc(20001);
        assert_non_null(text);
        memset(text, '[', 20000);
        text[20000] = '\0';
        assert_int_equal(policy_merge_buffer(p, "deep", text, 20000, &e), -EINVAL);
        assert_true(has_error(&e, "deep", 1, 17, "nesting deeper than 16 levels"));
        policy_errors_clear(&e);

        /* Sixteen levels are fine as far as nesting goes (the content is still wrong). */
        const char *sixteen = "mode: [[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]\n";
        assert_int_equal(policy_merge_buffer(p, "sixteen", sixteen, strlen(sixteen), &e), -EINVAL);
        assert_false(has_error_substring(&e, NULL, "nesting"));
        assert_true(has_error(&e, "sixteen", 1, 7, "wrong type"));
        policy_errors_clear(&e);

        /* Unprintable input is escaped in messages. */
        const char *ctl = "\"mo\\nde\\u001b\": x\n";
        assert_int_equal(policy_merge_buffer(p, "ctl", ctl, strlen(ctl), &e), -EINVAL);
        assert_true(has_error(&e, "ctl", 1, 1, "unknown key \"mo\\x0ade\\x1b\""));
        policy_errors_clear(&e);
}

static void test_merge_buffer_is_transactional(void **state) {
        _cleanup_policy_ Policy *p = load_buffer("mode: audit\nreservations: [{name: a, match: {vendor: 1}}]\n");
        PolicyErrors e = {};
        const char *bad = "mode: enforce\n"
                          "allowed-drivers: [x]\n"
                          "reservations: [{name: b, match: {vendor: 2}}, {name: a, match: {vendor: 3}}]\n";

        assert_int_equal(p->n_files, 1);
        assert_int_equal(policy_merge_buffer(p, "second", bad, strlen(bad), &e), -EINVAL);
        assert_int_equal(e.n_errors, 1);
        assert_true(has_error(&e, "second", 3, 54, "duplicate reservation name \"a\" (first defined at test.yaml:2:16"));
        policy_errors_clear(&e);
        /* Nothing of the bad buffer got in. */
        assert_int_equal(p->mode, POLICY_MODE_AUDIT);
        assert_int_equal(p->n_allowed_drivers, 5);
        assert_int_equal(p->n_reservations, 1);
        assert_int_equal(p->n_files, 1);

        /* A good one merges; an empty one changes nothing. */
        const char *good = "mode: enforce\n";
        assert_int_equal(policy_merge_buffer(p, "third", good, strlen(good), &e), 0);
        assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
        assert_string_equal(p->mode_mark.file, "third");
        assert_int_equal(p->n_files, 2);
        assert_int_equal(policy_merge_buffer(p, "empty", "", 0, &e), 0);
        assert_int_equal(p->n_files, 2);
        assert_int_equal(policy_merge_buffer(p, "null errors", good, strlen(good), NULL), 0);
        assert_int_equal(policy_merge_buffer(p, "null errors", bad, strlen(bad), NULL), -EINVAL);
        assert_int_equal(e.n_errors, 0);
}

static void test_driver_verdict(void **state) {
        _cleanup_policy_ Policy *d = NULL;
        const SourceMark *m = (const SourceMark *) 0x1;

        assert_int_equal(policy_new_default(&d), 0);
        assert_int_equal(policy_driver_verdict(d, "vfio-pci", &m), DRIVER_ALLOWED);
        assert_ptr_equal(m, &d->allowed_drivers[0].mark);
        assert_string_equal(m->file, POLICY_BUILTIN_FILE);
        assert_int_equal(m->line, 0);
        assert_int_equal(policy_driver_verdict(d, "mlx5-vfio-pci", &m), DRIVER_ALLOWED);
        assert_ptr_equal(m, &d->allowed_drivers[1].mark);
        assert_int_equal(policy_driver_verdict(d, "hisi_acc_vfio_pci", &m), DRIVER_ALLOWED);
        assert_ptr_equal(m, &d->allowed_drivers[2].mark);
        assert_int_equal(policy_driver_verdict(d, "pci-stub", &m), DRIVER_ALLOWED);
        assert_ptr_equal(m, &d->allowed_drivers[3].mark);
        assert_int_equal(policy_driver_verdict(d, "pcieport", &m), DRIVER_ALLOWED);
        assert_ptr_equal(m, &d->allowed_drivers[4].mark);
        assert_int_equal(policy_driver_verdict(d, "shpchp", &m), DRIVER_NOT_ALLOWED);
        assert_null(m);
        assert_int_equal(policy_driver_verdict(d, "vfio-pci2", NULL), DRIVER_NOT_ALLOWED);
        assert_int_equal(policy_driver_verdict(d, "e1000e", NULL), DRIVER_NOT_ALLOWED);
        assert_int_equal(policy_driver_verdict(d, "", NULL), DRIVER_NOT_ALLOWED);
        assert_int_equal(policy_driver_verdict(d, NULL, NULL), DRIVER_NOT_ALLOWED);
        m = (const SourceMark *) 0x1;
        assert_int_equal(policy_driver_verdict(d, "../vfio-pci", &m), DRIVER_NOT_ALLOWED);
        assert_null(m);

        _cleanup_policy_ Policy *p = load_buffer("allowed-drivers: [\"snd_hda_*\", shpchp]\n"
                                                 "denied-drivers:\n"
                                                 "  - snd_hda_intel\n"
                                                 "  - pcieport\n");
        assert_int_equal(policy_driver_verdict(p, "snd_hda_intel", &m), DRIVER_DENIED);
        assert_ptr_equal(m, &p->denied_drivers[0].mark);
        assert_int_equal(m->line, 3);
        assert_int_equal(m->column, 5);
        /* Deny wins over the built-in set too. */
        assert_int_equal(policy_driver_verdict(p, "pcieport", &m), DRIVER_DENIED);
        assert_int_equal(m->line, 4);
        assert_int_equal(policy_driver_verdict(p, "snd_hda_codec_hdmi", &m), DRIVER_ALLOWED);
        assert_ptr_equal(m, &p->allowed_drivers[5].mark);
        assert_int_equal(m->line, 1);
        assert_int_equal(m->column, 19);
        assert_int_equal(policy_driver_verdict(p, "shpchp", &m), DRIVER_ALLOWED);
        assert_int_equal(m->column, 32);
        assert_int_equal(policy_driver_verdict(p, "vfio-pci", &m), DRIVER_ALLOWED);
        assert_string_equal(m->file, POLICY_BUILTIN_FILE);
        assert_int_equal(policy_driver_verdict(p, "nouveau", &m), DRIVER_NOT_ALLOWED);
        assert_null(m);
}

static void test_driver_sets(void **state) {
        /* The kernel's set, whatever any policy says. */
        assert_true(driver_manages_dma("vfio-pci"));
        assert_true(driver_manages_dma("mlx5-vfio-pci"));
        assert_true(driver_manages_dma("hisi_acc_vfio_pci"));
        assert_true(driver_manages_dma("pci-stub"));
        assert_true(driver_manages_dma("pcieport"));
        assert_false(driver_manages_dma("shpchp"));
        assert_false(driver_manages_dma("vfio"));
        assert_false(driver_manages_dma("vfio-pci-x"));
        assert_false(driver_manages_dma("nvme"));
        assert_false(driver_manages_dma(""));
        assert_false(driver_manages_dma(NULL));

        assert_true(driver_is_vfio("vfio-pci"));
        assert_true(driver_is_vfio("mlx5-vfio-pci"));
        assert_true(driver_is_vfio("hisi_acc_vfio_pci"));
        assert_false(driver_is_vfio("pci-stub"));
        assert_false(driver_is_vfio("pcieport"));
        assert_false(driver_is_vfio("ixgbe"));
        assert_false(driver_is_vfio(NULL));
}

static PciIdentity identity(void) {
        return (PciIdentity) {
                .address = "0000:0a:00.1",
                .vendor = 0x10de,
                .device = 0x2204,
                .subsystem_vendor = 0x1458,
                .subsystem_device = 0x403b,
                .class = 0x040300,
                .iommu_group = 14,
        };
}

static void test_device_match(void **state) {
        DeviceMatch any = {
                .vendor = -1, .device = -1, .subsystem_vendor = -1, .subsystem_device = -1,
                .class_mask = 0xffffff, .iommu_group = -1,
        };
        PciIdentity id = identity();
        DeviceMatch m;

        assert_true(device_match(&any, &id));

#define CHECK_FIELD(field, good, bad)               \
        m = any;                                    \
        m.field = (good);                           \
        assert_true(device_match(&m, &id));         \
        m.field = (bad);                            \
        assert_false(device_match(&m, &id));

        CHECK_FIELD(vendor, 0x10de, 0x10df);
        CHECK_FIELD(device, 0x2204, 0x2205);
        CHECK_FIELD(subsystem_vendor, 0x1458, 0x1459);
        CHECK_FIELD(subsystem_device, 0x403b, 0);
        CHECK_FIELD(iommu_group, 14, 15);
        CHECK_FIELD(address_glob, (char *) "0000:0a:00.*", (char *) "0000:0a:00.0");
        CHECK_FIELD(address_glob, (char *) "0000:0[0-9a]:00.[13]", (char *) "0000:0[!a]:00.?");
#undef CHECK_FIELD

        m = any;
        m.has_class = true;
        m.class_value = 0x040300;
        assert_true(device_match(&m, &id));
        m.class_value = 0x040000;
        assert_false(device_match(&m, &id));
        m.class_mask = 0xff0000;
        assert_true(device_match(&m, &id));
        m.class_mask = 0xffff00;
        assert_false(device_match(&m, &id));
        m.class_value = 0x040380;
        assert_true(device_match(&m, &id));

        /* Every set field must match. */
        m = any;
        m.vendor = 0x10de;
        m.iommu_group = 14;
        m.address_glob = (char *) "0000:0b:*";
        assert_false(device_match(&m, &id));
        m.address_glob = (char *) "0000:0a:*";
        assert_true(device_match(&m, &id));

        /* A device without an IOMMU group never matches a group number. */
        id.iommu_group = -1;
        m = any;
        m.iommu_group = 0;
        assert_false(device_match(&m, &id));
        assert_true(device_match(&any, &id));
}

static void test_match_reservation(void **state) {
        _cleanup_policy_ Policy *p = load_buffer("reservations:\n"
                                                 "  - name: by-group\n"
                                                 "    match: {iommu-group: 99}\n"
                                                 "  - name: audio\n"
                                                 "    match: {vendor: 0x10de, class: 0x040000, class-mask: 0xff0000}\n"
                                                 "    whole-group: false\n"
                                                 "  - name: everything-nvidia\n"
                                                 "    match: {vendor: 0x10DE}\n"
                                                 "  - name: upper\n"
                                                 "    match: {address: \"0000:0B:00.*\"}\n"
                                                 "    driver: pci-stub\n");
        PciIdentity id = identity();
        const Reservation *r;

        r = policy_match_reservation(p, &id);
        assert_non_null(r);
        assert_string_equal(r->name, "audio"); /* the first that matches, in order */
        assert_false(r->whole_group);

        id.class = 0x030000;
        r = policy_match_reservation(p, &id);
        assert_non_null(r);
        assert_string_equal(r->name, "everything-nvidia");
        assert_string_equal(r->driver, "vfio-pci");

        id.iommu_group = 99;
        r = policy_match_reservation(p, &id);
        assert_string_equal(r->name, "by-group");

        id = identity();
        id.vendor = 0x8086;
        memcpy(id.address, "0000:0b:00.3", PCI_ADDRESS_STRLEN);
        r = policy_match_reservation(p, &id);
        assert_non_null(r);
        assert_string_equal(r->name, "upper");
        assert_string_equal(r->driver, "pci-stub");

        memcpy(id.address, "0000:0c:00.3", PCI_ADDRESS_STRLEN);
        assert_null(policy_match_reservation(p, &id));
}

/* ---- the reservation index against the plain definition ---- */

/* xorshift64*: fixed seeds, so a failure replays. */
static uint64_t test_rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n) {
        test_rng ^= test_rng >> 12;
        test_rng ^= test_rng << 25;
        test_rng ^= test_rng >> 27;
        return (uint32_t) ((test_rng * 0x2545f4914f6cdd1dull) >> 32) % n;
}

/* The definition, written out independently of the policy layer: every field that is set must agree, the address
 * glob by fnmatch(3); the first such rule in merge order wins. */
static bool reference_device_match(const DeviceMatch *m, const PciIdentity *id) {
        return (m->vendor < 0 || (uint32_t) m->vendor == id->vendor) &&
               (m->device < 0 || (uint32_t) m->device == id->device) &&
               (m->subsystem_vendor < 0 || (uint32_t) m->subsystem_vendor == id->subsystem_vendor) &&
               (m->subsystem_device < 0 || (uint32_t) m->subsystem_device == id->subsystem_device) &&
               (!m->has_class || ((id->class ^ m->class_value) & m->class_mask) == 0) &&
               (m->iommu_group < 0 || m->iommu_group == id->iommu_group) &&
               (!m->address_glob || fnmatch(m->address_glob, id->address, 0) == 0);
}

static const Reservation *reference_match(const Policy *p, const PciIdentity *id) {
        for (size_t i = 0; i < p->n_reservations; i++)
                if (reference_device_match(&p->reservations[i].match, id))
                        return &p->reservations[i];
        return NULL;
}

static const char *const random_globs[] = {
        "0000:0?:00.*", "0000:01:*", "0001:*:*.*", "*.3", "*", "0000:0[0-2]:00.?", "0000:0[!1]:*.[13]",
        "????:01:00.0", "0000:01:00.0", "*:00.*", "0000:*0.1", "*0*0*", "0000:02:00.[0-7]", "0000:01:00.*1",
};
static const uint16_t random_vendors[] = { 0x8086, 0x10de, 0x1af4, 0x1002 };

/* One reservation, with each key present or not at random, over small domains so that rules overlap a lot. */
static void random_reservation(FILE *f, unsigned n) {
        unsigned keys = 0;

        fprintf(f, "  - name: r%u\n    match:\n", n);
        while (keys == 0) {
                if (rnd(3) == 0)
                        keys++, fprintf(f, "      iommu-group: %u\n", rnd(6));
                if (rnd(2) == 0)
                        keys++, fprintf(f, "      vendor: 0x%04x\n", random_vendors[rnd(ELEMENTSOF(random_vendors))]);
                if (rnd(4) == 0)
                        keys++, fprintf(f, "      device: 0x%04x\n", 0x1000 + rnd(3));
                if (rnd(6) == 0)
                        keys++, fprintf(f, "      subsystem-vendor: 0x%04x\n", 0x1028 + rnd(2));
                if (rnd(6) == 0)
                        keys++, fprintf(f, "      subsystem-device: 0x%04x\n", rnd(2));
                if (rnd(4) == 0) {
                        keys++;
                        fprintf(f, "      class: 0x%06x\n", (0x01 + rnd(3)) << 16 | rnd(2) << 8);
                        if (rnd(2) == 0)
                                fprintf(f, "      class-mask: 0xff0000\n");
                }
                if (rnd(3) == 0)
                        keys++, fprintf(f, "      address: \"%s\"\n", random_globs[rnd(ELEMENTSOF(random_globs))]);
        }
}

static PciIdentity random_identity(void) {
        PciIdentity id = {
                .vendor = random_vendors[rnd(ELEMENTSOF(random_vendors))],
                .device = (uint16_t) (0x1000 + rnd(3)),
                .subsystem_vendor = (uint16_t) (0x1028 + rnd(2)),
                .subsystem_device = (uint16_t) rnd(2),
                .class = (0x01 + rnd(3)) << 16 | rnd(2) << 8 | rnd(2),
                .iommu_group = (int64_t) rnd(7) - 1,
        };
        (void) snprintf(id.address, sizeof(id.address), "%04x:%02x:%02x.%u", rnd(2), rnd(3), rnd(2) * 16, rnd(8));
        return id;
}

static void assert_same_answers(const Policy *p, unsigned n_identities) {
        for (unsigned k = 0; k < n_identities; k++) {
                PciIdentity id = random_identity();
                assert_ptr_equal(policy_match_reservation(p, &id), reference_match(p, &id));
        }
}

static void test_index_matches_linear(void **state) {
        for (unsigned round = 0; round < 200; round++) {
                _cleanup_policy_ Policy *p = NULL;
                unsigned n_files = 1 + rnd(3), n = 0;

                assert_int_equal(policy_new_default(&p), 0);
                /* Several merges: the index must keep merge order across files. */
                for (unsigned file = 0; file < n_files; file++) {
                        _cleanup_free_ char *text = NULL;
                        size_t size = 0;
                        FILE *f = open_memstream(&text, &size);
                        unsigned n_rules = rnd(40);

                        assert_non_null(f);
                        fputs("reservations:\n", f);
                        for (unsigned i = 0; i < n_rules; i++)
                                random_reservation(f, n++);
                        fputs(n_rules == 0 ? "mode: enforce\n" : "", f);
                        assert_int_equal(fclose(f), 0);
                        if (n_rules == 0) {
                                free(text);
                                text = strdup("mode: enforce\n");
                                assert_non_null(text);
                        }
                        assert_int_equal(policy_merge_buffer(p, "random.yaml", text, strlen(text), NULL), 0);
                }
                assert_int_equal(p->n_reservations, n);
                if (n > 0)
                        assert_non_null(p->index); /* the indexed path is the one under test */
                assert_same_answers(p, 300);

                /* Changed in place as run-time reservations are: a stale index is not trusted... */
                if (p->n_reservations > 1) {
                        Reservation gone = p->reservations[0];
                        memmove(&p->reservations[0], &p->reservations[1],
                                (p->n_reservations - 1) * sizeof(Reservation));
                        p->n_reservations--;
                        assert_same_answers(p, 50);
                        /* ...and a rebuilt one is used again. */
                        assert_int_equal(policy_index_rebuild(p), 0);
                        assert_non_null(p->index);
                        assert_same_answers(p, 300);
                        p->reservations[p->n_reservations++] = gone; /* so that policy_free() frees it */
                        assert_int_equal(policy_index_rebuild(p), 0);
                        assert_same_answers(p, 50);
                }
        }
}

/* The glob matcher the index and the driver verdicts use gives fnmatch's answer. */
static void test_glob_match_is_fnmatch(void **state) {
        static const char pattern_chars[] = "ab-_.:*?*[]!01";
        static const char string_chars[] = "ab-_.:01*?[";

        for (unsigned k = 0; k < 200000; k++) {
                char pattern[8], s[8];
                size_t lp = rnd(sizeof(pattern)), ls = rnd(sizeof(s));

                for (size_t i = 0; i < lp; i++)
                        pattern[i] = pattern_chars[rnd(sizeof(pattern_chars) - 1)];
                pattern[lp] = '\0';
                for (size_t i = 0; i < ls; i++)
                        s[i] = string_chars[rnd(sizeof(string_chars) - 1)];
                s[ls] = '\0';
                if (policy_glob_match(pattern, s) != (fnmatch(pattern, s, 0) == 0))
                        fail_msg("glob \"%s\" on \"%s\": fnmatch says %d", pattern, s, fnmatch(pattern, s, 0) == 0);
        }
        assert_true(policy_glob_match("0000:0?:00.*", "0000:01:00.3"));
        assert_false(policy_glob_match("0000:0?:00.*", "0000:11:00.3"));
        assert_true(policy_glob_match("*_vfio_pci", "mlx5_vfio_pci"));
        assert_false(policy_glob_match("*_vfio_pci", "mlx5_vfio_pcie"));
}

/* The built-in set spelled out answers as the globs it lists. */
static void test_builtin_set_is_the_globs(void **state) {
        static const char *const names[] = {
                "vfio-pci", "-vfio-pci", "mlx5-vfio-pci", "mlx5_vfio_pci", "_vfio_pci", "vfio_pci", "vfio-pcie",
                "xvfio-pci", "pci-stub", "pci-stubb", "pcieport", "pcieportx", "nvme", "e1000e", "a*-vfio-pci",
                "vfio-pci-", "hisi_acc_vfio_pci", "virtio-pci", "", "x",
        };
        static const char *const globs[] = { "vfio-pci", "*-vfio-pci", "*_vfio_pci", "pci-stub", "pcieport" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                bool vfio = false, managed = false;

                for (size_t g = 0; g < ELEMENTSOF(globs); g++)
                        if (names[i][0] && fnmatch(globs[g], names[i], 0) == 0) {
                                managed = true;
                                vfio = vfio || g < 3;
                        }
                assert_int_equal(driver_is_vfio(names[i]), vfio);
                assert_int_equal(driver_manages_dma(names[i]), managed);
        }
}

static char *print_to_string(const Policy *p) {
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        assert_non_null(f);
        policy_print(p, f);
        assert_int_equal(fclose(f), 0);
        return out;
}

/* The YAML without comment lines and without the "  # FILE:LINE" comments after values. */
static char *strip_comments(const char *text) {
        char *out = malloc(strlen(text) + 1), *o = out;
        assert_non_null(out);
        for (const char *l = text; *l;) {
                size_t len = strcspn(l, "\n");
                const char *c = strstr(l, "  # ");
                if (l[0] != '#') {
                        size_t keep = c && c < l + len ? (size_t) (c - l) : len;
                        memcpy(o, l, keep);
                        o += keep;
                        *o++ = '\n';
                }
                l += len;
                if (*l)
                        l++;
        }
        *o = '\0';
        return out;
}

static void round_trip(const Policy *p) {
        _cleanup_free_ char *text = print_to_string(p);
        _cleanup_policy_ Policy *q = NULL;
        PolicyErrors e = {};

        assert_int_equal(policy_new_default(&q), 0);
        int r = policy_merge_buffer(q, "printed", text, strlen(text), &e);
        if (r < 0) {
                fputs(text, stderr);
                policy_errors_print(&e, stderr);
        }
        assert_int_equal(r, 0);
        assert_policy_equal(p, q);

        /* And printing the copy again gives the same YAML apart from the comments naming sources. */
        _cleanup_free_ char *again = print_to_string(q);
        _cleanup_free_ char *a = strip_comments(text), *b = strip_comments(again);
        assert_string_equal(a, b);
}

static void test_print_round_trip(void **state) {
        _cleanup_free_ char *full = data_path("policy/good/full.yaml");
        _cleanup_free_ char *quoted = data_path("policy/good/quoted-values.yaml");
        char *files[] = { full, quoted };
        _cleanup_policy_ Policy *p = NULL, *d = NULL;
        PolicyErrors e = {};

        assert_int_equal(policy_load_files(files, 2, &p, &e), 0);
        round_trip(p);

        _cleanup_free_ char *text = print_to_string(p);
        _cleanup_free_ char *header = NULL, *mode_line = NULL, *res_line = NULL;
        assert_true(asprintf(&header, "# The effective dma-ownerd policy, merged from:\n#   %s\n#   %s\n", full,
                             quoted) > 0);
        assert_true(strncmp(text, header, strlen(header)) == 0);
        assert_true(asprintf(&mode_line, "\nmode: enforce  # %s:1\n", quoted) > 0);
        assert_non_null(strstr(text, mode_line));
        assert_non_null(strstr(text, "\non-violation: log  # "));
        assert_true(asprintf(&res_line, "\n  - name: \"gpu0\"  # %s:13\n", full) > 0);
        assert_non_null(strstr(text, res_line));
        assert_non_null(strstr(text, "\n      address: \"0000:0a:00.*\"\n"));
        assert_non_null(strstr(text, "\n      class-mask: 0xff0000\n"));
        assert_non_null(strstr(text, "\n    whole-group: false\n"));
        assert_non_null(strstr(text, "\n  - \"mlx5_[!v]*\"  # "));

        /* The defaults print with built-in marks and read back to the defaults. */
        assert_int_equal(policy_new_default(&d), 0);
        round_trip(d);
        _cleanup_free_ char *dt = print_to_string(d);
        assert_non_null(strstr(dt, "\nmode: enforce  # (built-in)\n"));
        assert_non_null(strstr(dt, "\nnetwork-protection: true  # (built-in)\n"));
        assert_non_null(strstr(dt, "\nallowed-drivers: []\n"));
        assert_non_null(strstr(dt, "\nreservations: []\n"));
        assert_non_null(strstr(dt, "(no files: built-in defaults only)"));

        /* Every example, too. */
        const char *dir = getenv("TEST_EXAMPLES_DIR");
        size_t n;
        assert_non_null(dir);
        char **ex = list_yaml(dir, &n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_policy_ Policy *x = NULL;
                assert_int_equal(policy_load_files(&ex[i], 1, &x, &e), 0);
                round_trip(x);
        }
        strv_free(ex);
}

static int run_check_main(char *const *files, size_t n, const PolicyPaths *paths) {
        int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int r;

        assert_true(saved_out >= 0 && saved_err >= 0 && devnull >= 0);
        fflush(stdout);
        fflush(stderr);
        assert_true(dup2(devnull, STDOUT_FILENO) >= 0);
        assert_true(dup2(devnull, STDERR_FILENO) >= 0);
        r = policy_check_main(files, n, paths);
        fflush(stdout);
        fflush(stderr);
        assert_true(dup2(saved_out, STDOUT_FILENO) >= 0);
        assert_true(dup2(saved_err, STDERR_FILENO) >= 0);
        (void) close(saved_out);
        (void) close(saved_err);
        (void) close(devnull);
        return r;
}

static void test_check_main(void **state) {
        _cleanup_free_ char *good = data_path("policy/good/full.yaml");
        _cleanup_free_ char *bad = data_path("policy/bad/invalid-mode.yaml");
        _cleanup_free_ char *dir = make_temp_dir();
        _cleanup_free_ char *admin = make_subdir(dir, "admin.d");
        char *files[] = { good, bad };

        assert_int_equal(run_check_main(files, 1, NULL), 0);
        assert_int_not_equal(run_check_main(files, 2, NULL), 0);
        assert_int_not_equal(run_check_main(&files[1], 1, NULL), 0);

        /* No files: the paths given. */
        PolicyPaths paths = { .admin_dir = admin };
        assert_int_equal(run_check_main(NULL, 0, &paths), 0);
        write_file(admin, "10-bad.yaml", "mode: nope\n");
        assert_int_not_equal(run_check_main(NULL, 0, &paths), 0);
        rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_good_corpus),
                cmocka_unit_test(test_good_corpus_contents),
                cmocka_unit_test(test_bad_corpus),
                cmocka_unit_test(test_examples),
                cmocka_unit_test(test_merge_order_and_masking),
                cmocka_unit_test(test_errors_across_files),
                cmocka_unit_test(test_non_regular_files),
                cmocka_unit_test(test_size_limit),
                cmocka_unit_test(test_bounded_errors_and_nesting),
                cmocka_unit_test(test_merge_buffer_is_transactional),
                cmocka_unit_test(test_driver_verdict),
                cmocka_unit_test(test_driver_sets),
                cmocka_unit_test(test_device_match),
                cmocka_unit_test(test_match_reservation),
                cmocka_unit_test(test_index_matches_linear),
                cmocka_unit_test(test_glob_match_is_fnmatch),
                cmocka_unit_test(test_builtin_set_is_the_globs),
                cmocka_unit_test(test_print_round_trip),
                cmocka_unit_test(test_check_main),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
