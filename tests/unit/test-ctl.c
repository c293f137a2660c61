/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure parts of dma-ownerctl: targets, exit codes, the command line, and the JSON/terminal string writers. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "bus-value.h"
#include "ctl.h"
#include "dma-ownerd/bus-names.h"
#include "dma-ownerd/macro.h"
#include "output.h"

/* Run `fn` on a memory stream and hand back what it wrote. */
#define CAPTURE(var, f, code)                                           \
        do {                                                            \
                size_t _size = 0;                                       \
                FILE *f = open_memstream(&(var), &_size);               \
                assert_non_null(f);                                     \
                code;                                                   \
                assert_int_equal(fclose(f), 0);                         \
        } while (0)

static void test_target_address(void **state) {
        Target t;

        assert_int_equal(target_parse("0000:00:1f.7", &t), 0);
        assert_int_equal(t.kind, TARGET_ADDRESS);
        assert_string_equal(t.address, "0000:00:1f.7");
        assert_string_equal(t.string, "0000:00:1f.7");

        assert_int_equal(target_parse("abcd:ef:00.0", &t), 0);
        assert_string_equal(t.string, "abcd:ef:00.0");
}

static void test_target_group(void **state) {
        Target t;

        assert_int_equal(target_parse("0", &t), 0);
        assert_int_equal(t.kind, TARGET_GROUP);
        assert_int_equal(t.group, 0);
        assert_string_equal(t.string, "0");

        assert_int_equal(target_parse("12", &t), 0);
        assert_int_equal(t.group, 12);
        assert_string_equal(t.string, "12");

        /* Leading zeros are canonicalised away before the target goes on the bus. */
        assert_int_equal(target_parse("007", &t), 0);
        assert_int_equal(t.group, 7);
        assert_string_equal(t.string, "7");

        assert_int_equal(target_parse("2147483647", &t), 0);
        assert_int_equal(t.group, 2147483647u);
        assert_string_equal(t.string, "2147483647");
}

static void test_target_invalid(void **state) {
        static const char *const bad[] = {
                "",
                "0000:00:1F.7",       /* upper case */
                "0000:00:20.0",       /* device > 0x1f */
                "0000:00:1f.8",       /* function > 7 */
                "000:00:1f.7",        /* short domain */
                "0000:00:1f.7 ",      /* trailing garbage */
                "00:1f.7",            /* no domain */
                "10000:00:00.0",      /* wide domain */
                "../../../etc/passwd",
                "0000:00:1f.7/../x",
                "-1",
                "+1",
                " 1",
                "1 ",
                "0x10",
                "1a",
                "2147483648",         /* beyond the policy's iommu-group range */
                "99999999999999999999999",
        };
        Target t = { .kind = TARGET_GROUP, .group = 4242 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(target_parse(bad[i], &t), -EINVAL);
                /* Untouched on failure. */
                assert_int_equal(t.group, 4242);
        }
        assert_int_equal(target_parse(NULL, &t), -EINVAL);
}

