/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading the policy: reading files safely, parsing them with libyaml's event API into a per-file fragment while
 * collecting every error with its position, and merging the fragments in order. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "dma-ownerd/macro.h"
#include "policy-internal.h"
#include "policy.h"

const PolicyPaths policy_default_paths = {
        .main_file = POLICY_MAIN_FILE,
        .vendor_dir = POLICY_VENDOR_DIR,
        .admin_dir = POLICY_ADMIN_DIR,
};

/* ---- errors ---- */

int policy_errors_addv(PolicyErrors *e, const char *file, unsigned line, unsigned column, const char *format,
                       va_list ap) {
        _cleanup_free_ char *message = NULL, *file_copy = NULL;
        PolicyError *n;

        /* A file full of mistakes must not turn into unbounded memory: stop after a generous number and say so. */
        if (e->n_errors > POLICY_ERRORS_MAX)
                return 0;
        if (e->n_errors == POLICY_ERRORS_MAX) {
                message = strdup("too many errors, not reporting any more");
                if (!message)
                        return -ENOMEM;
        } else if (vasprintf(&message, format, ap) < 0)
                return -ENOMEM;

        file_copy = strdup(file ? file : "(unknown)");
        if (!file_copy)
                return -ENOMEM;

        n = reallocarray(e->errors, e->n_errors + 1, sizeof(PolicyError));
        if (!n)
                return -ENOMEM;
        e->errors = n;
        e->errors[e->n_errors++] = (PolicyError) {
                .file = TAKE_PTR(file_copy),
                .line = line,
                .column = column,
                .message = TAKE_PTR(message),
        };
        return 0;
}

int policy_errors_add(PolicyErrors *e, const char *file, unsigned line, unsigned column, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = policy_errors_addv(e, file, line, column, format, ap);
        va_end(ap);
        return r;
}

void policy_errors_clear(PolicyErrors *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n_errors; i++) {
                free(e->errors[i].file);
                free(e->errors[i].message);
        }
        free(e->errors);
        e->errors = NULL;
        e->n_errors = 0;
}

char *policy_escape(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1);
        bool cut = n > max;
        char *buf, *o;

        if (cut)
                n = max;
        buf = malloc(n * 4 + 4);
        if (!buf)
                return NULL;
        o = buf;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '"' || c == '\\') {
                        *o++ = '\\';
                        *o++ = (char) c;
                } else if (c < 0x20 || c >= 0x7f) {
                        static const char hex[] = "0123456789abcdef";
                        *o++ = '\\';
                        *o++ = 'x';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 0xf];
                } else
                        *o++ = (char) c;
        }
        if (cut)
                o = stpcpy(o, "...");
        *o = '\0';
        return buf;
}

/* ---- the policy value ---- */

static void driver_globs_free(DriverGlob *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i].pattern);
        free(l);
}

static void reservation_done(Reservation *r) {
        free(r->name);
        free(r->match.address_glob);
        free(r->driver);
}

/* Frees what a Policy owns without freeing the struct itself: the parser keeps a fragment by value. */
static void policy_done(Policy *p) {
        driver_globs_free(p->allowed_drivers, p->n_allowed_drivers);
        driver_globs_free(p->denied_drivers, p->n_denied_drivers);
        for (size_t i = 0; i < p->n_reservations; i++)
                reservation_done(&p->reservations[i]);
        free(p->reservations);
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i]);
        free(p->files);
        policy_index_free(p->index);
        *p = (Policy) {};
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        policy_done(p);
        free(p);
        return NULL;
}

int policy_new_default(Policy **ret) {
        static const SourceMark builtin = { .file = POLICY_BUILTIN_FILE };
        _cleanup_policy_ Policy *p = NULL;

        p = calloc(1, sizeof(Policy));
        if (!p)
                return -ENOMEM;

        *p = (Policy) {
                .mode = POLICY_MODE_ENFORCE,
                .mode_mark = builtin,
                .on_violation = VIOLATION_UNBIND,
                .on_violation_mark = builtin,
                .network_protection = true,
                .network_protection_mark = builtin,
        };

        p->allowed_drivers = calloc(policy_n_builtin_drivers, sizeof(DriverGlob));
        if (!p->allowed_drivers)
                return -ENOMEM;
        for (size_t i = 0; i < policy_n_builtin_drivers; i++) {
                p->allowed_drivers[i].pattern = strdup(policy_builtin_drivers[i]);
                if (!p->allowed_drivers[i].pattern)
                        return -ENOMEM;
                p->allowed_drivers[i].mark = builtin;
                p->n_allowed_drivers++;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- validation of scalar values ---- */

static bool driver_glob_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_-.:+", c);
}

static bool address_glob_char(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || strchr(":.-", c);
}

/* Returns NULL when `s` is a glob we accept, else writes why not into `why`. Brackets must balance with at least
 * one member; '!' is only meaningful right after '['. Address globs are over "dddd:bb:dd.f". */
static const char *glob_check(const char *s, bool address, char *why, size_t why_size) {
        size_t len = strlen(s);
        bool in_bracket = false;
        size_t members = 0;

        if (len == 0)
                return "the glob is empty (expected at least one character)";
        if (len > POLICY_GLOB_MAX) {
                (void) snprintf(why, why_size, "the glob is longer than %u characters", POLICY_GLOB_MAX);
                return why;
        }

        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '[') {
                        if (in_bracket)
                                return "'[' inside a bracket expression (expected ']' to close the first one)";
                        in_bracket = true;
                        members = 0;
                        if (s[i + 1] == '!')
                                i++;
                        continue;
                }
                if (c == ']') {
                        if (!in_bracket)
                                return "unbalanced ']' (expected a '[' before it)";
                        if (members == 0)
                                return "empty bracket expression \"[]\" (expected at least one character inside)";
                        in_bracket = false;
                        continue;
                }
                if (c == '*' || c == '?') {
                        if (in_bracket)
                                return "'*' or '?' inside a bracket expression";
                        continue;
                }
                if (c == '!')
                        return "'!' is only allowed right after '['";
                if (address ? !address_glob_char(c) : !driver_glob_char(c)) {
                        if ((unsigned char) c > 0x20 && (unsigned char) c < 0x7f)
                                (void) snprintf(why, why_size, "character '%c' is not allowed (expected %s)", c,
                                                address ? "hex digits, ':', '.', '-' and the glob characters *?[]!"
                                                        : "letters, digits, '_', '-', '.', ':', '+' and the glob "
                                                          "characters *?[]!");
                        else
                                (void) snprintf(why, why_size,
                                                "character \\x%02x is not allowed (expected printable ASCII)",
                                                (unsigned char) c);
                        return why;
                }
                if (in_bracket)
                        members++;
        }
        if (in_bracket)
                return "unbalanced '[' (expected a ']' to close it)";
        return NULL;
}

