/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The audit trail. A record is assembled as a list of fields, then written either to the journal (one entry, the
 * fields as journal fields) or to stderr (one line of key=value pairs). Every value is escaped on the way out, so a
 * hostile string in a driver name, path or policy message can neither break a stderr line apart nor put control
 * characters on an admin's terminal. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

/* CODE_FILE/CODE_LINE would always name this file's emitter, never the caller: leave them out. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "audit.h"
#include "dma-ownerd/macro.h"

#define AUDIT_IDENTIFIER "dma-ownerd"
#define RECORD_FIELDS_MAX 24

static AuditTarget audit_target = AUDIT_TARGET_AUTO; /* resolved: JOURNAL or STDERR once initialized */
static bool audit_initialized = false;

typedef struct RecordField {
        const char *key;
        const char *value;
} RecordField;

typedef struct Record {
        const char *message_id;
        int priority;
        const char *kind;
        RecordField fields[RECORD_FIELDS_MAX];
        size_t n_fields;
        char *message; /* owned; NULL when formatting it failed */
} Record;

static const char *const audit_target_table[] = {
        [AUDIT_TARGET_AUTO] = "auto",
        [AUDIT_TARGET_JOURNAL] = "journal",
        [AUDIT_TARGET_STDERR] = "stderr",
};

const char *audit_target_to_string(AuditTarget t) {
        if ((unsigned) t >= ELEMENTSOF(audit_target_table))
                return NULL;
        return audit_target_table[t];
}

int audit_target_from_string(const char *s, AuditTarget *ret) {
        if (!s || !ret)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(audit_target_table); i++)
                if (strcmp(s, audit_target_table[i]) == 0) {
                        *ret = (AuditTarget) i;
                        return 0;
                }
        return -EINVAL;
}

/* systemd sets $JOURNAL_STREAM to "DEV:INO" of the stream it connected stdout/stderr to. Only when stderr is still
 * that stream do we talk to the journal directly: a daemon started by hand from a shell on a systemd machine keeps its
 * output on the terminal, and tests never write into the host's journal. */
static bool stderr_is_journal_stream(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        char *end;
        struct stat st;

        if (!e || !*e)
                return false;

        errno = 0;
        dev = strtoull(e, &end, 10);
        if (errno != 0 || end == e || *end != ':')
                return false;
        e = end + 1;
        ino = strtoull(e, &end, 10);
        if (errno != 0 || end == e || *end != '\0')
                return false;

        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void audit_init(AuditTarget target) {
        if (target == AUDIT_TARGET_AUTO)
                target = stderr_is_journal_stream() ? AUDIT_TARGET_JOURNAL : AUDIT_TARGET_STDERR;
        audit_target = target == AUDIT_TARGET_JOURNAL ? AUDIT_TARGET_JOURNAL : AUDIT_TARGET_STDERR;
        audit_initialized = true;
}

bool audit_to_journal(void) {
        if (!audit_initialized)
                audit_init(AUDIT_TARGET_AUTO);
        return audit_target == AUDIT_TARGET_JOURNAL;
}

/* Characters a stderr value may hold without quotes. */
static bool char_is_plain(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               strchr("_.:/+-", c) != NULL;
}

static bool value_is_plain(const char *s) {
        if (!*s)
                return false; /* an empty value is written as "" so it cannot be mistaken for a missing one */
        for (; *s; s++)
                if (!char_is_plain((unsigned char) *s))
                        return false;
        return true;
}

/* Append `s` to `f`, escaping control characters and, when `quoted`, the quote, the backslash and everything that is
 * not printable ASCII, so the result stays on one line and parses back to exactly `s`. Without `quoted` (journal
 * fields, plain log lines) only control characters and the backslash are escaped, and UTF-8 passes through. */
static void escape_to(FILE *f, const char *s, bool quoted) {
        static const char hex[] = "0123456789abcdef";

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                unsigned char c = *p;

                if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\\')
                        fputs("\\\\", f);
                else if (c == '"' && quoted)
                        fputs("\\\"", f);
                else if (c < 0x20 || c == 0x7f || (quoted && c >= 0x80)) {
                        fputs("\\x", f);
                        fputc(hex[c >> 4], f);
                        fputc(hex[c & 0xf], f);
                } else
                        fputc(c, f);
        }
}

