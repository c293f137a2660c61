/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The stderr form of the audit trail: every record kind is emitted into a captured stderr, parsed back with an
 * independent parser, and its MESSAGE_ID and fields checked. Hostile values must come back byte for byte. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "dma-ownerd/macro.h"

#define FIELDS_MAX 40
#define LINES_MAX 16

typedef struct ParsedLine {
        char *keys[FIELDS_MAX];
        char *values[FIELDS_MAX];
        size_t n;
        long pid;
        char *rest; /* log_msg lines: everything after "dma-ownerd[PID]: " */
} ParsedLine;

typedef struct Capture {
        int saved_stderr;
        char path[64];
        ParsedLine lines[LINES_MAX];
        size_t n_lines;
        char *raw;
} Capture;

static void parsed_line_done(ParsedLine *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->keys[i]);
                free(l->values[i]);
        }
        free(l->rest);
        *l = (ParsedLine) {};
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Decode one value starting at *p (quoted or plain); advances *p past it. Fails the test on malformed input. */
static char *parse_value(const char **p) {
        char *out = malloc(strlen(*p) + 1);
        size_t n = 0;
        const char *s = *p;

        assert_non_null(out);
        if (*s != '"') {
                while (*s && *s != ' ' && *s != '\n') {
                        /* Unquoted values hold only [A-Za-z0-9_.:/+-]. */
                        assert_true(isalnum((unsigned char) *s) || strchr("_.:/+-", *s));
                        out[n++] = *s++;
                }
                assert_true(n > 0);
                out[n] = '\0';
                *p = s;
                return out;
        }

        for (s++; *s != '"'; s++) {
                assert_true(*s != '\0' && *s != '\n');
                assert_true((unsigned char) *s >= 0x20 && (unsigned char) *s < 0x7f);
                if (*s != '\\') {
                        out[n++] = *s;
                        continue;
                }
                s++;
                switch (*s) {
                case '"':
                case '\\':
                        out[n++] = *s;
                        break;
                case 'n':
                        out[n++] = '\n';
                        break;
                case 't':
                        out[n++] = '\t';
                        break;
                case 'x': {
                        int hi = hexval(s[1]), lo = hexval(s[2]);
                        assert_true(hi >= 0 && lo >= 0);
                        out[n++] = (char) (hi << 4 | lo);
                        s += 2;
                        break;
                }
                default:
                        fail_msg("bad escape \\%c", *s);
                }
        }
        out[n] = '\0';
        *p = s + 1;
        return out;
}

/* "dma-ownerd[PID]: KEY=VALUE KEY=VALUE…" into keys and decoded values; a log_msg line keeps its text in `rest`. */
static void parse_line(const char *line, ParsedLine *ret) {
        const char *p = line;
        char *end;

        *ret = (ParsedLine) {};
        assert_int_equal(strncmp(p, "dma-ownerd[", 11), 0);
        p += 11;
        ret->pid = strtol(p, &end, 10);
        assert_true(end != p);
        assert_int_equal(strncmp(end, "]: ", 3), 0);
        p = end + 3;

        if (strncmp(p, "MESSAGE_ID=", 11) != 0) {
                ret->rest = strdup(p);
                assert_non_null(ret->rest);
                return;
        }

        for (;;) {
                const char *eq = strchr(p, '=');

                assert_non_null(eq);
                assert_true(eq > p);
                for (const char *k = p; k < eq; k++)
                        assert_true(isupper((unsigned char) *k) || *k == '_');
                assert_true(ret->n < FIELDS_MAX);
                ret->keys[ret->n] = strndup(p, (size_t) (eq - p));
                p = eq + 1;
                ret->values[ret->n] = parse_value(&p);
                ret->n++;
                if (*p == '\0')
                        break;
                assert_int_equal(*p, ' ');
                p++;
        }
}

static const char *field(const ParsedLine *l, const char *key) {
        const char *found = NULL;

        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->keys[i], key) == 0) {
                        assert_null(found); /* every key at most once */
                        found = l->values[i];
                }
        return found;
}

static void assert_field(const ParsedLine *l, const char *key, const char *expected) {
        const char *v = field(l, key);

        if (!v)
                fail_msg("field %s missing", key);
        assert_string_equal(v, expected);
}