static bool reservation_name_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > POLICY_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-'))
                        return false;
        }
        return true;
}

/* Hex "0x…" or decimal, no sign, no leading zeros on decimals (YAML 1.1 would read those as octal, the admin may
 * mean hex: refuse to guess). */
static const char *number_parse(const char *s, uint64_t max, uint64_t *ret, char *why, size_t why_size) {
        uint64_t v = 0;
        bool overflow = false;
        unsigned base = 10;
        const char *p = s;

        if (*p == '\0')
                return "the value is empty";
        if (*p == '-')
                return "negative numbers are not allowed";
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                base = 16;
                p += 2;
                if (!isxdigit((unsigned char) *p))
                        return "no hex digits after \"0x\"";
        } else if (!isdigit((unsigned char) *p))
                return "not a number";
        else if (p[0] == '0' && isdigit((unsigned char) p[1]))
                return "a decimal with a leading zero is ambiguous, hex needs 0x";

        for (; *p; p++) {
                unsigned d;
                if (*p >= '0' && *p <= '9')
                        d = (unsigned) (*p - '0');
                else if (base == 16 && *p >= 'a' && *p <= 'f')
                        d = (unsigned) (*p - 'a' + 10);
                else if (base == 16 && *p >= 'A' && *p <= 'F')
                        d = (unsigned) (*p - 'A' + 10);
                else {
                        if ((unsigned char) *p > 0x20 && (unsigned char) *p < 0x7f)
                                (void) snprintf(why, why_size, "unexpected '%c' after the digits", *p);
                        else
                                (void) snprintf(why, why_size, "unexpected character \\x%02x after the digits",
                                                (unsigned char) *p);
                        return why;
                }
                if (!overflow) {
                        v = v * base + d;
                        overflow = v > max;
                }
        }
        if (overflow)
                return "out of range";
        *ret = v;
        return NULL;
}

/* ---- the parser ---- */

typedef struct Parser {
        yaml_parser_t yaml;
        yaml_event_t event;
        bool have_event;

        const char *file; /* owned by frag.files[0] */
        const char *data;
        size_t size;
        PolicyErrors *errors;
        size_t n_errors_before;
        bool failed; /* an error was found, even one not stored because the list is full */

        const Policy *base; /* what the fragment merges into, for duplicate reservation names across files */
        Policy frag;
        bool has_mode, has_on_violation, has_network_protection;
        size_t alloc_allowed, alloc_denied, alloc_reservations;

        unsigned depth;
        bool stop; /* a syntax error or the nesting limit: nothing after it can be trusted */
        int fatal; /* a negative errno (OOM) that aborts the whole load */
} Parser;

static SourceMark mark_of(const Parser *P, yaml_mark_t m) {
        return (SourceMark) { .file = P->file, .line = (unsigned) m.line + 1, .column = (unsigned) m.column + 1 };
}

static void perr(Parser *P, yaml_mark_t m, const char *format, ...) _printf_(3, 4);
static void perr(Parser *P, yaml_mark_t m, const char *format, ...) {
        va_list ap;
        int r;

        P->failed = true;
        va_start(ap, format);
        r = policy_errors_addv(P->errors, P->file, (unsigned) m.line + 1, (unsigned) m.column + 1, format, ap);
        va_end(ap);
        if (r < 0)
                P->fatal = r;
}

static void offset_to_position(const char *data, size_t size, size_t offset, unsigned *line, unsigned *column) {
        unsigned l = 1, c = 1;
        if (offset > size)
                offset = size;
        for (size_t i = 0; i < offset; i++) {
                if (data[i] == '\n') {
                        l++;
                        c = 1;
                } else
                        c++;
        }
        *line = l;
        *column = c;
}

static void report_syntax_error(Parser *P) {
        const yaml_parser_t *y = &P->yaml;
        unsigned line, column;
        int r;

        if (y->error == YAML_MEMORY_ERROR) {
                P->fatal = -ENOMEM;
                return;
        }
        P->failed = true;
        if (y->error == YAML_READER_ERROR)
                offset_to_position(P->data, P->size, y->problem_offset, &line, &column);
        else {
                line = (unsigned) y->problem_mark.line + 1;
                column = (unsigned) y->problem_mark.column + 1;
        }
        r = policy_errors_add(P->errors, P->file, line, column, "invalid YAML: %s%s%s%s",
                              y->problem ? y->problem : "syntax error", y->context ? " (" : "",
                              y->context ? y->context : "", y->context ? ")" : "");
        if (r < 0)
                P->fatal = r;
}

static bool event_is_start(const Parser *P) {
        return P->event.type == YAML_SEQUENCE_START_EVENT || P->event.type == YAML_MAPPING_START_EVENT;
}

static const char *event_kind(const Parser *P) {
        switch (P->event.type) {
        case YAML_SCALAR_EVENT:
                return "a scalar";
        case YAML_SEQUENCE_START_EVENT:
                return "a sequence";
        case YAML_MAPPING_START_EVENT:
                return "a mapping";
        case YAML_ALIAS_EVENT:
                return "an alias";
        default:
                return "something else";
        }
}

static void check_anchor(Parser *P, const yaml_char_t *anchor) {
        if (anchor)
                perr(P, P->event.start_mark,
                     "anchors and aliases are not supported (write the value out where it is used)");
}