static char *escape_alloc(const char *s, bool quoted) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        escape_to(f, s, quoted);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static void write_all_stderr(const char *buf, size_t size) {
        while (size > 0) {
                ssize_t n = write(STDERR_FILENO, buf, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* nowhere left to complain to */
                }
                buf += n;
                size -= (size_t) n;
        }
}

/* Write a fully formatted line with one write(2), so that records from concurrent writers never interleave. */
static void emit_line(char *buf, size_t size) {
        (void) fflush(stderr); /* keep order with anything stdio still holds */
        write_all_stderr(buf, size);
}

static void record_add(Record *r, const char *key, const char *value) {
        if (!value || !*value)
                return;
        if (r->n_fields >= RECORD_FIELDS_MAX)
                return; /* cannot happen with the fixed field sets below; never overflow */
        r->fields[r->n_fields++] = (RecordField) { key, value };
}

static void record_set_message(Record *r, const char *format, ...) _printf_(2, 3);
static void record_set_message(Record *r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&r->message, format, ap) < 0)
                r->message = NULL;
        va_end(ap);
}

static void record_emit_stderr(const Record *r) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f) {
                /* Out of memory: still leave a parseable trace that a record was lost. */
                char line[160];
                int n = snprintf(line, sizeof(line), AUDIT_IDENTIFIER "[%d]: MESSAGE_ID=%s PRIORITY=%d KIND=%s "
                                 "MESSAGE=\"out of memory formatting the record\"\n",
                                 (int) getpid(), r->message_id, r->priority, r->kind);
                if (n > 0)
                        emit_line(line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
                return;
        }

        fprintf(f, AUDIT_IDENTIFIER "[%d]: MESSAGE_ID=%s PRIORITY=%d KIND=%s", (int) getpid(), r->message_id,
                r->priority, r->kind);
        for (size_t i = 0; i < r->n_fields; i++) {
                bool plain = value_is_plain(r->fields[i].value);

                fprintf(f, " %s=", r->fields[i].key);
                if (!plain)
                        fputc('"', f);
                escape_to(f, r->fields[i].value, !plain);
                if (!plain)
                        fputc('"', f);
        }
        fputs(" MESSAGE=\"", f);
        escape_to(f, r->message ? r->message : "(out of memory formatting the message)", true);
        fputs("\"\n", f);

        if (fclose(f) != 0)
                return;
        emit_line(buf, size);
}

