/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* dma-ownerctl: the admin's view of dma-ownerd over D-Bus (org.dmaownerd1), plus an offline policy checker. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-value.h"
#include "config.h"
#include "ctl.h"
#include "dma-ownerd/bus-names.h"
#include "dma-ownerd/macro.h"
#include "objects.h"
#include "output.h"
#include "policy.h"

static bool arg_colour;

/* sd-bus.h and sd-event.h provide the *_unrefp helpers. */
#define _cleanup_bus_ _cleanup_(sd_bus_flush_close_unrefp)
#define _cleanup_bus_message_ _cleanup_(sd_bus_message_unrefp)
#define _cleanup_bus_error_ _cleanup_(sd_bus_error_free)
#define _cleanup_event_ _cleanup_(sd_event_unrefp)

/* Print "dma-ownerctl: WHAT: REASON" with the server's message when there is one, and map the failure to an exit
 * code. */
static CtlExit fail(const sd_bus_error *error, int r, const char *what) {
        const char *name = error && sd_bus_error_is_set(error) ? error->name : NULL;
        CtlExit code = exit_code_from_bus_error(name, r);

        fprintf(stderr, CTL_PROGRAM_NAME ": %s: ", what);
        if (name && error->message)
                tty_write_string(stderr, error->message);
        else
                fputs(strerror(r < 0 ? -r : r), stderr);
        if (code == CTL_EXIT_UNREACHABLE)
                fputs(" (is dma-ownerd running?)", stderr);
        fputc('\n', stderr);
        return code;
}

static CtlExit fail_target(const sd_bus_error *error, int r, const char *verb, const Target *t) {
        _cleanup_free_ char *what = NULL;

        if (asprintf(&what, "%s %s", verb, t->string) < 0)
                return fail(NULL, -ENOMEM, verb);
        return fail(error, r, what);
}