/* Advance to the next event, tracking nesting and rejecting anchors and aliases wherever they appear. Returns false
 * when parsing of this stream must stop. */
static bool next_event(Parser *P) {
        if (P->stop || P->fatal < 0)
                return false;
        if (P->have_event) {
                yaml_event_delete(&P->event);
                P->have_event = false;
        }
        if (!yaml_parser_parse(&P->yaml, &P->event)) {
                report_syntax_error(P);
                P->stop = true;
                return false;
        }
        P->have_event = true;

        switch (P->event.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
                if (++P->depth > POLICY_DEPTH_MAX) {
                        perr(P, P->event.start_mark, "nesting deeper than %u levels (expected at most %u)",
                             POLICY_DEPTH_MAX, POLICY_DEPTH_MAX);
                        P->stop = true;
                        return false;
                }
                check_anchor(P, P->event.type == YAML_SEQUENCE_START_EVENT ? P->event.data.sequence_start.anchor
                                                                           : P->event.data.mapping_start.anchor);
                break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                P->depth--;
                break;
        case YAML_SCALAR_EVENT:
                check_anchor(P, P->event.data.scalar.anchor);
                break;
        case YAML_ALIAS_EVENT:
                perr(P, P->event.start_mark, "aliases are not supported (write the value out where it is used)");
                break;
        default:
                break;
        }
        return P->fatal >= 0;
}

/* The current event starts a node; consume the rest of it. */
static void skip_node(Parser *P) {
        unsigned target;

        if (!event_is_start(P))
                return;
        target = P->depth - 1;
        while (P->depth > target)
                if (!next_event(P))
                        return;
}

static bool scalar_is_null(const Parser *P) {
        const char *v = (const char *) P->event.data.scalar.value;
        return P->event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
               (streq(v, "") || streq(v, "~") || streq(v, "null") || streq(v, "Null") || streq(v, "NULL"));
}

/* The value of the current scalar event, or NULL (reported) when it holds a NUL byte that C strings cannot. */
static const char *scalar_value(Parser *P) {
        const char *v = (const char *) P->event.data.scalar.value;
        if (strlen(v) != P->event.data.scalar.length) {
                perr(P, P->event.start_mark, "the value contains a NUL character");
                return NULL;
        }
        return v;
}

/* The current event must be a scalar: returns its value, or NULL after reporting and skipping anything else. */
static const char *expect_scalar(Parser *P, const char *key, const char *expected) {
        switch (P->event.type) {
        case YAML_SCALAR_EVENT:
                return scalar_value(P);
        case YAML_ALIAS_EVENT:
                return NULL; /* reported by next_event() */
        default:
                perr(P, P->event.start_mark, "wrong type for \"%s\": found %s (expected %s)", key, event_kind(P),
                     expected);
                skip_node(P);
                return NULL;
        }
}

/* A sequence is expected; a null scalar counts as an empty one (all entries commented out). Returns true when the
 * current event starts a sequence to iterate. */
static bool expect_sequence(Parser *P, const char *key, const char *expected) {
        switch (P->event.type) {
        case YAML_SEQUENCE_START_EVENT:
                return true;
        case YAML_ALIAS_EVENT:
                return false;
        case YAML_SCALAR_EVENT:
                if (scalar_is_null(P))
                        return false;
                __attribute__((fallthrough));
        default:
                perr(P, P->event.start_mark, "wrong type for \"%s\": found %s (expected %s)", key, event_kind(P),
                     expected);
                skip_node(P);
                return false;
        }
}

static bool parse_bool(Parser *P, const char *key, bool *ret) {
        const char *v = expect_scalar(P, key, "true or false");
        if (!v)
                return false;
        if (streq(v, "true"))
                *ret = true;
        else if (streq(v, "false"))
                *ret = false;
        else {
                _cleanup_free_ char *e = policy_escape(v, 64);
                perr(P, P->event.start_mark, "invalid boolean \"%s\" for \"%s\" (expected true or false)",
                     strna(e), key);
                return false;
        }
        return true;
}

static bool parse_number(Parser *P, const char *key, uint64_t max, bool hex, uint64_t *ret) {
        char why[128];
        const char *v, *problem;

        v = expect_scalar(P, key, "a number");
        if (!v)
                return false;
        problem = number_parse(v, max, ret, why, sizeof why);
        if (problem) {
                _cleanup_free_ char *e = policy_escape(v, 64);
                if (hex)
                        perr(P, P->event.start_mark, "invalid number \"%s\" for \"%s\": %s (expected 0 to 0x%" PRIx64
                             ", hex 0x... or decimal)", strna(e), key, problem, max);
                else
                        perr(P, P->event.start_mark, "invalid number \"%s\" for \"%s\": %s (expected 0 to %" PRIu64
                             ", decimal or hex 0x...)", strna(e), key, problem, max);
                return false;
        }
        return true;
}

static int grow(void **array, size_t *allocated, size_t need, size_t size) {
        size_t n;
        void *a;

        if (need <= *allocated)
                return 0;
        n = need < 8 ? 8 : need * 2;
        a = reallocarray(*array, n, size);
        if (!a)
                return -ENOMEM;
        *array = a;
        *allocated = n;
        return 0;
}

/* Iterates the keys of the mapping whose start is the current event. Unknown and duplicate keys and non-scalar keys
 * are reported and their values skipped; for every other key `handler` is called with the value as current event
 * and must consume it entirely. */
typedef void (*KeyHandler)(Parser *P, unsigned key, yaml_mark_t key_mark, void *userdata);

#define KEYS_MAX 16

