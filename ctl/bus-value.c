/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "bus-value.h"
#include "output.h"

static void write_string(FILE *f, const char *s, bool json) {
        if (json)
                json_write_string(f, s);
        else
                tty_write_string(f, s);
}

static int write_basic(FILE *f, sd_bus_message *m, char type, bool json, bool as_key) {
        union {
                uint8_t u8;
                int b;
                int16_t s16;
                uint16_t u16;
                int32_t s32;
                uint32_t u32;
                int64_t s64;
                uint64_t u64;
                double d;
                const char *s;
                int fd;
        } v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        /* JSON object keys must be strings. */
        if (json && as_key && type != 's' && type != 'o' && type != 'g')
                fputc('"', f);

        switch (type) {
        case 'y':
                fprintf(f, "%" PRIu8, v.u8);
                break;
        case 'b':
                fputs(v.b ? "true" : "false", f);
                break;
        case 'n':
                fprintf(f, "%" PRIi16, v.s16);
                break;
        case 'q':
                fprintf(f, "%" PRIu16, v.u16);
                break;
        case 'i':
                fprintf(f, "%" PRIi32, v.s32);
                break;
        case 'u':
                fprintf(f, "%" PRIu32, v.u32);
                break;
        case 'x':
                fprintf(f, "%" PRIi64, v.s64);
                break;
        case 't':
                fprintf(f, "%" PRIu64, v.u64);
                break;
        case 'd':
                fprintf(f, "%.17g", v.d);
                break;
        case 'h':
                fprintf(f, "%i", v.fd);
                break;
        case 's':
        case 'o':
        case 'g':
                write_string(f, v.s, json);
                break;
        default:
                return -EBADMSG;
        }

        if (json && as_key && type != 's' && type != 'o' && type != 'g')
                fputc('"', f);
        return 0;
}

static int write_element(FILE *f, sd_bus_message *m, bool json, unsigned depth);

static int write_container(FILE *f, sd_bus_message *m, char type, const char *contents, bool json, unsigned depth) {
        bool dict = type == 'a' && contents[0] == '{';
        bool first = true;
        int r;

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;

        if (type == 'v') {
                r = write_element(f, m, json, depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }

        fputs(dict ? "{" : type == 'r' && !json ? "(" : "[", f);
        for (;;) {
                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                if (!first)
                        fputs(json ? "," : ", ", f);
                first = false;

                if (dict) {
                        const char *entry;
                        char key_type;

                        r = sd_bus_message_peek_type(m, NULL, &entry);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_enter_container(m, 'e', entry);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_peek_type(m, &key_type, NULL);
                        if (r < 0)
                                return r;
                        r = write_basic(f, m, key_type, json, true);
                        if (r < 0)
                                return r;
                        fputs(json ? ":" : "=", f);
                        r = write_element(f, m, json, depth + 1);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                } else
                        r = write_element(f, m, json, depth + 1);
                if (r < 0)
                        return r;
        }
        fputs(dict ? "}" : type == 'r' && !json ? ")" : "]", f);

        return sd_bus_message_exit_container(m);
}

static int write_element(FILE *f, sd_bus_message *m, bool json, unsigned depth) {
        const char *contents;
        char type;
        int r;

        /* D-Bus caps nesting at 64 containers; refuse anything deeper rather than recurse without bound. */
        if (depth > 64)
                return -EBADMSG;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        if (type == 'a' || type == 'r' || type == 'v' || type == 'e')
                return write_container(f, m, type, contents, json, depth);
        return write_basic(f, m, type, json, false);
}

int bus_value_write(FILE *f, sd_bus_message *m, bool json) {
        int r = write_element(f, m, json, 0);
        return r < 0 ? r : 0;
}