static void test_exit_codes(void **state) {
        assert_int_equal(exit_code_from_bus_error(DMAOWNERD_ERROR_NO_SUCH_DEVICE, -ENXIO), CTL_EXIT_NO_SUCH_OBJECT);
        assert_int_equal(exit_code_from_bus_error(DMAOWNERD_ERROR_NO_SUCH_GROUP, -ENXIO), CTL_EXIT_NO_SUCH_OBJECT);
        assert_int_equal(exit_code_from_bus_error(DMAOWNERD_ERROR_NOT_VIABLE, -EIO), CTL_EXIT_NOT_VIABLE);
        assert_int_equal(exit_code_from_bus_error(DMAOWNERD_ERROR_IN_USE, -EBUSY), CTL_EXIT_FAILURE);
        assert_int_equal(exit_code_from_bus_error(DMAOWNERD_ERROR_BUSY, -EBUSY), CTL_EXIT_FAILURE);
        assert_int_equal(exit_code_from_bus_error(DMAOWNERD_ERROR_POLICY_INVALID, -EIO), CTL_EXIT_FAILURE);
        assert_int_equal(exit_code_from_bus_error("org.freedesktop.DBus.Error.AccessDenied", -EACCES),
                         CTL_EXIT_ACCESS_DENIED);
        assert_int_equal(exit_code_from_bus_error("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                                                  -EACCES),
                         CTL_EXIT_ACCESS_DENIED);
        assert_int_equal(exit_code_from_bus_error("org.freedesktop.DBus.Error.ServiceUnknown", -EHOSTDOWN),
                         CTL_EXIT_UNREACHABLE);
        assert_int_equal(exit_code_from_bus_error("org.freedesktop.DBus.Error.Spawn.ChildExited", -EIO),
                         CTL_EXIT_UNREACHABLE);
        assert_int_equal(exit_code_from_bus_error("org.freedesktop.DBus.Error.UnknownObject", -ENXIO),
                         CTL_EXIT_NO_SUCH_OBJECT);
        assert_int_equal(exit_code_from_bus_error("org.freedesktop.DBus.Error.InvalidArgs", -EINVAL),
                         CTL_EXIT_USAGE);
        assert_int_equal(exit_code_from_bus_error("com.example.Whatever", -EIO), CTL_EXIT_FAILURE);

        /* Local failures while connecting. */
        assert_int_equal(exit_code_from_bus_error(NULL, -ENOENT), CTL_EXIT_UNREACHABLE);
        assert_int_equal(exit_code_from_bus_error(NULL, -ECONNREFUSED), CTL_EXIT_UNREACHABLE);
        assert_int_equal(exit_code_from_bus_error(NULL, -EACCES), CTL_EXIT_ACCESS_DENIED);
        assert_int_equal(exit_code_from_bus_error(NULL, -ENOMEM), CTL_EXIT_FAILURE);
}

/* Parse a command line given as a NULL-terminated list; the parser may permute argv, so it gets a copy. */
static int parse(CtlArgs *a, char **ret_err, ...) {
        char *argv[32];
        int argc = 0, r;
        va_list ap;

        argv[argc++] = (char *) "dma-ownerctl";
        va_start(ap, ret_err);
        for (const char *s; (s = va_arg(ap, const char *));)
                argv[argc++] = (char *) s;
        va_end(ap);
        argv[argc] = NULL;

        *ret_err = NULL;
        CAPTURE(*ret_err, f, r = ctl_parse_argv(argc, argv, a, f));
        return r;
}

static void test_argv_verbs(void **state) {
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL, *e7 = NULL,
                           *e8 = NULL, *e9 = NULL;
        CtlArgs a;

        assert_int_equal(parse(&a, &e1, NULL), 0);
        assert_int_equal(a.verb, VERB_LIST);
        assert_false(a.json);
        assert_null(a.bus_address);
        assert_string_equal(e1, "");

        assert_int_equal(parse(&a, &e2, "list", "--json", NULL), 0);
        assert_int_equal(a.verb, VERB_LIST);
        assert_true(a.json);

        assert_int_equal(parse(&a, &e3, "--address=unix:path=/tmp/x", "--json", "show", "0000:01:00.0", NULL), 0);
        assert_int_equal(a.verb, VERB_SHOW);
        assert_string_equal(a.bus_address, "unix:path=/tmp/x");
        assert_int_equal(a.target.kind, TARGET_ADDRESS);
        assert_string_equal(a.target.address, "0000:01:00.0");

        assert_int_equal(parse(&a, &e4, "assign", "--force", "12", "--persist", NULL), 0);
        assert_int_equal(a.verb, VERB_ASSIGN);
        assert_true(a.force);
        assert_true(a.persist);
        assert_int_equal(a.target.kind, TARGET_GROUP);
        assert_int_equal(a.target.group, 12);

        assert_int_equal(parse(&a, &e5, "release", "--persist", "0000:01:00.0", NULL), 0);
        assert_int_equal(a.verb, VERB_RELEASE);
        assert_true(a.persist);
        assert_false(a.force);
        free(e5);

        assert_int_equal(parse(&a, &e5, "mode", NULL), 0);
        assert_int_equal(a.verb, VERB_MODE);
        assert_null(a.mode);

        assert_int_equal(parse(&a, &e6, "mode", "audit", NULL), 0);
        assert_string_equal(a.mode, "audit");

        assert_int_equal(parse(&a, &e7, "policy", "check", "a.yaml", "--", "-b.yaml", NULL), 0);
        assert_int_equal(a.verb, VERB_POLICY_CHECK);
        assert_int_equal(a.n_files, 2);
        assert_string_equal(a.files[0], "a.yaml");
        assert_string_equal(a.files[1], "-b.yaml");

        assert_int_equal(parse(&a, &e8, "monitor", "--json", NULL), 0);
        assert_int_equal(a.verb, VERB_MONITOR);
        assert_true(a.json);

        /* --help wins over everything else, even a bad verb. */
        assert_int_equal(parse(&a, &e9, "frobnicate", "--help", NULL), 0);
        assert_int_equal(a.verb, VERB_HELP);
        assert_string_equal(e9, "");
}

static void test_argv_errors(void **state) {
        static const struct {
                const char *args[4];
                const char *message;
        } cases[] = {
                { { "show", "0000:00:1F.0" },
                  "dma-ownerctl: invalid target \"0000:00:1F.0\": expected a PCI address dddd:bb:dd.f or a group "
                  "number\n" },
                { { "check", "../x" },
                  "dma-ownerctl: invalid target \"../x\": expected a PCI address dddd:bb:dd.f or a group number\n" },
                /* Control characters in the argument are escaped rather than sent to the terminal. */
                { { "assign", "\033[2J" },
                  "dma-ownerctl: invalid target \"\\x1b[2J\": expected a PCI address dddd:bb:dd.f or a group "
                  "number\n" },
                { { "show" }, "dma-ownerctl: show needs exactly one TARGET\n" },
                { { "release", "1", "2" }, "dma-ownerctl: release needs exactly one TARGET\n" },
                { { "release", "--force", "1" }, "dma-ownerctl: --force only applies to assign\n" },
                { { "check", "--persist", "1" }, "dma-ownerctl: --persist only applies to assign and release\n" },
                { { "rescan", "1" }, "dma-ownerctl: rescan takes no arguments\n" },
                { { "list", "extra" }, "dma-ownerctl: list takes no arguments\n" },
                { { "mode", "permissive" }, "dma-ownerctl: invalid mode \"permissive\": expected enforce or audit\n" },
                { { "mode", "audit", "--json" }, "dma-ownerctl: --json does not apply to mode with an argument\n" },
                { { "reload", "--json" }, "dma-ownerctl: --json does not apply to reload\n" },
                { { "policy" }, "dma-ownerctl: policy: expected \"check\" or \"generate\"\n" },
                { { "frobnicate" }, "dma-ownerctl: unknown command \"frobnicate\", see --help\n" },
                { { "--bogus" }, "dma-ownerctl: unknown option \"--bogus\", see --help\n" },
                { { "--address" }, "dma-ownerctl: option \"--address\" needs an argument\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *err = NULL;
                CtlArgs a = { .verb = VERB_RELOAD };
                int r;

                r = parse(&a, &err, cases[i].args[0], cases[i].args[1], cases[i].args[2], cases[i].args[3]);
                assert_int_equal(r, -EINVAL);
                assert_string_equal(err, cases[i].message);
                /* *ret is untouched on failure. */
                assert_int_equal(a.verb, VERB_RELOAD);
        }
}

static void test_json_string(void **state) {
        static const struct {
                const char *in;
                const char *out;
        } cases[] = {
                { "vfio-pci", "\"vfio-pci\"" },
                { "", "\"\"" },
                { "a\"b\\c", "\"a\\\"b\\\\c\"" },
                { "tab\there\nnl\r", "\"tab\\there\\nnl\\r\"" },
                { "\033[31m\x01\x7f", "\"\\u001b[31m\\u0001\\u007f\"" },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\"" },
                { "bad\xff", "\"bad\\ufffd\"" },
                { "\xc0\xaf", "\"\\ufffd\\ufffd\"" },            /* overlong '/' */
                { "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
                { "cut\xe2\x82", "\"cut\\ufffd\\ufffd\"" },      /* truncated at the end */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = NULL;
                CAPTURE(out, f, json_write_string(f, cases[i].in));
                assert_string_equal(out, cases[i].out);
        }

        _cleanup_free_ char *null_out = NULL;
        CAPTURE(null_out, f, json_write_string(f, NULL));
        assert_string_equal(null_out, "null");
}

static void test_tty_string(void **state) {
        static const struct {
                const char *in;
                const char *out;
        } cases[] = {
                { "qemu-system-x86", "qemu-system-x86" },
                { "\033]0;owned\007", "\\x1b]0;owned\\x07" },
                { "machine-qemu\\x2d1.scope", "machine-qemu\\x2d1.scope" },
                { "c1\xc2\x9b" "2J", "c1\\xc2\\x9b2J" }, /* C1 CSI */
                { "caf\xc3\xa9", "caf\xc3\xa9" },
                { "bad\xff", "bad\\xff" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = NULL;
                CAPTURE(out, f, tty_write_string(f, cases[i].in));
                assert_string_equal(out, cases[i].out);
        }
}

static void test_colour(void **state) {
        assert_string_equal(colour(false, COLOUR_RED), "");
        assert_string_equal(colour(true, COLOUR_RED), "\033[31m");
        assert_string_equal(colour(true, COLOUR_RESET), "\033[0m");

        assert_int_equal(setenv("NO_COLOR", "1", 1), 0);
        assert_false(colour_wanted(STDOUT_FILENO));
        assert_int_equal(unsetenv("NO_COLOR"), 0);
        assert_int_equal(setenv("TERM", "dumb", 1), 0);
        assert_false(colour_wanted(STDOUT_FILENO));
        /* A pipe or file is never coloured. */
        assert_int_equal(setenv("TERM", "xterm", 1), 0);
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_false(colour_wanted(fileno(f)));
        fclose(f);
}

static void test_bus_value(void **state) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL;
        _cleanup_free_ char *json = NULL, *text = NULL;
        int fds[2];

        /* sd-bus builds messages only on a started connection: start one on a socket pair whose other end never
         * answers. The message is sealed and read back, never sent. */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        assert_int_equal(sd_bus_new(&bus), 0);
        assert_int_equal(sd_bus_set_fd(bus, fds[0], fds[0]), 0);
        assert_true(sd_bus_start(bus) >= 0);
        assert_int_equal(sd_bus_message_new_signal(bus, &m, "/org/dmaownerd1/group/3",
                                                   "org.freedesktop.DBus.Properties", "PropertiesChanged"),
                         0);
        assert_true(sd_bus_message_append(m, "sa{sv}as", DMAOWNERD_GROUP_INTERFACE, 4,
                                               "Owner", "s", "user\n",
                                               "Viable", "b", 0,
                                               "Holders", "a(uss)", 1, 42, "qemu", "vm.scope",
                                               "Number", "u", 3,
                                               1, "Blockers") >= 0);
        assert_true(sd_bus_message_seal(m, 1, 0) >= 0);

        assert_true(sd_bus_message_skip(m, "s") >= 0);
        CAPTURE(json, f, assert_int_equal(bus_value_write(f, m, true), 0));
        assert_string_equal(json,
                            "{\"Owner\":\"user\\n\",\"Viable\":false,\"Holders\":[[42,\"qemu\",\"vm.scope\"]],"
                            "\"Number\":3}");
        assert_int_equal(sd_bus_message_rewind(m, true), 1);
        assert_true(sd_bus_message_skip(m, "sa{sv}") >= 0);
        CAPTURE(text, f, assert_int_equal(bus_value_write(f, m, false), 0));
        assert_string_equal(text, "[Blockers]");

        sd_bus_message_unref(m);
        sd_bus_close_unref(bus); /* closes fds[0] */
        close(fds[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_target_address),
                cmocka_unit_test(test_target_group),
                cmocka_unit_test(test_target_invalid),
                cmocka_unit_test(test_exit_codes),
                cmocka_unit_test(test_argv_verbs),
                cmocka_unit_test(test_argv_errors),
                cmocka_unit_test(test_json_string),
                cmocka_unit_test(test_tty_string),
                cmocka_unit_test(test_colour),
                cmocka_unit_test(test_bus_value),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