static unsigned parse_mapping(Parser *P, const char *const *keys, unsigned n_keys, const char *where,
                              const char *expected, KeyHandler handler, void *userdata) {
        bool seen[KEYS_MAX] = {};
        yaml_mark_t seen_mark[KEYS_MAX] = {};
        unsigned n_seen = 0;

        for (;;) {
                yaml_mark_t key_mark;
                const char *k;
                unsigned i;

                if (!next_event(P) || P->event.type == YAML_MAPPING_END_EVENT)
                        return n_seen;

                n_seen++;
                key_mark = P->event.start_mark;
                if (P->event.type != YAML_SCALAR_EVENT) {
                        if (P->event.type != YAML_ALIAS_EVENT)
                                perr(P, key_mark, "a key%s must be a scalar, found %s (expected one of: %s)", where,
                                     event_kind(P), expected);
                        skip_node(P);
                        if (!next_event(P))
                                return n_seen;
                        skip_node(P);
                        continue;
                }

                k = scalar_value(P);
                for (i = 0; k && i < n_keys; i++)
                        if (streq(k, keys[i]))
                                break;
                if (!k || i >= n_keys || seen[i]) {
                        if (k) {
                                _cleanup_free_ char *e = policy_escape(k, 64);
                                if (i >= n_keys)
                                        perr(P, key_mark, "unknown key \"%s\"%s (expected one of: %s)", strna(e),
                                             where, expected);
                                else
                                        perr(P, key_mark, "duplicate key \"%s\"%s (first given at %u:%u)", strna(e),
                                             where, (unsigned) seen_mark[i].line + 1,
                                             (unsigned) seen_mark[i].column + 1);
                        }
                        if (!next_event(P))
                                return n_seen;
                        skip_node(P);
                        continue;
                }

                seen[i] = true;
                seen_mark[i] = key_mark;
                if (!next_event(P))
                        return n_seen;
                handler(P, i, key_mark, userdata);
        }
}

/* ---- the document structure ---- */

static void parse_glob_list(Parser *P, const char *key, DriverGlob **list, size_t *n, size_t *allocated) {
        bool too_many_reported = false;

        if (!expect_sequence(P, key, "a sequence of driver globs"))
                return;

        for (;;) {
                char why[192];
                const char *v, *problem;
                char *copy;

                if (!next_event(P) || P->event.type == YAML_SEQUENCE_END_EVENT)
                        return;
                if (P->event.type == YAML_ALIAS_EVENT)
                        continue;
                if (P->event.type != YAML_SCALAR_EVENT) {
                        perr(P, P->event.start_mark, "wrong type for an entry of \"%s\": found %s (expected a driver "
                             "glob)", key, event_kind(P));
                        skip_node(P);
                        continue;
                }
                v = scalar_value(P);
                if (!v)
                        continue;
                problem = glob_check(v, false, why, sizeof why);
                if (problem) {
                        _cleanup_free_ char *e = policy_escape(v, 64);
                        perr(P, P->event.start_mark, "invalid driver glob \"%s\" in \"%s\": %s", strna(e), key,
                             problem);
                        continue;
                }
                if (*n >= POLICY_GLOBS_MAX) {
                        if (!too_many_reported)
                                perr(P, P->event.start_mark, "too many entries in \"%s\" (expected at most %u)", key,
                                     POLICY_GLOBS_MAX);
                        too_many_reported = true;
                        continue;
                }
                if (grow((void **) list, allocated, *n + 1, sizeof(DriverGlob)) < 0 || !(copy = strdup(v))) {
                        P->fatal = -ENOMEM;
                        return;
                }
                (*list)[(*n)++] = (DriverGlob) { .pattern = copy, .mark = mark_of(P, P->event.start_mark) };
        }
}

enum {
        MATCH_ADDRESS,
        MATCH_VENDOR,
        MATCH_DEVICE,
        MATCH_SUBSYSTEM_VENDOR,
        MATCH_SUBSYSTEM_DEVICE,
        MATCH_CLASS,
        MATCH_CLASS_MASK,
        MATCH_IOMMU_GROUP,
        _MATCH_MAX,
};

static const char *const match_keys[_MATCH_MAX] = {
        [MATCH_ADDRESS] = "address",
        [MATCH_VENDOR] = "vendor",
        [MATCH_DEVICE] = "device",
        [MATCH_SUBSYSTEM_VENDOR] = "subsystem-vendor",
        [MATCH_SUBSYSTEM_DEVICE] = "subsystem-device",
        [MATCH_CLASS] = "class",
        [MATCH_CLASS_MASK] = "class-mask",
        [MATCH_IOMMU_GROUP] = "iommu-group",
};
#define MATCH_EXPECTED \
        "address, vendor, device, subsystem-vendor, subsystem-device, class, class-mask, iommu-group"

typedef struct MatchState {
        DeviceMatch *m;
        bool has_class, has_class_mask;
        yaml_mark_t class_mask_mark;
} MatchState;

