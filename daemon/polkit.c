/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "audit.h"
#include "dma-ownerd/macro.h"
#include "polkit.h"

#define POLKIT_CHECK_ALLOW_USER_INTERACTION 1u

/* Each pending query keeps the caller's message (at most the bus's message size) until polkit answers, up to 300 s
 * for an interactive one: bounded per sender and in total, so a caller that fires privileged calls and never waits
 * for them cannot make the daemon hold an unbounded amount of memory. Beyond the bounds the call is refused at
 * once (LimitsExceeded), which costs nothing to retry later. A sender that disconnects loses its queries.
 * The total stays below dbus-daemon's default max_replies_per_connection (128, which Debian's system.conf
 * keeps): every pending query is a reply the bus holds for us, and past that limit the bus itself fails our
 * CheckAuthorization, which callers would see as an unexplained denial. The margin is one sender's worth. */
#define POLKIT_QUERIES_PER_SENDER_MAX 16u
#define POLKIT_QUERIES_MAX 112u

typedef struct PolkitQuery PolkitQuery;

struct PolkitQuery {
        Polkit *polkit;
        sd_bus_slot *slot;    /* the outstanding CheckAuthorization */
        sd_bus_track *track;  /* the caller's connection: gone, the query goes too */
        sd_bus_message *call; /* the method call waiting for its answer */
        char *action;
        PolkitAuthorizedFn fn;
        void *userdata;
        PolkitQuery *prev, *next;
};

struct Polkit {
        sd_bus *bus;
        PolkitQuery *queries;
        size_t n_queries;
};

static void query_free(PolkitQuery *q) {
        if (!q)
                return;
        if (q->prev)
                q->prev->next = q->next;
        else if (q->polkit->queries == q)
                q->polkit->queries = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->polkit->n_queries--;
        /* Unreferencing the slot cancels the pending CheckAuthorization: a late answer finds no callback. */
        sd_bus_track_unref(q->track);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->call);
        free(q->action);
        free(q);
}

int polkit_new(sd_bus *bus, Polkit **ret) {
        Polkit *p = calloc(1, sizeof(Polkit));
        if (!p)
                return -ENOMEM;
        p->bus = sd_bus_ref(bus);
        *ret = p;
        return 0;
}

Polkit *polkit_free(Polkit *p) {
        if (!p)
                return NULL;
        while (p->queries)
                query_free(p->queries);
        sd_bus_unref(p->bus);
        free(p);
        return NULL;
}

static int caller_uid(sd_bus_message *call, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        /* From the bus driver, not from /proc: the sender's pid may be reused, its uid as the bus knows it cannot. */
        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, ret);
        if (r >= 0)
                return 0;
        return sd_bus_creds_get_uid(creds, ret);
}

static int reply_error(sd_bus_message *call, int r, sd_bus_error *error) {
        if (sd_bus_error_is_set(error))
                return sd_bus_reply_method_error(call, error);
        return sd_bus_reply_method_errno(call, r, NULL);
}

static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        PolkitQuery *q = userdata;
        int authorized = 0, challenge = 0, r;

        if (sd_bus_message_is_method_error(reply, SD_BUS_ERROR_LIMITS_EXCEEDED)) {
                /* The bus's own bounds (a bus configured tighter than dbus-daemon's default): busy, not denied,
                 * so the caller is told to retry, as beyond our own bounds. */
                log_msg(LOG_WARNING, "the bus refused to carry the polkit check for %s: too many pending",
                        q->action);
                r = sd_bus_error_setf(&error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                      "Too many authorization checks pending on the bus, retry later");
        } else if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                log_msg(LOG_WARNING, "polkit could not be asked about %s: %s", q->action,
                        e && e->message ? e->message : "unknown error");
                r = sd_bus_error_setf(&error, SD_BUS_ERROR_ACCESS_DENIED,
                                      "Authorization for %s could not be checked (polkit unavailable)", q->action);
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        log_msg(LOG_WARNING, "malformed reply from polkit: %s", strerror(-r));
                        r = sd_bus_error_setf(&error, SD_BUS_ERROR_ACCESS_DENIED,
                                              "Authorization for %s could not be checked", q->action);
                } else if (authorized)
                        r = q->fn(q->call, q->userdata, &error);
                else if (challenge && !sd_bus_message_get_allow_interactive_authorization(q->call))
                        r = sd_bus_error_setf(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                              "Interactive authorization is required for %s", q->action);
                else
                        r = sd_bus_error_setf(&error, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s",
                                              q->action);
        }

        if (r < 0 || sd_bus_error_is_set(&error))
                (void) reply_error(q->call, r, &error);
        query_free(q);
        return 0;
}

static int on_caller_gone(sd_bus_track *track, void *userdata) {
        PolkitQuery *q = userdata;

        log_msg(LOG_DEBUG, "the caller waiting for %s disconnected: query dropped", q->action);
        query_free(q);
        return 0;
}

static size_t queries_of_sender(const Polkit *p, const char *sender) {
        size_t n = 0;

        for (const PolkitQuery *q = p->queries; q; q = q->next)
                if (streq_ptr(sd_bus_message_get_sender(q->call), sender))
                        n++;
        return n;
}

int polkit_authorize(Polkit *p, sd_bus_message *call, const char *action, PolkitAuthorizedFn fn, void *userdata,
                     sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *check = NULL;
        PolkitQuery *q;
        const char *sender;
        uid_t uid;
        int r;

        r = caller_uid(call, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot determine the caller's identity: %m");
        if (uid == 0)
                return fn(call, userdata, error);

        sender = sd_bus_message_get_sender(call);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Caller has no bus name");

        if (p->n_queries >= POLKIT_QUERIES_MAX || queries_of_sender(p, sender) >= POLKIT_QUERIES_PER_SENDER_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many authorization checks pending (at most %u per caller, %u in total)",
                                         POLKIT_QUERIES_PER_SENDER_MAX, POLKIT_QUERIES_MAX);

        r = sd_bus_message_new_method_call(p->bus, &check, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(check, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender, action, 0,
                                  sd_bus_message_get_allow_interactive_authorization(call)
                                          ? POLKIT_CHECK_ALLOW_USER_INTERACTION
                                          : 0u,
                                  "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        *q = (PolkitQuery) {
                .polkit = p,
                .call = sd_bus_message_ref(call),
                .action = strdup(action),
                .fn = fn,
                .userdata = userdata,
                .next = p->queries,
        };
        if (p->queries)
                p->queries->prev = q;
        p->queries = q;
        p->n_queries++;
        if (!q->action) {
                query_free(q);
                return -ENOMEM;
        }

        r = sd_bus_track_new(p->bus, &q->track, on_caller_gone, q);
        if (r >= 0)
                r = sd_bus_track_add_sender(q->track, call);
        if (r < 0) {
                query_free(q);
                return r;
        }

        /* An interactive check may wait for a human: give it far longer than the default 25 s. */
        r = sd_bus_call_async(p->bus, &q->slot, check, on_check_reply, q, UINT64_C(300) * 1000000u);
        if (r < 0) {
                query_free(q);
                return r;
        }
        return 1;
}
