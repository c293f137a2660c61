/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Asking polkit (org.freedesktop.PolicyKit1.Authority.CheckAuthorization) whether the sender of a method call may
 * do something, without blocking the loop: the call is kept (referenced) while polkit thinks, and answered from
 * polkit's reply. uid 0 needs no polkit. */

#include <systemd/sd-bus.h>

#define POLKIT_ACTION_ASSIGN "org.dmaownerd1.assign"
#define POLKIT_ACTION_MANAGE "org.dmaownerd1.manage"

typedef struct Polkit Polkit;

/* Runs once the caller is authorized; replies to `call` itself (or returns a negative errno / sets `error`, which
 * is then sent as the reply). */
typedef int (*PolkitAuthorizedFn)(sd_bus_message *call, void *userdata, sd_bus_error *error);

int polkit_new(sd_bus *bus, Polkit **ret);
/* Pending queries are dropped: their callers get no reply from us (the bus tells them when we disconnect). */
Polkit *polkit_free(Polkit *p);

/* For a method handler: returns what `fn` returned when the caller is root, 1 when the query was started (the reply
 * comes later), or a negative errno / `error` when asking failed. */
int polkit_authorize(Polkit *p, sd_bus_message *call, const char *action, PolkitAuthorizedFn fn, void *userdata,
                     sd_bus_error *error);