static void match_key(Parser *P, unsigned key, yaml_mark_t key_mark, void *userdata) {
        MatchState *s = userdata;
        DeviceMatch *m = s->m;
        uint64_t v;

        switch (key) {
        case MATCH_ADDRESS: {
                char why[192];
                const char *a = expect_scalar(P, "address", "a glob over a PCI address like 0000:03:00.*"), *problem;
                char *copy;

                if (!a)
                        return;
                problem = glob_check(a, true, why, sizeof why);
                if (problem) {
                        _cleanup_free_ char *e = policy_escape(a, 64);
                        perr(P, P->event.start_mark, "invalid address glob \"%s\": %s", strna(e), problem);
                        return;
                }
                copy = strdup(a);
                if (!copy) {
                        P->fatal = -ENOMEM;
                        return;
                }
                /* sysfs names are lower case; fold so "0000:0A:00.0" matches what the kernel shows. */
                for (char *c = copy; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                free(m->address_glob);
                m->address_glob = copy;
                return;
        }
        case MATCH_VENDOR:
        case MATCH_DEVICE:
        case MATCH_SUBSYSTEM_VENDOR:
        case MATCH_SUBSYSTEM_DEVICE:
                if (!parse_number(P, match_keys[key], 0xffff, true, &v))
                        return;
                if (key == MATCH_VENDOR)
                        m->vendor = (int32_t) v;
                else if (key == MATCH_DEVICE)
                        m->device = (int32_t) v;
                else if (key == MATCH_SUBSYSTEM_VENDOR)
                        m->subsystem_vendor = (int32_t) v;
                else
                        m->subsystem_device = (int32_t) v;
                return;
        case MATCH_CLASS:
                s->has_class = true;
                if (!parse_number(P, "class", 0xffffff, true, &v))
                        return;
                m->has_class = true;
                m->class_value = (uint32_t) v;
                return;
        case MATCH_CLASS_MASK:
                s->has_class_mask = true;
                s->class_mask_mark = key_mark;
                if (!parse_number(P, "class-mask", 0xffffff, true, &v))
                        return;
                m->class_mask = (uint32_t) v;
                return;
        case MATCH_IOMMU_GROUP:
                if (!parse_number(P, "iommu-group", INT32_MAX, false, &v))
                        return;
                m->iommu_group = (int64_t) v;
                return;
        }
}

enum {
        RES_NAME,
        RES_MATCH,
        RES_DRIVER,
        RES_WHOLE_GROUP,
        _RES_MAX,
};

static const char *const reservation_keys[_RES_MAX] = {
        [RES_NAME] = "name",
        [RES_MATCH] = "match",
        [RES_DRIVER] = "driver",
        [RES_WHOLE_GROUP] = "whole-group",
};

typedef struct ReservationState {
        Reservation r;
        bool has_name, has_match;
} ReservationState;

static const Reservation *find_reservation(const Reservation *l, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].name, name))
                        return &l[i];
        return NULL;
}

static void reservation_key(Parser *P, unsigned key, yaml_mark_t key_mark, void *userdata) {
        ReservationState *s = userdata;

        switch (key) {
        case RES_NAME: {
                const char *v;
                const Reservation *other;

                s->has_name = true;
                v = expect_scalar(P, "name", "a reservation name");
                if (!v)
                        return;
                if (!reservation_name_is_valid(v)) {
                        _cleanup_free_ char *e = policy_escape(v, 80);
                        perr(P, P->event.start_mark,
                             "invalid reservation name \"%s\" (expected 1 to %u of A-Z a-z 0-9 _ . -)", strna(e),
                             POLICY_NAME_MAX);
                        return;
                }
                other = find_reservation(P->base->reservations, P->base->n_reservations, v);
                if (!other)
                        other = find_reservation(P->frag.reservations, P->frag.n_reservations, v);
                if (other) {
                        _cleanup_free_ char *f = policy_escape(other->mark.file, 4096);
                        perr(P, P->event.start_mark,
                             "duplicate reservation name \"%s\" (first defined at %s:%u:%u; names must be unique "
                             "across all policy files)", v, strna(f), other->mark.line, other->mark.column);
                        return;
                }
                s->r.name = strdup(v);
                if (!s->r.name)
                        P->fatal = -ENOMEM;
                return;
        }
        case RES_MATCH: {
                MatchState ms = { .m = &s->r.match };
                yaml_mark_t value_mark = P->event.start_mark;
                unsigned n;

                s->has_match = true;
                if (P->event.type == YAML_SCALAR_EVENT && scalar_is_null(P)) {
                        perr(P, value_mark, "\"match\" is empty (expected at least one of: %s)", MATCH_EXPECTED);
                        return;
                }
                if (P->event.type != YAML_MAPPING_START_EVENT) {
                        if (P->event.type != YAML_ALIAS_EVENT)
                                perr(P, value_mark, "wrong type for \"match\": found %s (expected a mapping of: %s)",
                                     event_kind(P), MATCH_EXPECTED);
                        skip_node(P);
                        return;
                }
                n = parse_mapping(P, match_keys, _MATCH_MAX, " in match", MATCH_EXPECTED, match_key, &ms);
                if (P->stop || P->fatal < 0)
                        return;
                if (n == 0)
                        perr(P, value_mark, "\"match\" is empty (expected at least one of: %s)", MATCH_EXPECTED);
                if (ms.has_class_mask && !ms.has_class)
                        perr(P, ms.class_mask_mark, "\"class-mask\" without \"class\" (expected \"class\" in the "
                             "same match)");
                return;
        }
        case RES_DRIVER: {
                const char *v = expect_scalar(P, "driver", "a driver name like vfio-pci");
                if (!v)
                        return;
                if (!driver_name_is_valid(v)) {
                        _cleanup_free_ char *e = policy_escape(v, 80);
                        perr(P, P->event.start_mark,
                             "invalid driver name \"%s\" (expected a kernel driver name: printable ASCII without "
                             "spaces or '/', at most %u characters)", strna(e), DRIVER_NAME_MAX);
                        return;
                }
                free(s->r.driver);
                s->r.driver = strdup(v);
                if (!s->r.driver)
                        P->fatal = -ENOMEM;
                return;
        }
        case RES_WHOLE_GROUP:
                (void) parse_bool(P, "whole-group", &s->r.whole_group);
                return;
        }
}

static void parse_reservation(Parser *P) {
        ReservationState s = {
                .r = {
                        .mark = mark_of(P, P->event.start_mark),
                        .match = {
                                .vendor = -1,
                                .device = -1,
                                .subsystem_vendor = -1,
                                .subsystem_device = -1,
                                .class_mask = 0xffffff,
                                .iommu_group = -1,
                        },
                        .whole_group = true,
                },
        };
        yaml_mark_t start = P->event.start_mark;

        (void) parse_mapping(P, reservation_keys, _RES_MAX, " in reservation", "name, match, driver, whole-group",
                      reservation_key, &s);
        if (P->stop || P->fatal < 0)
                goto finish;

        if (!s.has_name)
                perr(P, start, "reservation without \"name\" (expected a unique name)");
        if (!s.has_match) {
                _cleanup_free_ char *e = s.r.name ? policy_escape(s.r.name, 80) : NULL;
                perr(P, start, "reservation%s%s%s without \"match\" (expected a mapping of: %s)",
                     e ? " \"" : "", e ? e : "", e ? "\"" : "", MATCH_EXPECTED);
        }
        if (!s.r.name)
                goto finish;
        if (P->frag.n_reservations + P->base->n_reservations >= POLICY_RESERVATIONS_MAX) {
                perr(P, start, "too many reservations (expected at most %u)", POLICY_RESERVATIONS_MAX);
                goto finish;
        }
        if (!s.r.driver) {
                s.r.driver = strdup("vfio-pci");
                if (!s.r.driver) {
                        P->fatal = -ENOMEM;
                        goto finish;
                }
        }
        /* Kept even when the reservation has errors, so that later duplicates of its name are reported too; a
         * fragment with errors is never merged into a policy anybody uses. */
        if (grow((void **) &P->frag.reservations, &P->alloc_reservations, P->frag.n_reservations + 1,
                 sizeof(Reservation)) < 0) {
                P->fatal = -ENOMEM;
                goto finish;
        }
        P->frag.reservations[P->frag.n_reservations++] = s.r;
        return;

finish:
        reservation_done(&s.r);
}