/* Append "KEY=value" to the entry being built; strings[*n] is only set on success. */
static int journal_field(char **strings, size_t *n, const char *key, const char *value, bool escape) {
        _cleanup_free_ char *escaped = NULL;

        if (escape) {
                escaped = escape_alloc(value, false);
                if (!escaped)
                        return -ENOMEM;
                value = escaped;
        }
        if (asprintf(&strings[*n], "%s=%s", key, value) < 0) {
                strings[*n] = NULL;
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

static int record_emit_journal(const Record *r) {
        char priority[12];
        char *strings[RECORD_FIELDS_MAX + 5] = {}; /* MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER, KIND, fields, MESSAGE */
        struct iovec iov[RECORD_FIELDS_MAX + 5];
        size_t n = 0;
        int ret;

        (void) snprintf(priority, sizeof(priority), "%d", r->priority);

        ret = journal_field(strings, &n, "MESSAGE_ID", r->message_id, false);
        if (ret >= 0)
                ret = journal_field(strings, &n, "PRIORITY", priority, false);
        if (ret >= 0)
                ret = journal_field(strings, &n, "SYSLOG_IDENTIFIER", AUDIT_IDENTIFIER, false);
        if (ret >= 0)
                ret = journal_field(strings, &n, "KIND", r->kind, true);
        for (size_t i = 0; ret >= 0 && i < r->n_fields; i++)
                ret = journal_field(strings, &n, r->fields[i].key, r->fields[i].value, true);
        if (ret >= 0)
                ret = journal_field(strings, &n, "MESSAGE", r->message ? r->message : "(out of memory)", true);

        if (ret >= 0) {
                for (size_t i = 0; i < n; i++)
                        iov[i] = (struct iovec) { .iov_base = strings[i], .iov_len = strlen(strings[i]) };
                ret = sd_journal_sendv(iov, (int) n);
        }

        for (size_t i = 0; i < n; i++)
                free(strings[i]);
        return ret;
}

static void record_emit(Record *r) {
        /* A record the journal refused still goes somewhere: under systemd stderr ends up in the journal too. */
        if (!audit_to_journal() || record_emit_journal(r) < 0)
                record_emit_stderr(r);
        free(r->message);
        r->message = NULL;
}

/* ---- formatting helpers ---- */

/* "FILE:LINE", or "FILE" for the built-in defaults (line 0); NULL without a rule. */
static char *rule_location(const SourceMark *m) {
        char *s;

        if (!m || !m->file)
                return NULL;
        if (m->line == 0)
                return strdup(m->file);
        if (asprintf(&s, "%s:%u", m->file, m->line) < 0)
                return NULL;
        return s;
}

/* " (rule NAME at FILE:LINE)", " (FILE:LINE)", " (the built-in policy)" or "". */
static char *rule_clause(const char *rule_name, const char *location) {
        char *s;
        int r;

        if (location && strcmp(location, POLICY_BUILTIN_FILE) == 0)
                location = "the built-in policy";

        if (rule_name && location)
                r = asprintf(&s, " (rule %s at %s)", rule_name, location);
        else if (rule_name)
                r = asprintf(&s, " (rule %s)", rule_name);
        else if (location)
                r = asprintf(&s, " (%s)", location);
        else
                r = asprintf(&s, "%s", "");
        return r < 0 ? NULL : s;
}

static const char *str_or_empty(const char *s) {
        return s ? s : "";
}

static void format_group(char buf[static 24], int64_t group) {
        if (group < 0)
                (void) snprintf(buf, 24, "%s", "none");
        else
                (void) snprintf(buf, 24, "%" PRIi64, group);
}

static const char *name_or_unknown(const char *s) {
        return s ? s : "unknown";
}

static const char *mode_name(PolicyMode mode) {
        return name_or_unknown(policy_mode_to_string(mode));
}

static const char *errno_name(int error) {
        const char *name = strerrorname_np(error);
        return name ? name : "unknown";
}

static void dry_run_suffix(const Decision *d, PolicyMode mode, char **ret) {
        *ret = NULL;
        if (!d->dry_run)
                return;
        *ret = strdup(mode == POLICY_MODE_AUDIT ? " (audit mode: nothing written)"
                                                : " (on-violation is log: nothing written)");
}

/* The planned steps, "set-override+unbind+probe"; NULL when there are none. */
static char *planned_steps(const Decision *d) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (d->n_steps == 0)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < d->n_steps && i < DECISION_STEPS_MAX; i++)
                fprintf(f, "%s%s", i > 0 ? "+" : "", str_or_empty(step_kind_to_string(d->steps[i].kind)));
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static const char *decision_message_id(DecisionKind kind) {
        switch (kind) {
        case DECISION_VIOLATION:
                return AUDIT_MID_VIOLATION;
        case DECISION_NOT_VIABLE:
                return AUDIT_MID_NOT_VIABLE;
        case DECISION_NET_PROTECTED:
                return AUDIT_MID_NET_PROTECTED;
        default:
                return AUDIT_MID_DECISION;
        }
}

static int decision_priority(DecisionKind kind) {
        switch (kind) {
        case DECISION_VIOLATION:
        case DECISION_NOT_VIABLE:
                return LOG_WARNING;
        case DECISION_NET_PROTECTED:
                return LOG_NOTICE;
        default:
                return LOG_INFO;
        }
}

void audit_decision(const Decision *d, PolicyMode mode) {
        _cleanup_free_ char *location = NULL, *clause = NULL, *steps = NULL, *suffix = NULL;
        char group[24];

        if (!d)
                return;

        Record r = {
                .message_id = decision_message_id(d->kind),
                .priority = decision_priority(d->kind),
                .kind = name_or_unknown(decision_kind_to_string(d->kind)),
        };

        format_group(group, d->group);
        location = rule_location(&d->rule);
        clause = rule_clause(d->rule_name, location);
        steps = planned_steps(d);
        dry_run_suffix(d, mode, &suffix);

        record_add(&r, "DECISION", r.kind);
        record_add(&r, "DEVICE", d->address);
        record_add(&r, "GROUP", d->group >= 0 ? group : NULL);
        record_add(&r, "DRIVER", d->driver);
        record_add(&r, "TARGET_DRIVER", d->target_driver);
        record_add(&r, "RULE", location);
        record_add(&r, "RULE_NAME", d->rule_name);
        record_add(&r, "MODE", mode_name(mode));
        record_add(&r, "ACTION", steps);
        record_add(&r, "BLOCKER", d->blocker);
        record_add(&r, "BLOCKER_DRIVER", d->blocker_driver);
        record_add(&r, "INTERFACE", d->interface);
        record_add(&r, "DRY_RUN", d->dry_run ? "1" : "0");

        switch (d->kind) {

        case DECISION_VIOLATION: {
                _cleanup_free_ char *what = NULL;
                int k;

                if (d->dry_run)
                        k = asprintf(&what, "%s", mode == POLICY_MODE_AUDIT ? "audit mode, leaving it bound"
                                                                            : "on-violation is log, leaving it bound");
                else if (d->n_steps == 0)
                        k = asprintf(&what, "%s", "nothing to do");
                else if (*d->target_driver)
                        k = asprintf(&what, "unbinding it and handing the device to %s", d->target_driver);
                else
                        k = asprintf(&what, "%s", "unbinding it");
                if (k < 0)
                        what = NULL;

                record_set_message(&r, "%s: %s is bound in IOMMU group %s where it is not allowed%s, %s", d->address,
                                   *d->driver ? d->driver : "a driver", group, str_or_empty(clause),
                                   str_or_empty(what));
                break;
        }

        case DECISION_RESERVE:
                record_set_message(&r, "%s: reserving the device for %s in IOMMU group %s%s%s", d->address,
                                   *d->target_driver ? d->target_driver : "user space", group, str_or_empty(clause),
                                   str_or_empty(suffix));
                break;

        case DECISION_PIN:
                record_set_message(&r, "%s: pinning driver_override to %s so no host driver binds into IOMMU group "
                                   "%s%s%s", d->address, d->target_driver, group, str_or_empty(clause),
                                   str_or_empty(suffix));
                break;

        case DECISION_UNPIN:
                record_set_message(&r, "%s: lifting the driver_override pin, IOMMU group %s is back with the host%s",
                                   d->address, group, str_or_empty(suffix));
                break;

        case DECISION_NOT_VIABLE:
                record_set_message(&r, "%s: reservation cannot give IOMMU group %s to user space%s: member %s is "
                                   "bound to %s", d->address, group, str_or_empty(clause),
                                   *d->blocker ? d->blocker : "(unknown)",
                                   *d->blocker_driver ? d->blocker_driver : "a host driver");
                break;

        case DECISION_NET_PROTECTED:
                record_set_message(&r, "%s: not unbinding %s from IOMMU group %s%s: interface %s is in use "
                                   "(network-protection)", d->address, *d->driver ? d->driver : "its driver",
                                   group, str_or_empty(clause), *d->interface ? d->interface : "(unknown)");
                break;

        default:
                record_set_message(&r, "%s: decision %d", d->address, (int) d->kind);
        }

        record_emit(&r);
}

void audit_step(const Decision *d, const Step *s, PolicyMode mode, int result) {
        _cleanup_free_ char *location = NULL;
        char group[24], errno_buf[16];
        const char *action, *driver, *target, *reason;
        Record r = {
                .message_id = result < 0 ? AUDIT_MID_ACTION_FAILED : AUDIT_MID_ACTION_DONE,
                .priority = result < 0 ? LOG_ERR : LOG_NOTICE,
                .kind = "action",
        };

        if (!d || !s)
                return;

        format_group(group, d->group);
        location = rule_location(&d->rule);
        action = name_or_unknown(step_kind_to_string(s->kind));
        /* The step's own driver is the most precise: the value written for set-override, the driver expected for
         * unbind. */
        driver = s->kind == STEP_UNBIND ? s->driver : d->driver;
        target = s->kind == STEP_SET_OVERRIDE ? s->driver : d->target_driver;
        (void) snprintf(errno_buf, sizeof(errno_buf), "%d", -result);

        record_add(&r, "DECISION", name_or_unknown(decision_kind_to_string(d->kind)));
        record_add(&r, "ACTION", action);
        record_add(&r, "DEVICE", d->address);
        record_add(&r, "GROUP", d->group >= 0 ? group : NULL);
        record_add(&r, "DRIVER", driver);
        record_add(&r, "TARGET_DRIVER", target);
        record_add(&r, "RULE", location);
        record_add(&r, "RULE_NAME", d->rule_name);
        record_add(&r, "MODE", mode_name(mode));
        record_add(&r, "RESULT", result < 0 ? errno_name(-result) : "ok");
        record_add(&r, "ERRNO", result < 0 ? errno_buf : NULL);
        record_add(&r, "DRY_RUN", d->dry_run ? "1" : "0");

        if (result >= 0) {
                switch (s->kind) {
                case STEP_SET_OVERRIDE:
                        record_set_message(&r, "%s: driver_override set to %s", d->address, s->driver);
                        break;
                case STEP_CLEAR_OVERRIDE:
                        record_set_message(&r, "%s: driver_override cleared", d->address);
                        break;
                case STEP_UNBIND:
                        record_set_message(&r, "%s: unbound from %s", d->address, s->driver);
                        break;
                case STEP_PROBE:
                        record_set_message(&r, "%s: probe requested", d->address);
                        break;
                default:
                        record_set_message(&r, "%s: step %d done", d->address, (int) s->kind);
                }
                record_emit(&r);
                return;
        }

        /* The two failures the actuator reports by itself deserve words an admin understands. */
        if (result == -ENODEV)
                reason = "the device is gone";
        else if (result == -ESTALE)
                reason = s->kind == STEP_UNBIND ? "another driver is bound now, or another device sits at the address"
                                                : "another device sits at the address now";
        else
                reason = strerror(-result);

        switch (s->kind) {
        case STEP_SET_OVERRIDE:
                record_set_message(&r, "%s: failed to set driver_override to %s: %s", d->address, s->driver, reason);
                break;
        case STEP_CLEAR_OVERRIDE:
                record_set_message(&r, "%s: failed to clear driver_override: %s", d->address, reason);
                break;
        case STEP_UNBIND:
                record_set_message(&r, "%s: failed to unbind from %s: %s", d->address, s->driver, reason);
                break;
        case STEP_PROBE:
                record_set_message(&r, "%s: failed to request a probe: %s", d->address, reason);
                break;
        default:
                record_set_message(&r, "%s: step %d failed: %s", d->address, (int) s->kind, reason);
        }
        record_emit(&r);
}

/* The merged files as one value, separated by a space (the value is quoted and escaped as a whole). */
static char *join_files(char *const *files, size_t n) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (n == 0)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", str_or_empty(files[i]));
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

void audit_policy_loaded(const Policy *p) {
        _cleanup_free_ char *files = NULL;
        char reservations[24];
        Record r = {
                .message_id = AUDIT_MID_POLICY_LOADED,
                .priority = LOG_INFO,
                .kind = "policy-loaded",
        };

        if (!p)
                return;

        files = join_files(p->files, p->n_files);
        (void) snprintf(reservations, sizeof(reservations), "%zu", p->n_reservations);

        record_add(&r, "MODE", mode_name(p->mode));
        record_add(&r, "ON_VIOLATION", violation_action_to_string(p->on_violation));
        record_add(&r, "NETWORK_PROTECTION", p->network_protection ? "1" : "0");
        record_add(&r, "RESERVATIONS", reservations);
        record_add(&r, "POLICY_FILES", files);
        record_set_message(&r, "policy loaded from %zu file%s: mode %s, on-violation %s, network protection %s, "
                           "%zu reservation%s", p->n_files, p->n_files == 1 ? "" : "s", mode_name(p->mode),
                           str_or_empty(violation_action_to_string(p->on_violation)),
                           p->network_protection ? "on" : "off", p->n_reservations,
                           p->n_reservations == 1 ? "" : "s");
        record_emit(&r);
}

void audit_policy_rejected(const PolicyErrors *errors, bool kept_previous) {
        size_t n = errors ? errors->n_errors : 0;
        char count[24];

        for (size_t i = 0; i < n; i++) {
                const PolicyError *e = &errors->errors[i];
                _cleanup_free_ char *location = NULL;
                SourceMark mark = { .file = e->file, .line = e->line, .column = e->column };
                Record r = {
                        .message_id = AUDIT_MID_POLICY_REJECTED,
                        .priority = LOG_ERR,
                        .kind = "policy-error",
                };

                location = rule_location(&mark);
                record_add(&r, "RULE", location);
                record_add(&r, "POLICY_FILES", e->file);
                if (e->file && e->line > 0)
                        record_set_message(&r, "%s:%u:%u: %s", e->file, e->line, e->column, str_or_empty(e->message));
                else if (e->file)
                        record_set_message(&r, "%s: %s", e->file, str_or_empty(e->message));
                else
                        record_set_message(&r, "%s", str_or_empty(e->message));
                record_emit(&r);
        }

        Record summary = {
                .message_id = AUDIT_MID_POLICY_REJECTED,
                .priority = LOG_ERR,
                .kind = "policy-rejected",
        };
        (void) snprintf(count, sizeof(count), "%zu", n);
        record_add(&summary, "ERRORS", count);
        record_add(&summary, "KEPT_PREVIOUS", kept_previous ? "1" : "0");
        record_set_message(&summary, "policy rejected with %zu error%s, %s", n, n == 1 ? "" : "s",
                           kept_previous ? "the previous policy stays in effect" : "no policy is in effect");
        record_emit(&summary);
}

void audit_started(const char *sysfs_root, size_t n_devices, size_t n_groups, bool kernel_dma_ownership) {
        char devices[24], groups[24];
        Record r = {
                .message_id = AUDIT_MID_STARTED,
                .priority = LOG_INFO,
                .kind = "started",
        };

        (void) snprintf(devices, sizeof(devices), "%zu", n_devices);
        (void) snprintf(groups, sizeof(groups), "%zu", n_groups);

        record_add(&r, "SYSFS_ROOT", sysfs_root);
        record_add(&r, "DEVICES", devices);
        record_add(&r, "GROUPS", groups);
        record_add(&r, "KERNEL_DMA_OWNERSHIP", kernel_dma_ownership ? "1" : "0");
        record_set_message(&r, "started: %zu PCI device%s in %zu IOMMU group%s under %s, %s", n_devices,
                           n_devices == 1 ? "" : "s", n_groups, n_groups == 1 ? "" : "s", str_or_empty(sysfs_root),
                           kernel_dma_ownership ? "the kernel tracks DMA ownership"
                                                : "kernel without DMA ownership tracking, pinning vfio groups");
        record_emit(&r);
}

static const char *const level_table[] = {
        [LOG_EMERG] = "emerg",
        [LOG_ALERT] = "alert",
        [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

void log_msg(int priority, const char *format, ...) {
        _cleanup_free_ char *message = NULL, *escaped = NULL;
        va_list ap;
        int r;

        priority = LOG_PRI(priority);

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                message = NULL;

        escaped = escape_alloc(message ? message : "(out of memory formatting a log message)", false);
        if (!escaped)
                return;

        if (audit_to_journal() &&
            sd_journal_send("MESSAGE=%s", escaped, "PRIORITY=%d", priority,
                            "SYSLOG_IDENTIFIER=" AUDIT_IDENTIFIER, NULL) >= 0)
                return;

        _cleanup_free_ char *line = NULL;
        r = asprintf(&line, AUDIT_IDENTIFIER "[%d]: %s: %s\n", (int) getpid(), level_table[priority], escaped);
        if (r < 0)
                return;
        emit_line(line, (size_t) r);
}