static int connect_bus(const CtlArgs *a, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        if (!a->bus_address)
                /* Honours DBUS_SYSTEM_BUS_ADDRESS. */
                return sd_bus_open_system(ret);

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, a->bus_address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

/* ---- list and show ---- */

static void json_write_strv(FILE *f, char **l) {
        fputc('[', f);
        for (char **i = l; i && *i; i++) {
                if (i != l)
                        fputc(',', f);
                json_write_string(f, *i);
        }
        fputc(']', f);
}

static void json_write_device(FILE *f, const DeviceInfo *d) {
        fputs("{\"Path\":", f);
        json_write_string(f, d->path);
        fputs(",\"Address\":", f);
        json_write_string(f, d->address);
        fprintf(f,
                ",\"VendorId\":%" PRIu16 ",\"DeviceId\":%" PRIu16 ",\"SubsystemVendorId\":%" PRIu16
                ",\"SubsystemDeviceId\":%" PRIu16 ",\"Class\":%" PRIu32,
                d->vendor_id, d->device_id, d->subsystem_vendor_id, d->subsystem_device_id, d->class);
        fputs(",\"Driver\":", f);
        json_write_string(f, d->driver ? d->driver : "");
        fputs(",\"DriverOverride\":", f);
        json_write_string(f, d->driver_override ? d->driver_override : "");
        fprintf(f, ",\"DriverManagesDma\":%s", d->driver_manages_dma ? "true" : "false");
        fputs(",\"Group\":", f);
        json_write_string(f, d->group);
        fputs(",\"NetworkInterfaces\":", f);
        json_write_strv(f, d->network_interfaces);
        fprintf(f, ",\"IsBridge\":%s,\"Pinned\":%s}", d->is_bridge ? "true" : "false",
                d->pinned ? "true" : "false");
}

static void json_write_group(FILE *f, const GroupInfo *g) {
        fputs("{\"Path\":", f);
        json_write_string(f, g->path);
        fprintf(f, ",\"Number\":%" PRIu32 ",\"Owner\":", g->number);
        json_write_string(f, g->owner);
        fprintf(f, ",\"Reserved\":%s,\"Viable\":%s", g->reserved ? "true" : "false", g->viable ? "true" : "false");
        fputs(",\"Holders\":[", f);
        for (size_t i = 0; i < g->n_holders; i++) {
                fprintf(f, "%s{\"Pid\":%" PRIu32 ",\"Comm\":", i > 0 ? "," : "", g->holders[i].pid);
                json_write_string(f, g->holders[i].comm);
                fputs(",\"Unit\":", f);
                json_write_string(f, g->holders[i].unit);
                fputc('}', f);
        }
        fputs("],\"Blockers\":", f);
        json_write_strv(f, g->blockers);
        /* The device objects themselves rather than their paths: one call gives the whole picture. */
        fputs(",\"Devices\":[", f);
        for (size_t i = 0; i < g->n_device_infos; i++) {
                if (i > 0)
                        fputc(',', f);
                json_write_device(f, &g->device_infos[i]);
        }
        fputs("]}", f);
}

static const char *empty_to_dash(const char *s) {
        return s && *s ? s : "-";
}

static void print_device_line(FILE *f, const DeviceInfo *d) {
        fputs("    ", f);
        tty_write_string(f, d->address);
        fprintf(f, "  %04" PRIx16 ":%04" PRIx16 "  %06" PRIx32 "  ", d->vendor_id, d->device_id, d->class);
        fputs(colour(arg_colour, d->driver_manages_dma ? COLOUR_BLUE : COLOUR_RESET), f);
        tty_write_string(f, empty_to_dash(d->driver));
        fputs(colour(arg_colour, COLOUR_RESET), f);
        if (d->driver_override && *d->driver_override) {
                fputs("  override=", f);
                tty_write_string(f, d->driver_override);
        }
        if (d->pinned)
                fputs("  pinned", f);
        if (d->is_bridge)
                fputs("  bridge", f);
        if (d->network_interfaces && *d->network_interfaces) {
                fputs("  net=", f);
                for (char **i = d->network_interfaces; *i; i++) {
                        if (i != d->network_interfaces)
                                fputc(',', f);
                        tty_write_string(f, *i);
                }
        }
        fputc('\n', f);
}

static void print_holder(FILE *f, const Holder *h) {
        fprintf(f, "%" PRIu32 " ", h->pid);
        tty_write_string(f, h->comm);
        if (h->unit && *h->unit) {
                fputs(" (", f);
                tty_write_string(f, h->unit);
                fputc(')', f);
        }
}

static void print_group(FILE *f, const GroupInfo *g) {
        Colour owner_colour = streq_ptr(g->owner, DMAOWNERD_OWNER_USER) ? COLOUR_GREEN : COLOUR_RESET;

        fprintf(f, "%sgroup %" PRIu32 "%s  owner ", colour(arg_colour, COLOUR_BOLD), g->number,
                colour(arg_colour, COLOUR_RESET));
        fputs(colour(arg_colour, owner_colour), f);
        tty_write_string(f, g->owner);
        fputs(colour(arg_colour, COLOUR_RESET), f);
        if (g->reserved)
                fputs("  reserved", f);
        fprintf(f, "  %s%s%s\n", colour(arg_colour, g->viable ? COLOUR_RESET : COLOUR_YELLOW),
                g->viable ? "viable" : "not viable", colour(arg_colour, COLOUR_RESET));

        for (size_t i = 0; i < g->n_device_infos; i++)
                print_device_line(f, &g->device_infos[i]);
        for (size_t i = 0; i < g->n_holders; i++) {
                fputs("    holder ", f);
                print_holder(f, &g->holders[i]);
                fputc('\n', f);
        }
        for (char **b = g->blockers; b && *b; b++) {
                fprintf(f, "    %sblocker%s ", colour(arg_colour, COLOUR_RED), colour(arg_colour, COLOUR_RESET));
                tty_write_string(f, *b);
                fputc('\n', f);
        }
}

static CtlExit verb_list(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        GroupInfo *groups = NULL;
        size_t n = 0;
        int r;

        r = fetch_all_groups(bus, &groups, &n, &error);
        if (r < 0)
                return fail(&error, r, "list groups");

        if (a->json) {
                fputc('[', stdout);
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                fputc(',', stdout);
                        json_write_group(stdout, &groups[i]);
                }
                fputs("]\n", stdout);
        } else {
                for (size_t i = 0; i < n; i++)
                        print_group(stdout, &groups[i]);
                if (n == 0)
                        puts("No IOMMU groups.");
        }

        group_infos_free(groups, n);
        return CTL_EXIT_OK;
}

static void print_field(FILE *f, const char *key) {
        fprintf(f, "%s%16s:%s ", colour(arg_colour, COLOUR_BOLD), key, colour(arg_colour, COLOUR_RESET));
}

#define GROUP_PATH_PREFIX_SLASH DMAOWNERD_GROUP_PATH_PREFIX "/"