static void parse_reservations(Parser *P) {
        if (!expect_sequence(P, "reservations", "a sequence of reservations"))
                return;

        for (;;) {
                if (!next_event(P) || P->event.type == YAML_SEQUENCE_END_EVENT)
                        return;
                if (P->event.type == YAML_ALIAS_EVENT)
                        continue;
                if (P->event.type != YAML_MAPPING_START_EVENT) {
                        perr(P, P->event.start_mark, "wrong type for an entry of \"reservations\": found %s "
                             "(expected a mapping with name, match, driver, whole-group)", event_kind(P));
                        skip_node(P);
                        continue;
                }
                parse_reservation(P);
        }
}

enum {
        TOP_MODE,
        TOP_ON_VIOLATION,
        TOP_NETWORK_PROTECTION,
        TOP_ALLOWED_DRIVERS,
        TOP_DENIED_DRIVERS,
        TOP_RESERVATIONS,
        _TOP_MAX,
};

static const char *const top_keys[_TOP_MAX] = {
        [TOP_MODE] = "mode",
        [TOP_ON_VIOLATION] = "on-violation",
        [TOP_NETWORK_PROTECTION] = "network-protection",
        [TOP_ALLOWED_DRIVERS] = "allowed-drivers",
        [TOP_DENIED_DRIVERS] = "denied-drivers",
        [TOP_RESERVATIONS] = "reservations",
};

static void top_key(Parser *P, unsigned key, yaml_mark_t key_mark, void *userdata) {
        const char *v;

        switch (key) {
        case TOP_MODE:
                v = expect_scalar(P, "mode", "enforce or audit");
                if (!v)
                        return;
                if (streq(v, "enforce"))
                        P->frag.mode = POLICY_MODE_ENFORCE;
                else if (streq(v, "audit"))
                        P->frag.mode = POLICY_MODE_AUDIT;
                else {
                        _cleanup_free_ char *e = policy_escape(v, 64);
                        perr(P, P->event.start_mark, "invalid value \"%s\" for \"mode\" (expected enforce or audit)",
                             strna(e));
                        return;
                }
                P->has_mode = true;
                P->frag.mode_mark = mark_of(P, key_mark);
                return;
        case TOP_ON_VIOLATION:
                v = expect_scalar(P, "on-violation", "unbind or log");
                if (!v)
                        return;
                if (streq(v, "unbind"))
                        P->frag.on_violation = VIOLATION_UNBIND;
                else if (streq(v, "log"))
                        P->frag.on_violation = VIOLATION_LOG;
                else {
                        _cleanup_free_ char *e = policy_escape(v, 64);
                        perr(P, P->event.start_mark,
                             "invalid value \"%s\" for \"on-violation\" (expected unbind or log)", strna(e));
                        return;
                }
                P->has_on_violation = true;
                P->frag.on_violation_mark = mark_of(P, key_mark);
                return;
        case TOP_NETWORK_PROTECTION:
                if (!parse_bool(P, "network-protection", &P->frag.network_protection))
                        return;
                P->has_network_protection = true;
                P->frag.network_protection_mark = mark_of(P, key_mark);
                return;
        case TOP_ALLOWED_DRIVERS:
                parse_glob_list(P, "allowed-drivers", &P->frag.allowed_drivers, &P->frag.n_allowed_drivers,
                                &P->alloc_allowed);
                return;
        case TOP_DENIED_DRIVERS:
                parse_glob_list(P, "denied-drivers", &P->frag.denied_drivers, &P->frag.n_denied_drivers,
                                &P->alloc_denied);
                return;
        case TOP_RESERVATIONS:
                parse_reservations(P);
                return;
        }
}

static void parse_stream(Parser *P) {
        if (!next_event(P) || P->event.type != YAML_STREAM_START_EVENT)
                return;
        if (!next_event(P) || P->event.type == YAML_STREAM_END_EVENT)
                return; /* nothing but comments */
        if (P->event.type != YAML_DOCUMENT_START_EVENT)
                return;

        if (!next_event(P))
                return;
        if (P->event.type == YAML_MAPPING_START_EVENT)
                (void) parse_mapping(P, top_keys, _TOP_MAX, "",
                              "mode, on-violation, network-protection, allowed-drivers, denied-drivers, reservations",
                              top_key, NULL);
        else if (P->event.type == YAML_SCALAR_EVENT && scalar_is_null(P))
                ; /* an empty document */
        else {
                if (P->event.type != YAML_ALIAS_EVENT)
                        perr(P, P->event.start_mark, "the top level is %s (expected a mapping of settings)",
                             event_kind(P));
                skip_node(P);
        }

        if (!next_event(P) || P->event.type != YAML_DOCUMENT_END_EVENT)
                return;
        if (!next_event(P))
                return;
        if (P->event.type == YAML_DOCUMENT_START_EVENT)
                perr(P, P->event.start_mark, "more than one document in the file (expected exactly one)");
}

/* Some errors are only known at the end of a mapping (a missing "name"); show a file's errors in reading order. A
 * stable insertion sort: the list is bounded and mostly sorted already. */