static void capture_begin(Capture *c) {
        int fd;

        *c = (Capture) {};
        strcpy(c->path, "/tmp/test-audit-XXXXXX");
        fd = mkstemp(c->path);
        assert_true(fd >= 0);
        (void) fflush(stderr);
        c->saved_stderr = dup(STDERR_FILENO);
        assert_true(c->saved_stderr >= 0);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        (void) close(fd);
        audit_init(AUDIT_TARGET_STDERR);
}

/* Restore stderr, read what was written, and split it into parsed lines. */
static void capture_end(Capture *c) {
        FILE *f;
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        struct stat st;

        (void) fflush(stderr);
        assert_true(dup2(c->saved_stderr, STDERR_FILENO) >= 0);
        (void) close(c->saved_stderr);

        assert_int_equal(stat(c->path, &st), 0);
        c->raw = calloc(1, (size_t) st.st_size + 1);
        assert_non_null(c->raw);
        f = fopen(c->path, "re");
        assert_non_null(f);
        (void) unlink(c->path); /* before any assertion can leave it behind */
        assert_int_equal(fread(c->raw, 1, (size_t) st.st_size, f), (size_t) st.st_size);
        rewind(f);

        while ((n = getline(&line, &size, f)) > 0) {
                assert_true(c->n_lines < LINES_MAX);
                assert_int_equal(line[n - 1], '\n');
                line[n - 1] = '\0';
                /* Nothing but printable ASCII inside a line. */
                for (ssize_t i = 0; i < n - 1; i++)
                        assert_true((unsigned char) line[i] >= 0x20 && (unsigned char) line[i] < 0x7f);
                parse_line(line, &c->lines[c->n_lines]);
                assert_int_equal(c->lines[c->n_lines].pid, (long) getpid());
                c->n_lines++;
        }
        free(line);
        (void) fclose(f);
}

static void capture_done(Capture *c) {
        for (size_t i = 0; i < c->n_lines; i++)
                parsed_line_done(&c->lines[i]);
        free(c->raw);
}

static Decision violation(void) {
        Decision d = {
                .kind = DECISION_VIOLATION,
                .address = "0000:00:03.0",
                .group = 5,
                .driver = "e1000",
                .target_driver = "vfio-pci",
                .rule_name = "gpu",
                .rule = { .file = "/etc/dma-ownerd/policy.d/gpu.yaml", .line = 4, .column = 5 },
                .n_steps = 3,
                .steps = {
                        { .kind = STEP_SET_OVERRIDE, .driver = "vfio-pci" },
                        { .kind = STEP_UNBIND, .driver = "e1000" },
                        { .kind = STEP_PROBE },
                },
        };
        return d;
}

static void test_violation_record(void **state) {
        Capture c;
        Decision d = violation();

        capture_begin(&c);
        audit_decision(&d, POLICY_MODE_ENFORCE);
        capture_end(&c);

        assert_int_equal(c.n_lines, 1);
        const ParsedLine *l = &c.lines[0];
        /* The documented order of the fixed head. */
        assert_string_equal(l->keys[0], "MESSAGE_ID");
        assert_string_equal(l->keys[1], "PRIORITY");
        assert_string_equal(l->keys[2], "KIND");
        assert_string_equal(l->keys[l->n - 1], "MESSAGE");

        assert_field(l, "MESSAGE_ID", AUDIT_MID_VIOLATION);
        assert_field(l, "PRIORITY", "4");
        assert_field(l, "KIND", "violation");
        assert_field(l, "DECISION", "violation");
        assert_field(l, "DEVICE", "0000:00:03.0");
        assert_field(l, "GROUP", "5");
        assert_field(l, "DRIVER", "e1000");
        assert_field(l, "TARGET_DRIVER", "vfio-pci");
        assert_field(l, "RULE", "/etc/dma-ownerd/policy.d/gpu.yaml:4");
        assert_field(l, "RULE_NAME", "gpu");
        assert_field(l, "MODE", "enforce");
        assert_field(l, "ACTION", "set-override+unbind+probe");
        assert_field(l, "DRY_RUN", "0");
        assert_null(field(l, "BLOCKER"));
        assert_null(field(l, "INTERFACE"));
        assert_null(field(l, "RESULT"));
        assert_field(l, "MESSAGE",
                     "0000:00:03.0: e1000 is bound in IOMMU group 5 where it is not allowed (rule gpu at "
                     "/etc/dma-ownerd/policy.d/gpu.yaml:4), unbinding it and handing the device to vfio-pci");

        /* Plain values are not quoted, the message is. */
        assert_non_null(strstr(c.raw, " DEVICE=0000:00:03.0 "));
        assert_non_null(strstr(c.raw, " MESSAGE=\"0000:00:03.0: e1000 is bound"));
        capture_done(&c);
}

