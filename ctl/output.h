/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Output helpers of dma-ownerctl: JSON strings, terminal-safe strings and colour. Every string that came from the
 * bus goes through one of the two writers, so a hostile process name (a Holders "comm") can neither break a JSON
 * line nor send escape sequences to the admin's terminal. */

#include <stdbool.h>
#include <stdio.h>

/* Write `s` as a JSON string literal, quotes included. Control characters, '"' and '\\' are escaped; bytes that are
 * not valid UTF-8 are replaced by U+FFFD so the output is always valid JSON. NULL is written as null. */
void json_write_string(FILE *f, const char *s);

/* Write `s` for a terminal: printable ASCII and valid UTF-8 pass through, control characters (C0, DEL, C1) and
 * invalid bytes are written as \xNN. Backslashes pass: systemd unit names carry them ("machine-qemu\x2d1.scope").
 * NULL is written as "n/a". */
void tty_write_string(FILE *f, const char *s);

/* Whether to colour output written to `fd`: only on a terminal, never when NO_COLOR is set to anything non-empty
 * (https://no-color.org) or TERM is "dumb". */
bool colour_wanted(int fd);

/* The escape sequences, or "" when colour is off. */
typedef enum Colour {
        COLOUR_RESET,
        COLOUR_BOLD,
        COLOUR_RED,
        COLOUR_GREEN,
        COLOUR_YELLOW,
        COLOUR_BLUE,
        COLOUR_GREY,
        _COLOUR_MAX,
} Colour;

const char *colour(bool enabled, Colour c);