static void print_device_detail(FILE *f, const DeviceInfo *d) {
        print_field(f, "Address");
        tty_write_string(f, d->address);
        fputc('\n', f);
        print_field(f, "Vendor:Device");
        fprintf(f, "%04" PRIx16 ":%04" PRIx16 "\n", d->vendor_id, d->device_id);
        print_field(f, "Subsystem");
        fprintf(f, "%04" PRIx16 ":%04" PRIx16 "\n", d->subsystem_vendor_id, d->subsystem_device_id);
        print_field(f, "Class");
        fprintf(f, "%06" PRIx32 "\n", d->class);
        print_field(f, "Driver");
        tty_write_string(f, empty_to_dash(d->driver));
        fputc('\n', f);
        print_field(f, "Driver override");
        tty_write_string(f, empty_to_dash(d->driver_override));
        fputc('\n', f);
        print_field(f, "Pinned");
        fputs(d->pinned ? "yes\n" : "no\n", f);
        print_field(f, "Manages DMA");
        fputs(d->driver_manages_dma ? "yes\n" : "no\n", f);
        print_field(f, "Bridge");
        fputs(d->is_bridge ? "yes\n" : "no\n", f);
        print_field(f, "Network");
        if (d->network_interfaces && *d->network_interfaces)
                for (char **i = d->network_interfaces; *i; i++) {
                        tty_write_string(f, *i);
                        fputc(i[1] ? ' ' : '\n', f);
                }
        else
                fputs("-\n", f);
        print_field(f, "IOMMU group");
        /* The number, from the object path the daemon sent; the path itself when it has another shape. */
        if (!d->group || streq_ptr(d->group, "/"))
                fputc('-', f);
        else if (strncmp(d->group, GROUP_PATH_PREFIX_SLASH, strlen(GROUP_PATH_PREFIX_SLASH)) == 0)
                tty_write_string(f, d->group + strlen(GROUP_PATH_PREFIX_SLASH));
        else
                tty_write_string(f, d->group);
        fputc('\n', f);
}

static void print_group_detail(FILE *f, const GroupInfo *g) {
        print_field(f, "IOMMU group");
        fprintf(f, "%" PRIu32 "\n", g->number);
        print_field(f, "Owner");
        tty_write_string(f, g->owner);
        fputc('\n', f);
        print_field(f, "Reserved");
        fputs(g->reserved ? "yes\n" : "no\n", f);
        print_field(f, "Viable");
        fprintf(f, "%s%s%s\n", colour(arg_colour, g->viable ? COLOUR_RESET : COLOUR_YELLOW),
                g->viable ? "yes" : "no", colour(arg_colour, COLOUR_RESET));
        for (size_t i = 0; i < g->n_holders; i++) {
                print_field(f, i == 0 ? "Holders" : "");
                print_holder(f, &g->holders[i]);
                fputc('\n', f);
        }
        for (char **b = g->blockers; b && *b; b++) {
                print_field(f, b == g->blockers ? "Blockers" : "");
                fputs(colour(arg_colour, COLOUR_RED), f);
                tty_write_string(f, *b);
                fputs(colour(arg_colour, COLOUR_RESET), f);
                fputc('\n', f);
        }
        fprintf(f, "%s%16s:%s\n", colour(arg_colour, COLOUR_BOLD), "Devices", colour(arg_colour, COLOUR_RESET));
        for (size_t i = 0; i < g->n_device_infos; i++)
                print_device_line(f, &g->device_infos[i]);
}

static CtlExit verb_show(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (a->target.kind == TARGET_GROUP) {
                GroupInfo g = {};

                r = manager_get_group(bus, a->target.group, &path, &error);
                if (r >= 0)
                        r = group_fetch(bus, path, &g, &error);
                if (r >= 0)
                        r = group_fetch_devices(bus, &g, &error);
                if (r < 0) {
                        group_info_clear(&g);
                        return fail_target(&error, r, "show", &a->target);
                }
                if (a->json) {
                        json_write_group(stdout, &g);
                        fputc('\n', stdout);
                } else
                        print_group_detail(stdout, &g);
                group_info_clear(&g);
        } else {
                DeviceInfo d = {};

                r = manager_get_device(bus, a->target.address, &path, &error);
                if (r >= 0)
                        r = device_fetch(bus, path, &d, &error);
                if (r < 0) {
                        device_info_clear(&d);
                        return fail_target(&error, r, "show", &a->target);
                }
                if (a->json) {
                        json_write_device(stdout, &d);
                        fputc('\n', stdout);
                } else
                        print_device_detail(stdout, &d);
                device_info_clear(&d);
        }
        return CTL_EXIT_OK;
}