static void test_dry_run_records(void **state) {
        Capture c;
        Decision d = violation();

        d.dry_run = true;
        capture_begin(&c);
        audit_decision(&d, POLICY_MODE_AUDIT);
        audit_decision(&d, POLICY_MODE_ENFORCE); /* on-violation: log */
        capture_end(&c);

        assert_int_equal(c.n_lines, 2);
        assert_field(&c.lines[0], "MESSAGE_ID", AUDIT_MID_VIOLATION);
        assert_field(&c.lines[0], "DRY_RUN", "1");
        assert_field(&c.lines[0], "MODE", "audit");
        assert_field(&c.lines[0], "ACTION", "set-override+unbind+probe"); /* what would have been done */
        assert_non_null(strstr(field(&c.lines[0], "MESSAGE"), "audit mode, leaving it bound"));
        assert_field(&c.lines[1], "DRY_RUN", "1");
        assert_field(&c.lines[1], "MODE", "enforce");
        assert_non_null(strstr(field(&c.lines[1], "MESSAGE"), "on-violation is log, leaving it bound"));
        capture_done(&c);
}

static void test_decision_kinds(void **state) {
        Capture c;
        Decision reserve = {
                .kind = DECISION_RESERVE,
                .address = "0000:01:00.0",
                .group = 12,
                .target_driver = "vfio-pci",
                .rule_name = "gpu",
                .rule = { .file = "/etc/dma-ownerd/policy.yaml", .line = 7 },
                .n_steps = 2,
                .steps = { { .kind = STEP_SET_OVERRIDE, .driver = "vfio-pci" }, { .kind = STEP_PROBE } },
        };
        Decision pin = {
                .kind = DECISION_PIN,
                .address = "0000:01:00.1",
                .group = 12,
                .target_driver = "vfio-pci",
                .n_steps = 1,
                .steps = { { .kind = STEP_SET_OVERRIDE, .driver = "vfio-pci" } },
        };
        Decision unpin = {
                .kind = DECISION_UNPIN,
                .address = "0000:01:00.1",
                .group = 12,
                .n_steps = 2,
                .steps = { { .kind = STEP_CLEAR_OVERRIDE }, { .kind = STEP_PROBE } },
        };
        Decision not_viable = {
                .kind = DECISION_NOT_VIABLE,
                .address = "0000:01:00.0",
                .group = 12,
                .blocker = "0000:01:00.1",
                .blocker_driver = "snd_hda_intel",
                .rule_name = "gpu",
                .rule = { .file = "/etc/dma-ownerd/policy.yaml", .line = 7 },
        };
        Decision net = {
                .kind = DECISION_NET_PROTECTED,
                .address = "0000:00:03.0",
                .group = 5,
                .driver = "e1000",
                .interface = "enp0s3",
                .rule = { .file = POLICY_BUILTIN_FILE, .line = 0 },
        };

        capture_begin(&c);
        audit_decision(&reserve, POLICY_MODE_ENFORCE);
        audit_decision(&pin, POLICY_MODE_ENFORCE);
        audit_decision(&unpin, POLICY_MODE_ENFORCE);
        audit_decision(&not_viable, POLICY_MODE_ENFORCE);
        audit_decision(&net, POLICY_MODE_ENFORCE);
        capture_end(&c);

        assert_int_equal(c.n_lines, 5);

        assert_field(&c.lines[0], "MESSAGE_ID", AUDIT_MID_DECISION);
        assert_field(&c.lines[0], "KIND", "reserve");
        assert_field(&c.lines[0], "PRIORITY", "6");
        assert_field(&c.lines[0], "ACTION", "set-override+probe");
        assert_field(&c.lines[0], "GROUP", "12");
        assert_field(&c.lines[0], "RULE", "/etc/dma-ownerd/policy.yaml:7");
        assert_null(field(&c.lines[0], "DRIVER")); /* unbound: no empty field */

        assert_field(&c.lines[1], "MESSAGE_ID", AUDIT_MID_DECISION);
        assert_field(&c.lines[1], "KIND", "pin");
        assert_field(&c.lines[1], "TARGET_DRIVER", "vfio-pci");
        assert_null(field(&c.lines[1], "RULE"));
        assert_null(field(&c.lines[1], "RULE_NAME"));

        assert_field(&c.lines[2], "MESSAGE_ID", AUDIT_MID_DECISION);
        assert_field(&c.lines[2], "KIND", "unpin");
        assert_field(&c.lines[2], "ACTION", "clear-override+probe");

        assert_field(&c.lines[3], "MESSAGE_ID", AUDIT_MID_NOT_VIABLE);
        assert_field(&c.lines[3], "KIND", "not-viable");
        assert_field(&c.lines[3], "PRIORITY", "4");
        assert_field(&c.lines[3], "BLOCKER", "0000:01:00.1");
        assert_field(&c.lines[3], "BLOCKER_DRIVER", "snd_hda_intel");
        assert_null(field(&c.lines[3], "ACTION"));
        assert_field(&c.lines[3], "MESSAGE",
                     "0000:01:00.0: reservation cannot give IOMMU group 12 to user space (rule gpu at "
                     "/etc/dma-ownerd/policy.yaml:7): member 0000:01:00.1 is bound to snd_hda_intel");

        assert_field(&c.lines[4], "MESSAGE_ID", AUDIT_MID_NET_PROTECTED);
        assert_field(&c.lines[4], "KIND", "net-protected");
        assert_field(&c.lines[4], "PRIORITY", "5");
        assert_field(&c.lines[4], "INTERFACE", "enp0s3");
        assert_field(&c.lines[4], "RULE", POLICY_BUILTIN_FILE);
        assert_field(&c.lines[4], "MESSAGE",
                     "0000:00:03.0: not unbinding e1000 from IOMMU group 5 (the built-in policy): interface enp0s3 is "
                     "in use (network-protection)");
        capture_done(&c);
}