static void errors_sort(PolicyErrors *e, size_t from) {
        for (size_t i = from + 1; i < e->n_errors; i++) {
                PolicyError x = e->errors[i];
                size_t j = i;
                while (j > from && (e->errors[j - 1].line > x.line ||
                                    (e->errors[j - 1].line == x.line && e->errors[j - 1].column > x.column))) {
                        e->errors[j] = e->errors[j - 1];
                        j--;
                }
                e->errors[j] = x;
        }
}

static void parser_done(Parser *P) {
        if (P->have_event)
                yaml_event_delete(&P->event);
        yaml_parser_delete(&P->yaml);
        policy_done(&P->frag);
}

/* Moves the fragment's contents into `p`. Cannot fail half-way: all allocations happen before anything moves. */
static int fragment_apply(Parser *P, Policy *p) {
        Policy *f = &P->frag;
        DriverGlob *allowed, *denied;
        Reservation *reservations;
        char **files;

        allowed = reallocarray(p->allowed_drivers, p->n_allowed_drivers + f->n_allowed_drivers + 1,
                               sizeof(DriverGlob));
        if (!allowed)
                return -ENOMEM;
        p->allowed_drivers = allowed;
        denied = reallocarray(p->denied_drivers, p->n_denied_drivers + f->n_denied_drivers + 1, sizeof(DriverGlob));
        if (!denied)
                return -ENOMEM;
        p->denied_drivers = denied;
        reservations = reallocarray(p->reservations, p->n_reservations + f->n_reservations + 1,
                                    sizeof(Reservation));
        if (!reservations)
                return -ENOMEM;
        p->reservations = reservations;
        files = reallocarray(p->files, p->n_files + f->n_files + 1, sizeof(char *));
        if (!files)
                return -ENOMEM;
        p->files = files;

        if (P->has_mode) {
                p->mode = f->mode;
                p->mode_mark = f->mode_mark;
        }
        if (P->has_on_violation) {
                p->on_violation = f->on_violation;
                p->on_violation_mark = f->on_violation_mark;
        }
        if (P->has_network_protection) {
                p->network_protection = f->network_protection;
                p->network_protection_mark = f->network_protection_mark;
        }
        if (f->n_allowed_drivers > 0)
                memcpy(p->allowed_drivers + p->n_allowed_drivers, f->allowed_drivers,
                       f->n_allowed_drivers * sizeof(DriverGlob));
        p->n_allowed_drivers += f->n_allowed_drivers;
        f->n_allowed_drivers = 0;
        if (f->n_denied_drivers > 0)
                memcpy(p->denied_drivers + p->n_denied_drivers, f->denied_drivers,
                       f->n_denied_drivers * sizeof(DriverGlob));
        p->n_denied_drivers += f->n_denied_drivers;
        f->n_denied_drivers = 0;
        if (f->n_reservations > 0)
                memcpy(p->reservations + p->n_reservations, f->reservations,
                       f->n_reservations * sizeof(Reservation));
        p->n_reservations += f->n_reservations;
        f->n_reservations = 0;
        memcpy(p->files + p->n_files, f->files, f->n_files * sizeof(char *));
        p->n_files += f->n_files;
        f->n_files = 0;

        /* Without memory for the index the merge still holds: matching just tries every rule. */
        (void) policy_index_rebuild(p);
        return 0;
}

/* Parses one document and merges it into `p`. With `apply_invalid`, a fragment with errors is merged as far as it
 * goes (policy_load() throws the whole policy away anyway, and later files then see its reservation names);
 * without, `p` is left as it was. Returns 0, -EINVAL when errors were added, or -ENOMEM. */
static int merge_data(Policy *p, const char *name, const char *data, size_t size, PolicyErrors *errors,
                      bool apply_invalid) {
        Parser P = {
                .data = data,
                .size = size,
                .errors = errors,
                .n_errors_before = errors->n_errors,
                .base = p,
        };
        int r;

        if (size > POLICY_FILE_MAX)
                return policy_errors_add(errors, name, 1, 1, "the file is larger than %u bytes (expected at most "
                                         "1 MiB)", POLICY_FILE_MAX) < 0 ? -ENOMEM : -EINVAL;

        P.frag.files = calloc(1, sizeof(char *));
        if (!P.frag.files)
                return -ENOMEM;
        P.frag.files[0] = strdup(name);
        if (!P.frag.files[0]) {
                free(P.frag.files);
                return -ENOMEM;
        }
        P.frag.n_files = 1;
        P.file = P.frag.files[0];

        if (!yaml_parser_initialize(&P.yaml)) {
                policy_done(&P.frag);
                return -ENOMEM;
        }
        yaml_parser_set_input_string(&P.yaml, (const unsigned char *) data, size);

        parse_stream(&P);

        errors_sort(errors, P.n_errors_before);
        if (P.fatal < 0)
                r = P.fatal;
        else if (!P.failed || apply_invalid)
                r = fragment_apply(&P, p);
        else
                r = 0;
        parser_done(&P);
        if (r < 0)
                return r;
        return P.failed ? -EINVAL : 0;
}

int policy_merge_buffer(Policy *p, const char *name, const char *data, size_t size, PolicyErrors *errors) {
        PolicyErrors local = {};
        int r;

        if (!p || !name || (!data && size > 0))
                return -EINVAL;
        if (size == 0)
                return 0;
        r = merge_data(p, name, data, size, errors ? errors : &local, false);
        policy_errors_clear(&local);
        return r;
}

/* ---- files and directories ---- */

static const char *file_type_name(mode_t m) {
        if (S_ISDIR(m))
                return "a directory";
        if (S_ISFIFO(m))
                return "a FIFO";
        if (S_ISSOCK(m))
                return "a socket";
        if (S_ISCHR(m))
                return "a character device";
        if (S_ISBLK(m))
                return "a block device";
        return "not a regular file";
}

