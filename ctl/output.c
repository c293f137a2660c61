/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

/* Length of the valid UTF-8 sequence at `s` (1..4), or 0 when it is invalid, overlong, a surrogate or beyond
 * U+10FFFF. */
static size_t utf8_sequence_length(const unsigned char *s) {
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07;
        } else
                return 0;

        for (size_t i = 1; i < n; i++) {
                /* A NUL stops here too, so we never read past the end of the string. */
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }

        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

void json_write_string(FILE *f, const char *s) {
        if (!s) {
                fputs("null", f);
                return;
        }

        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n;

                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        p++;
                        continue;
                case '\\':
                        fputs("\\\\", f);
                        p++;
                        continue;
                case '\n':
                        fputs("\\n", f);
                        p++;
                        continue;
                case '\t':
                        fputs("\\t", f);
                        p++;
                        continue;
                case '\r':
                        fputs("\\r", f);
                        p++;
                        continue;
                default:
                        break;
                }

                if (*p < 0x20 || *p == 0x7f) {
                        fprintf(f, "\\u%04x", *p);
                        p++;
                        continue;
                }

                n = utf8_sequence_length(p);
                if (n == 0) {
                        fputs("\\ufffd", f);
                        p++;
                        continue;
                }
                fwrite(p, 1, n, f);
                p += n;
        }
        fputc('"', f);
}

void tty_write_string(FILE *f, const char *s) {
        if (!s) {
                fputs("n/a", f);
                return;
        }

        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n;

                if (*p < 0x20 || *p == 0x7f) {
                        fprintf(f, "\\x%02x", *p);
                        p++;
                        continue;
                }

                n = utf8_sequence_length(p);
                /* C1 controls (U+0080..U+009F) are terminal escapes too. */
                if (n == 0 || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
                        fprintf(f, "\\x%02x", *p);
                        p++;
                        continue;
                }
                fwrite(p, 1, n, f);
                p += n;
        }
}

bool colour_wanted(int fd) {
        const char *e;

        e = getenv("NO_COLOR");
        if (e && *e)
                return false;

        e = getenv("TERM");
        if (e && strcmp(e, "dumb") == 0)
                return false;

        return isatty(fd) > 0;
}

const char *colour(bool enabled, Colour c) {
        static const char *const table[_COLOUR_MAX] = {
                [COLOUR_RESET] = "\033[0m",
                [COLOUR_BOLD] = "\033[1m",
                [COLOUR_RED] = "\033[31m",
                [COLOUR_GREEN] = "\033[32m",
                [COLOUR_YELLOW] = "\033[33m",
                [COLOUR_BLUE] = "\033[34m",
                [COLOUR_GREY] = "\033[90m",
        };

        if (!enabled || c < 0 || c >= _COLOUR_MAX)
                return "";
        return table[c];
}