static void test_step_records(void **state) {
        Capture c;
        Decision d = violation();

        capture_begin(&c);
        audit_step(&d, &d.steps[0], POLICY_MODE_ENFORCE, 0);
        audit_step(&d, &d.steps[1], POLICY_MODE_ENFORCE, -EBUSY);
        audit_step(&d, &d.steps[2], POLICY_MODE_ENFORCE, -ESTALE);
        capture_end(&c);

        assert_int_equal(c.n_lines, 3);

        assert_field(&c.lines[0], "MESSAGE_ID", AUDIT_MID_ACTION_DONE);
        assert_field(&c.lines[0], "KIND", "action");
        assert_field(&c.lines[0], "PRIORITY", "5");
        assert_field(&c.lines[0], "ACTION", "set-override");
        assert_field(&c.lines[0], "DECISION", "violation");
        assert_field(&c.lines[0], "TARGET_DRIVER", "vfio-pci");
        assert_field(&c.lines[0], "RESULT", "ok");
        assert_null(field(&c.lines[0], "ERRNO"));
        assert_field(&c.lines[0], "MESSAGE", "0000:00:03.0: driver_override set to vfio-pci");

        assert_field(&c.lines[1], "MESSAGE_ID", AUDIT_MID_ACTION_FAILED);
        assert_field(&c.lines[1], "PRIORITY", "3");
        assert_field(&c.lines[1], "ACTION", "unbind");
        assert_field(&c.lines[1], "DRIVER", "e1000");
        assert_field(&c.lines[1], "RESULT", "EBUSY");
        assert_field(&c.lines[1], "ERRNO", "16");
        assert_field(&c.lines[1], "RULE", "/etc/dma-ownerd/policy.d/gpu.yaml:4");
        assert_field(&c.lines[1], "MESSAGE", "0000:00:03.0: failed to unbind from e1000: Device or resource busy");

        assert_field(&c.lines[2], "MESSAGE_ID", AUDIT_MID_ACTION_FAILED);
        assert_field(&c.lines[2], "ACTION", "probe");
        assert_field(&c.lines[2], "RESULT", "ESTALE");
        assert_field(&c.lines[2], "ERRNO", "116");
        capture_done(&c);
}