static int file_error(PolicyErrors *errors, const char *display, const char *format, ...) _printf_(3, 4);
static int file_error(PolicyErrors *errors, const char *display, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = policy_errors_addv(errors, display, 1, 1, format, ap);
        va_end(ap);
        return r < 0 ? r : -EINVAL;
}

/* Reads one policy file and merges it. Non-blocking open so that a FIFO cannot hang the daemon, fstat() before any
 * read, a hard size limit. /dev/null (what a masking symlink points to) and empty files contribute nothing. */
static int load_path(Policy *p, int dir_fd, const char *path, const char *display, bool missing_ok,
                     PolicyErrors *errors) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size = 0;

        fd = openat(dir_fd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                return file_error(errors, display, "cannot open: %s", strerror(errno));
        }
        if (fstat(fd, &st) < 0)
                return file_error(errors, display, "cannot stat: %s", strerror(errno));
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                return 0;
        if (!S_ISREG(st.st_mode))
                return file_error(errors, display, "%s is not allowed (expected a regular file)",
                                  file_type_name(st.st_mode));
        if (st.st_size > POLICY_FILE_MAX)
                return file_error(errors, display, "the file is larger than 1 MiB (%jd bytes)",
                                  (intmax_t) st.st_size);
        if (st.st_size == 0)
                return 0;

        /* One byte more than the limit, so a file that grew after fstat() is still caught. */
        buf = malloc(POLICY_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + size, POLICY_FILE_MAX + 1 - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return file_error(errors, display, "cannot read: %s", strerror(errno));
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > POLICY_FILE_MAX)
                        return file_error(errors, display, "the file is larger than 1 MiB");
        }
        if (size == 0)
                return 0;
        return merge_data(p, display, buf, size, errors, true);
}

typedef struct DirEntryName {
        char *name;
        unsigned dir; /* 0: vendor, 1: admin */
} DirEntryName;

static int dir_entry_compare(const void *a, const void *b) {
        const DirEntryName *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return x->dir < y->dir ? -1 : x->dir > y->dir;
}

static bool policy_file_name(const char *name) {
        size_t n = strlen(name);
        return name[0] != '.' && n > strlen(".yaml") && streq(name + n - strlen(".yaml"), ".yaml");
}

static int list_dir(const char *path, unsigned which, int *ret_fd, DirEntryName **entries, size_t *n,
                    size_t *allocated, PolicyErrors *errors) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        int dfd, r = 0;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return file_error(errors, path, "cannot open the directory: %s", strerror(errno));
        }
        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d) {
                r = negative_errno();
                (void) close(dfd);
                return r;
        }

        for (;;) {
                struct dirent *de;
                char *copy;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = file_error(errors, path, "cannot read the directory: %s", strerror(errno));
                        break;
                }
                if (!policy_file_name(de->d_name))
                        continue;
                if (grow((void **) entries, allocated, *n + 1, sizeof(DirEntryName)) < 0 ||
                    !(copy = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                (*entries)[(*n)++] = (DirEntryName) { .name = copy, .dir = which };
        }
        (void) closedir(d);
        if (r == -ENOMEM)
                return r;
        *ret_fd = TAKE_FD(fd);
        return r;
}

static int load_dirs(Policy *p, const char *vendor_dir, const char *admin_dir, PolicyErrors *errors) {
        const char *dirs[2] = { vendor_dir, admin_dir };
        int fds[2] = { -EBADF, -EBADF };
        DirEntryName *entries = NULL;
        size_t n = 0, allocated = 0;
        int r = 0;

        bool failed = false;

        for (unsigned i = 0; i < 2; i++) {
                if (!dirs[i])
                        continue;
                r = list_dir(dirs[i], i, &fds[i], &entries, &n, &allocated, errors);
                if (r == -ENOMEM)
                        goto finish;
                if (r < 0)
                        failed = true;
        }
        r = 0;

        if (n > 0)
                qsort(entries, n, sizeof(DirEntryName), dir_entry_compare);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *display = NULL;
                unsigned w = entries[i].dir;

                /* Sorted by name, then vendor before admin: the admin's file of the same name masks the vendor's. */
                if (i + 1 < n && streq(entries[i].name, entries[i + 1].name))
                        continue;
                if (asprintf(&display, "%s/%s", dirs[w], entries[i].name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = load_path(p, fds[w], entries[i].name, display, false, errors);
                if (r == -ENOMEM)
                        break;
                if (r < 0)
                        failed = true;
                r = 0;
        }
        if (r == 0 && failed)
                r = -EINVAL;

finish:
        for (size_t i = 0; i < n; i++)
                free(entries[i].name);
        free(entries);
        for (unsigned i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        (void) close(fds[i]);
        return r;
}

int policy_load(const PolicyPaths *paths, Policy **ret, PolicyErrors *errors) {
        _cleanup_(policy_errors_clear) PolicyErrors local = {};
        _cleanup_policy_ Policy *p = NULL;
        bool failed = false;
        int r;

        if (!paths)
                paths = &policy_default_paths;
        if (!errors)
                errors = &local;

        r = policy_new_default(&p);
        if (r < 0)
                return r;
        if (paths->main_file) {
                r = load_path(p, AT_FDCWD, paths->main_file, paths->main_file, true, errors);
                if (r == -ENOMEM)
                        return r;
                failed = r < 0;
        }
        r = load_dirs(p, paths->vendor_dir, paths->admin_dir, errors);
        if (r == -ENOMEM)
                return r;
        if (failed || r < 0)
                return -EINVAL;

        *ret = TAKE_PTR(p);
        return 0;
}

int policy_load_files(char *const *files, size_t n_files, Policy **ret, PolicyErrors *errors) {
        _cleanup_(policy_errors_clear) PolicyErrors local = {};
        _cleanup_policy_ Policy *p = NULL;
        bool failed = false;
        int r;

        if (!errors)
                errors = &local;

        r = policy_new_default(&p);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_files; i++) {
                r = load_path(p, AT_FDCWD, files[i], files[i], false, errors);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        failed = true;
        }
        if (failed)
                return -EINVAL;

        *ret = TAKE_PTR(p);
        return 0;
}