/* ---- check, assign, release, reload, mode ---- */

static CtlExit verb_check(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **reasons = NULL;
        int viable, r;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                               "CheckAssign", &error, &reply, "s", a->target.string);
        if (r < 0)
                return fail_target(&error, r, "check", &a->target);
        r = sd_bus_message_read(reply, "b", &viable);
        if (r >= 0)
                r = sd_bus_message_read_strv(reply, &reasons);
        if (r < 0)
                return fail_target(NULL, r, "check: malformed reply to", &a->target);

        if (a->json) {
                fputs("{\"Target\":", stdout);
                json_write_string(stdout, a->target.string);
                fprintf(stdout, ",\"Viable\":%s,\"Reasons\":", viable ? "true" : "false");
                json_write_strv(stdout, reasons);
                fputs("}\n", stdout);
        } else {
                fputs(a->target.string, stdout);
                /* "viable" in `list` is the group as it stands; this is whether AssignGroup would get it there. */
                fprintf(stdout, ": %s%s%s\n", colour(arg_colour, viable ? COLOUR_GREEN : COLOUR_YELLOW),
                        viable ? "can be assigned" : "cannot be assigned", colour(arg_colour, COLOUR_RESET));
                for (char **i = reasons; i && *i; i++) {
                        fputs("  ", stdout);
                        tty_write_string(stdout, *i);
                        fputc('\n', stdout);
                }
        }
        return viable ? CTL_EXIT_OK : CTL_EXIT_NOT_VIABLE;
}

static CtlExit verb_assign_release(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **report = NULL;
        bool assign = a->verb == VERB_ASSIGN;
        uint64_t flags = 0;
        int r;

        if (a->force)
                flags |= DMAOWNERD_ASSIGN_FORCE;
        if (a->persist)
                flags |= DMAOWNERD_ASSIGN_PERSIST;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                               assign ? "AssignGroup" : "ReleaseGroup", &error, &reply, "st", a->target.string,
                               flags);
        if (r < 0)
                return fail_target(&error, r, verb_to_string(a->verb), &a->target);

        /* The report says what was done, or what would be in audit mode; an empty reply is fine too. */
        r = sd_bus_message_peek_type(reply, NULL, NULL);
        if (r > 0)
                r = sd_bus_message_read_strv(reply, &report);
        if (r < 0)
                return fail_target(NULL, r, "malformed reply to", &a->target);
        for (char **i = report; i && *i; i++) {
                tty_write_string(stdout, *i);
                fputc('\n', stdout);
        }
        return CTL_EXIT_OK;
}

static CtlExit verb_reload_rescan(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        bool reload = a->verb == VERB_RELOAD;
        int r;

        r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                               reload ? "Reload" : "Rescan", &error, NULL, NULL);
        if (r < 0)
                return fail(&error, r, verb_to_string(a->verb));
        return CTL_EXIT_OK;
}

static CtlExit verb_mode(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *mode = NULL;
        int r;

        if (a->mode) {
                r = sd_bus_call_method(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH,
                                       DMAOWNERD_MANAGER_INTERFACE, "SetMode", &error, NULL, "s", a->mode);
                if (r < 0)
                        return fail(&error, r, "set mode");
                return CTL_EXIT_OK;
        }

        r = sd_bus_get_property_string(bus, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH,
                                       DMAOWNERD_MANAGER_INTERFACE, "Mode", &error, &mode);
        if (r < 0)
                return fail(&error, r, "get mode");
        if (a->json) {
                fputs("{\"Mode\":", stdout);
                json_write_string(stdout, mode);
                fputs("}\n", stdout);
        } else {
                tty_write_string(stdout, mode);
                fputc('\n', stdout);
        }
        return CTL_EXIT_OK;
}

/* ---- monitor ---- */

typedef struct MonitorContext {
        const CtlArgs *args;
        CtlExit exit_code;
} MonitorContext;

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        MonitorContext *c = userdata;

        fputs(CTL_PROGRAM_NAME ": monitor: disconnected from the bus\n", stderr);
        c->exit_code = CTL_EXIT_UNREACHABLE;
        return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 0);
}