static void test_policy_records(void **state) {
        Capture c;
        char *files[] = { (char *) "/etc/dma-ownerd/policy.yaml", (char *) "/etc/dma-ownerd/policy.d/gpu.yaml" };
        Policy p = {
                .mode = POLICY_MODE_AUDIT,
                .on_violation = VIOLATION_LOG,
                .network_protection = true,
                .n_reservations = 2,
                .files = files,
                .n_files = 2,
        };
        PolicyError errs[] = {
                { .file = (char *) "/etc/dma-ownerd/policy.yaml", .line = 3, .column = 7,
                  .message = (char *) "unknown key \"moed\"" },
                { .file = (char *) "/etc/dma-ownerd/policy.d/x.yaml", .line = 1, .column = 1,
                  .message = (char *) "not a mapping" },
        };
        PolicyErrors errors = { .errors = errs, .n_errors = 2 };

        capture_begin(&c);
        audit_policy_loaded(&p);
        audit_policy_rejected(&errors, true);
        audit_policy_rejected(&(PolicyErrors) {}, false);
        capture_end(&c);

        assert_int_equal(c.n_lines, 5);

        assert_field(&c.lines[0], "MESSAGE_ID", AUDIT_MID_POLICY_LOADED);
        assert_field(&c.lines[0], "KIND", "policy-loaded");
        assert_field(&c.lines[0], "MODE", "audit");
        assert_field(&c.lines[0], "POLICY_FILES", "/etc/dma-ownerd/policy.yaml /etc/dma-ownerd/policy.d/gpu.yaml");
        assert_field(&c.lines[0], "RESERVATIONS", "2");

        assert_field(&c.lines[1], "MESSAGE_ID", AUDIT_MID_POLICY_REJECTED);
        assert_field(&c.lines[1], "PRIORITY", "3");
        assert_field(&c.lines[1], "KIND", "policy-error");
        assert_field(&c.lines[1], "RULE", "/etc/dma-ownerd/policy.yaml:3");
        assert_field(&c.lines[1], "MESSAGE", "/etc/dma-ownerd/policy.yaml:3:7: unknown key \"moed\"");
        assert_field(&c.lines[2], "RULE", "/etc/dma-ownerd/policy.d/x.yaml:1");

        assert_field(&c.lines[3], "MESSAGE_ID", AUDIT_MID_POLICY_REJECTED);
        assert_field(&c.lines[3], "KIND", "policy-rejected");
        assert_field(&c.lines[3], "ERRORS", "2");
        assert_field(&c.lines[3], "KEPT_PREVIOUS", "1");
        assert_field(&c.lines[3], "MESSAGE", "policy rejected with 2 errors, the previous policy stays in effect");

        assert_field(&c.lines[4], "ERRORS", "0");
        assert_field(&c.lines[4], "KEPT_PREVIOUS", "0");
        capture_done(&c);
}

static void test_started_record(void **state) {
        Capture c;

        capture_begin(&c);
        audit_started("/sys", 42, 17, false);
        capture_end(&c);

        assert_int_equal(c.n_lines, 1);
        assert_field(&c.lines[0], "MESSAGE_ID", AUDIT_MID_STARTED);
        assert_field(&c.lines[0], "PRIORITY", "6");
        assert_field(&c.lines[0], "KIND", "started");
        assert_field(&c.lines[0], "SYSFS_ROOT", "/sys");
        assert_field(&c.lines[0], "DEVICES", "42");
        assert_field(&c.lines[0], "GROUPS", "17");
        assert_field(&c.lines[0], "KERNEL_DMA_OWNERSHIP", "0");
        capture_done(&c);
}

static void test_escaping_round_trip(void **state) {
        static const char hostile[] = "/tmp/we ird \"q\" \\back\nline\x01\x1b[31m\t\x7f\xc3\xa9=.yaml";
        static const char hostile_name[] = "has space=and \"quotes\"\n";
        Capture c;
        Decision d = violation();

        d.rule.file = hostile;
        d.rule.line = 9;
        d.rule_name = hostile_name;
        strcpy(d.interface, "e\"n\\p\n\x02");

        capture_begin(&c);
        audit_decision(&d, POLICY_MODE_ENFORCE);
        audit_started(hostile, 0, 0, true);
        capture_end(&c);

        /* Two records, two lines, whatever the values held. */
        assert_int_equal(c.n_lines, 2);
        size_t newlines = 0;
        for (const char *p = c.raw; *p; p++)
                newlines += *p == '\n';
        assert_int_equal(newlines, 2);
        assert_null(strchr(c.raw, '\x1b'));

        _cleanup_free_ char *rule = NULL;
        assert_true(asprintf(&rule, "%s:9", hostile) > 0);
        assert_field(&c.lines[0], "RULE", rule);
        assert_field(&c.lines[0], "RULE_NAME", hostile_name);
        assert_field(&c.lines[0], "INTERFACE", "e\"n\\p\n\x02");
        assert_field(&c.lines[1], "SYSFS_ROOT", hostile);
        assert_non_null(strstr(field(&c.lines[1], "MESSAGE"), hostile));

        /* The escapes as documented. */
        assert_non_null(strstr(c.raw, "RULE_NAME=\"has space=and \\\"quotes\\\"\\n\""));
        assert_non_null(strstr(c.raw, "\\x01\\x1b[31m\\t\\x7f\\xc3\\xa9"));
        capture_done(&c);
}

