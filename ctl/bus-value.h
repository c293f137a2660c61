/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

/* Write the next complete element of `m` (any D-Bus type) as JSON or as terse text for a terminal. Arrays become JSON
 * arrays, dictionaries objects (keys as strings), structs arrays, variants their contents. Returns 0, or a negative
 * errno when the message is malformed. */
int bus_value_write(FILE *f, sd_bus_message *m, bool json);