static int monitor_malformed(MonitorContext *c, sd_bus_message *m, int r) {
        /* One bad signal must not end the monitor: note it and carry on. */
        fputs("\n", stdout);
        fprintf(stderr, CTL_PROGRAM_NAME ": monitor: malformed %s signal: %s\n",
                strna(sd_bus_message_get_member(m)), strerror(-r));
        (void) fflush(stdout);
        return 0;
}

static int on_manager_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        MonitorContext *c = userdata;
        bool json = c->args->json;
        const char *member = sd_bus_message_get_member(m);
        int r;

        if (streq_ptr(member, "Violation")) {
                const char *device, *driver, *rule, *action;
                uint32_t group;

                r = sd_bus_message_read(m, "ssuss", &device, &driver, &group, &rule, &action);
                if (r < 0)
                        return monitor_malformed(c, m, r);
                if (json) {
                        fputs("{\"Signal\":\"Violation\",\"Device\":", stdout);
                        json_write_string(stdout, device);
                        fputs(",\"Driver\":", stdout);
                        json_write_string(stdout, driver);
                        fprintf(stdout, ",\"Group\":%" PRIu32 ",\"Rule\":", group);
                        json_write_string(stdout, rule);
                        fputs(",\"Action\":", stdout);
                        json_write_string(stdout, action);
                        fputs("}\n", stdout);
                } else {
                        fprintf(stdout, "%sViolation%s device=", colour(arg_colour, COLOUR_RED),
                                colour(arg_colour, COLOUR_RESET));
                        tty_write_string(stdout, device);
                        fputs(" driver=", stdout);
                        tty_write_string(stdout, driver);
                        fprintf(stdout, " group=%" PRIu32 " rule=", group);
                        tty_write_string(stdout, rule);
                        fputs(" action=", stdout);
                        tty_write_string(stdout, action);
                        fputc('\n', stdout);
                }
        } else if (streq_ptr(member, "PolicyReloaded")) {
                const char *error;
                int ok;

                r = sd_bus_message_read(m, "bs", &ok, &error);
                if (r < 0)
                        return monitor_malformed(c, m, r);
                if (json) {
                        fprintf(stdout, "{\"Signal\":\"PolicyReloaded\",\"Ok\":%s,\"Error\":", ok ? "true" : "false");
                        json_write_string(stdout, error);
                        fputs("}\n", stdout);
                } else {
                        fprintf(stdout, "PolicyReloaded ok=%s", ok ? "yes" : "no");
                        if (*error) {
                                fputs(" error=", stdout);
                                tty_write_string(stdout, error);
                        }
                        fputc('\n', stdout);
                }
        } else
                return 0; /* a signal added after this CLI was written */

        (void) fflush(stdout);
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        MonitorContext *c = userdata;
        bool json = c->args->json;
        const char *interface;
        int r;

        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0)
                return monitor_malformed(c, m, r);

        if (json) {
                fputs("{\"Signal\":\"PropertiesChanged\",\"Path\":", stdout);
                json_write_string(stdout, sd_bus_message_get_path(m));
                fputs(",\"Interface\":", stdout);
                json_write_string(stdout, interface);
                fputs(",\"Changed\":", stdout);
        } else {
                fputs("PropertiesChanged ", stdout);
                tty_write_string(stdout, sd_bus_message_get_path(m));
                fputc(' ', stdout);
                tty_write_string(stdout, interface);
                fputc(' ', stdout);
        }
        r = bus_value_write(stdout, m, json); /* a{sv} */
        if (r < 0)
                return monitor_malformed(c, m, r);
        fputs(json ? ",\"Invalidated\":" : " invalidated=", stdout);
        r = bus_value_write(stdout, m, json); /* as */
        if (r < 0)
                return monitor_malformed(c, m, r);
        fputs(json ? "}\n" : "\n", stdout);

        (void) fflush(stdout);
        return 0;
}