static void test_log_msg(void **state) {
        Capture c;

        capture_begin(&c);
        log_msg(LOG_WARNING, "group %u: two\nlines and a \x1b escape", 7u);
        log_msg(LOG_INFO, "%s", "plain");
        log_msg(LOG_ERR | LOG_DAEMON, "with a facility");
        capture_end(&c);

        assert_int_equal(c.n_lines, 3);
        assert_string_equal(c.lines[0].rest, "warning: group 7: two\\nlines and a \\x1b escape");
        assert_string_equal(c.lines[1].rest, "info: plain");
        assert_string_equal(c.lines[2].rest, "err: with a facility");
        capture_done(&c);
}

static void test_target_strings(void **state) {
        AuditTarget t = AUDIT_TARGET_STDERR;

        assert_int_equal(audit_target_from_string("auto", &t), 0);
        assert_int_equal(t, AUDIT_TARGET_AUTO);
        assert_int_equal(audit_target_from_string("journal", &t), 0);
        assert_int_equal(t, AUDIT_TARGET_JOURNAL);
        assert_int_equal(audit_target_from_string("stderr", &t), 0);
        assert_int_equal(t, AUDIT_TARGET_STDERR);

        static const char *const bad[] = { "", "Journal", "syslog", "stderr ", "auto\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                t = AUDIT_TARGET_JOURNAL;
                assert_int_equal(audit_target_from_string(bad[i], &t), -EINVAL);
                assert_int_equal(t, AUDIT_TARGET_JOURNAL); /* untouched on failure */
        }
        assert_int_equal(audit_target_from_string(NULL, &t), -EINVAL);

        for (AuditTarget i = AUDIT_TARGET_AUTO; i <= AUDIT_TARGET_STDERR; i++) {
                AuditTarget back;
                assert_int_equal(audit_target_from_string(audit_target_to_string(i), &back), 0);
                assert_int_equal(back, i);
        }
        assert_null(audit_target_to_string((AuditTarget) 3));
}

static void test_auto_target(void **state) {
        Capture c;
        struct stat st;
        _cleanup_free_ char *stream = NULL;

        /* Only decides the target; nothing is sent, so the host's journal is never written. */
        capture_begin(&c);
        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        assert_true(asprintf(&stream, "%llu:%llu", (unsigned long long) st.st_dev,
                             (unsigned long long) st.st_ino) > 0);

        assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
        audit_init(AUDIT_TARGET_AUTO);
        assert_true(audit_to_journal());

        assert_int_equal(setenv("JOURNAL_STREAM", "1:2", 1), 0);
        audit_init(AUDIT_TARGET_AUTO);
        assert_false(audit_to_journal());

        _cleanup_free_ char *trailing = NULL;
        assert_true(asprintf(&trailing, "%sx", stream) > 0);
        assert_int_equal(setenv("JOURNAL_STREAM", trailing, 1), 0);
        audit_init(AUDIT_TARGET_AUTO);
        assert_false(audit_to_journal());

        assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
        audit_init(AUDIT_TARGET_AUTO);
        assert_false(audit_to_journal());

        audit_init(AUDIT_TARGET_STDERR);
        assert_false(audit_to_journal());
        audit_init(AUDIT_TARGET_JOURNAL);
        assert_true(audit_to_journal());
        audit_init(AUDIT_TARGET_STDERR);

        capture_end(&c);
        assert_int_equal(c.n_lines, 0);
        capture_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_violation_record),
                cmocka_unit_test(test_dry_run_records),
                cmocka_unit_test(test_decision_kinds),
                cmocka_unit_test(test_step_records),
                cmocka_unit_test(test_policy_records),
                cmocka_unit_test(test_started_record),
                cmocka_unit_test(test_escaping_round_trip),
                cmocka_unit_test(test_log_msg),
                cmocka_unit_test(test_target_strings),
                cmocka_unit_test(test_auto_target),
        };

        (void) unsetenv("JOURNAL_STREAM");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