static CtlExit verb_monitor(sd_bus *bus, const CtlArgs *a) {
        _cleanup_event_ sd_event *event = NULL;
        MonitorContext c = { .args = a, .exit_code = CTL_EXIT_OK };
        sigset_t mask;
        int r;

        r = sd_bus_match_signal(bus, NULL, DMAOWNERD_BUS_NAME, DMAOWNERD_MANAGER_PATH, DMAOWNERD_MANAGER_INTERFACE,
                                NULL, on_manager_signal, &c);
        if (r < 0)
                return fail(NULL, r, "monitor: add match");
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" DMAOWNERD_BUS_NAME "',"
                             "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                             "path_namespace='" DMAOWNERD_MANAGER_PATH "'",
                             on_properties_changed, &c);
        if (r < 0)
                return fail(NULL, r, "monitor: add match");
        /* sd-bus synthesizes this locally when the connection drops. */
        r = sd_bus_match_signal(bus, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, &c);
        if (r < 0)
                return fail(NULL, r, "monitor: add match");

        (void) sigemptyset(&mask);
        (void) sigaddset(&mask, SIGINT);
        (void) sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return fail(NULL, negative_errno(), "monitor: block signals");

        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_exit_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_exit_signal, NULL);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return fail(NULL, r, "monitor: set up the event loop");

        r = sd_event_loop(event);
        (void) sd_bus_detach_event(bus);
        if (r < 0)
                return fail(NULL, r, "monitor");
        return c.exit_code;
}

/* ---- policy generate ---- */

/* Quote for a YAML double-quoted scalar, with fnmatch(3) metacharacters escaped too when `glob` is set: the policy
 * reads allowed-drivers as globs, and a driver name must only ever match itself. */
static void yaml_write_quoted(FILE *f, const char *s, bool glob) {
        fputc('"', f);
        for (const char *p = s; *p; p++) {
                if (glob && strchr("*?[]\\", *p))
                        fputs("\\\\", f);
                if (*p == '"' || *p == '\\')
                        fputc('\\', f);
                fputc(*p, f);
        }
        fputc('"', f);
}

static int strv_contains(char **l, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i], s) == 0)
                        return true;
        return false;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static CtlExit verb_policy_generate(sd_bus *bus, const CtlArgs *a) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char **allowed = NULL; /* borrowed from `groups` */
        GroupInfo *groups = NULL;
        size_t n = 0, n_allowed = 0, n_reserved = 0;
        CtlExit code = CTL_EXIT_OK;
        int r;

        r = fetch_all_groups(bus, &groups, &n, &error);
        if (r < 0)
                return fail(&error, r, "policy generate");

        allowed = calloc(1, sizeof(char *));
        if (!allowed) {
                group_infos_free(groups, n);
                return fail(NULL, -ENOMEM, "policy generate");
        }

        /* First pass: which drivers sit beside vfio and are not already in the kernel's own set. */
        for (size_t i = 0; i < n; i++) {
                const GroupInfo *g = &groups[i];
                bool vfio = false;

                for (size_t j = 0; j < g->n_device_infos; j++)
                        if (driver_name_is_valid(g->device_infos[j].driver) &&
                            driver_is_vfio(g->device_infos[j].driver))
                                vfio = true;
                if (!vfio)
                        continue;

                for (size_t j = 0; j < g->n_device_infos; j++) {
                        const char *driver = g->device_infos[j].driver;
                        char **grown;

                        if (!driver || !*driver || driver_manages_dma(driver))
                                continue;
                        if (!driver_name_is_valid(driver)) {
                                fputs(CTL_PROGRAM_NAME ": policy generate: ignoring invalid driver name \"", stderr);
                                tty_write_string(stderr, driver);
                                fputs("\"\n", stderr);
                                code = CTL_EXIT_FAILURE;
                                continue;
                        }
                        if (strv_contains(allowed, n_allowed, driver))
                                continue;
                        grown = reallocarray(allowed, n_allowed + 2, sizeof(char *));
                        if (!grown) {
                                group_infos_free(groups, n);
                                return fail(NULL, -ENOMEM, "policy generate");
                        }
                        allowed = grown;
                        allowed[n_allowed++] = (char *) driver;
                        allowed[n_allowed] = NULL;
                }
        }
        qsort(allowed, n_allowed, sizeof(char *), compare_strings);

        fputs("# Generated by dma-ownerctl policy generate: reserves the IOMMU groups bound to vfio now and allows\n"
              "# the host drivers bound beside them. Review it before installing it, for instance as\n"
              "# /etc/dma-ownerd/policy.d/50-generated.yaml.\n",
              stdout);
        if (n_allowed > 0) {
                fputs("allowed-drivers:\n", stdout);
                for (size_t i = 0; i < n_allowed; i++) {
                        fputs("  - ", stdout);
                        yaml_write_quoted(stdout, allowed[i], true);
                        fputc('\n', stdout);
                }
        }

        for (size_t i = 0; i < n; i++) {
                const GroupInfo *g = &groups[i];
                const DeviceInfo *first = NULL;

                for (size_t j = 0; j < g->n_device_infos && !first; j++)
                        if (driver_name_is_valid(g->device_infos[j].driver) &&
                            driver_is_vfio(g->device_infos[j].driver) &&
                            pci_address_is_valid(g->device_infos[j].address))
                                first = &g->device_infos[j];
                if (!first)
                        continue;

                if (n_reserved++ == 0)
                        fputs("reservations:\n", stdout);
                /* Match on the address and the IDs rather than the group number: group numbers may change when
                 * hardware or firmware settings do, and the whole group follows the device anyway. */
                fprintf(stdout, "  # IOMMU group %" PRIu32 ":", g->number);
                for (size_t j = 0; j < g->n_device_infos; j++) {
                        fputc(' ', stdout);
                        tty_write_string(stdout, g->device_infos[j].address);
                        fputs(" (", stdout);
                        tty_write_string(stdout, empty_to_dash(g->device_infos[j].driver));
                        fputc(')', stdout);
                }
                fprintf(stdout,
                        "\n"
                        "  - name: group-%" PRIu32 "\n"
                        "    match:\n"
                        "      address: \"%s\"\n"
                        "      vendor: 0x%04" PRIx16 "\n"
                        "      device: 0x%04" PRIx16 "\n"
                        "    driver: ",
                        g->number, first->address, first->vendor_id, first->device_id);
                yaml_write_quoted(stdout, first->driver, false);
                fputs("\n    whole-group: true\n", stdout);
        }
        if (n_reserved == 0)
                fputs("# No IOMMU group is bound to vfio at the moment: nothing to reserve.\n", stdout);

        group_infos_free(groups, n);
        if (fflush(stdout) != 0)
                return fail(NULL, negative_errno(), "policy generate: write");
        return code;
}

/* ---- main ---- */

static CtlExit run(const CtlArgs *a) {
        _cleanup_bus_ sd_bus *bus = NULL;
        int r;

        switch (a->verb) {
        case VERB_HELP:
                ctl_help(stdout);
                return CTL_EXIT_OK;
        case VERB_VERSION:
                puts(CTL_PROGRAM_NAME " " PACKAGE_VERSION);
                return CTL_EXIT_OK;
        case VERB_POLICY_CHECK:
                /* Offline and with the daemon's own code, so it also works before the daemon is installed. */
                r = policy_check_main(a->files, a->n_files, &policy_default_paths);
                return r == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
        default:
                break;
        }

        r = connect_bus(a, &bus);
        if (r < 0)
                return fail(NULL, r, a->bus_address ? "connect to the bus" : "connect to the system bus");

        /* polkit may ask for a password on the mutating calls; reads are open to everyone anyway. */
        if (a->verb == VERB_ASSIGN || a->verb == VERB_RELEASE || a->verb == VERB_RELOAD || a->verb == VERB_RESCAN ||
            (a->verb == VERB_MODE && a->mode)) {
                r = sd_bus_set_allow_interactive_authorization(bus, true);
                if (r < 0)
                        return fail(NULL, r, "allow interactive authorization");
        }

        switch (a->verb) {
        case VERB_LIST:
                return verb_list(bus, a);
        case VERB_SHOW:
                return verb_show(bus, a);
        case VERB_CHECK:
                return verb_check(bus, a);
        case VERB_ASSIGN:
        case VERB_RELEASE:
                return verb_assign_release(bus, a);
        case VERB_MONITOR:
                return verb_monitor(bus, a);
        case VERB_RELOAD:
        case VERB_RESCAN:
                return verb_reload_rescan(bus, a);
        case VERB_MODE:
                return verb_mode(bus, a);
        case VERB_POLICY_GENERATE:
                return verb_policy_generate(bus, a);
        default:
                return CTL_EXIT_FAILURE;
        }
}

int main(int argc, char *argv[]) {
        CtlArgs args;
        CtlExit code;

        if (ctl_parse_argv(argc, argv, &args, stderr) < 0)
                return CTL_EXIT_USAGE;

        arg_colour = !args.json && colour_wanted(STDOUT_FILENO);

        code = run(&args);
        if (fflush(stdout) != 0 && code == CTL_EXIT_OK) {
                fprintf(stderr, CTL_PROGRAM_NAME ": write: %s\n", strerror(errno));
                code = CTL_EXIT_FAILURE;
        }
        return code;
}
