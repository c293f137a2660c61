/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "ctl.h"
#include "dma-ownerd/macro.h"
#include "dma-ownerd/bus-names.h"
#include "output.h"

static const char *const verb_names[_VERB_MAX] = {
        [VERB_LIST] = "list",
        [VERB_SHOW] = "show",
        [VERB_CHECK] = "check",
        [VERB_ASSIGN] = "assign",
        [VERB_RELEASE] = "release",
        [VERB_MONITOR] = "monitor",
        [VERB_RELOAD] = "reload",
        [VERB_RESCAN] = "rescan",
        [VERB_MODE] = "mode",
        [VERB_POLICY_CHECK] = "policy check",
        [VERB_POLICY_GENERATE] = "policy generate",
        [VERB_HELP] = "help",
        [VERB_VERSION] = "version",
};

const char *verb_to_string(Verb v) {
        if (v < 0 || v >= _VERB_MAX)
                return NULL;
        return verb_names[v];
}

void ctl_help(FILE *f) {
        fputs("Usage: " CTL_PROGRAM_NAME " [OPTIONS…] COMMAND [ARGS…]\n"
              "\n"
              "Inspect and control dma-ownerd, the IOMMU group DMA ownership daemon.\n"
              "\n"
              "Commands:\n"
              "  list                     List IOMMU groups with their devices, drivers, owner\n"
              "                           and holders (the default)\n"
              "  show TARGET              Show one group or device\n"
              "  check TARGET             Tell whether the group of TARGET can be assigned\n"
              "  assign TARGET            Hand the group of TARGET to user space (vfio)\n"
              "  release TARGET           Give the group of TARGET back to its host drivers\n"
              "                           (--persist: also drop the persisted reservation)\n"
              "  monitor                  Print violations, reloads and property changes\n"
              "                           as they happen, until interrupted\n"
              "  reload                   Reload the policy\n"
              "  rescan                   Re-read sysfs from scratch and reconcile every group\n"
              "  mode [enforce|audit]     Print or set the mode\n"
              "  policy check [FILE…]     Check policy files offline (no daemon needed)\n"
              "  policy generate          Print a policy reserving the groups bound to vfio now\n"
              "\n"
              "TARGET is a PCI address dddd:bb:dd.f or an IOMMU group number.\n"
              "\n"
              "Options:\n"
              "  -h --help                Show this help\n"
              "     --version             Show the version\n"
              "     --json                JSON output for list, show, check, mode and monitor\n"
              "                           (monitor: one object per line)\n"
              "     --address=ADDRESS     Connect to this bus address instead of the system bus\n"
              "     --force               assign: override network protection\n"
              "     --persist             assign: also write the reservation to the policy;\n"
              "                           release: remove it again\n"
              "\n"
              "Exit status:\n"
              "  0 success, 1 failure, 2 usage error, 3 not viable (check, assign),\n"
              "  4 access denied, 5 daemon not reachable, 6 no such device or group\n"
              "\n"
              "See dma-ownerctl(1).\n",
              f);
}

int target_parse(const char *s, Target *ret) {
        Target t = {};
        uint64_t v = 0;

        if (!s || !ret)
                return -EINVAL;

        if (pci_address_is_valid(s)) {
                t.kind = TARGET_ADDRESS;
                memcpy(t.address, s, PCI_ADDRESS_STRLEN);
                memcpy(t.string, s, PCI_ADDRESS_STRLEN);
                *ret = t;
                return 0;
        }

        /* Plain decimal only: no sign, no spaces, no hex, so "0x10" or " 3" is never silently a group. */
        if (!*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
                if (v > CTL_GROUP_MAX)
                        return -EINVAL;
        }

        t.kind = TARGET_GROUP;
        t.group = (uint32_t) v;
        (void) snprintf(t.string, sizeof t.string, "%" PRIu32, t.group);
        *ret = t;
        return 0;
}

typedef struct ErrorMap {
        const char *name;
        CtlExit code;
} ErrorMap;

CtlExit exit_code_from_bus_error(const char *name, int error) {
        static const ErrorMap map[] = {
                { DMAOWNERD_ERROR_NO_SUCH_DEVICE, CTL_EXIT_NO_SUCH_OBJECT },
                { DMAOWNERD_ERROR_NO_SUCH_GROUP, CTL_EXIT_NO_SUCH_OBJECT },
                { DMAOWNERD_ERROR_NOT_VIABLE, CTL_EXIT_NOT_VIABLE },
                { "org.freedesktop.DBus.Error.UnknownObject", CTL_EXIT_NO_SUCH_OBJECT },
                { "org.freedesktop.DBus.Error.AccessDenied", CTL_EXIT_ACCESS_DENIED },
                { "org.freedesktop.DBus.Error.AuthFailed", CTL_EXIT_ACCESS_DENIED },
                { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", CTL_EXIT_ACCESS_DENIED },
                { "org.freedesktop.DBus.Error.ServiceUnknown", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.NameHasNoOwner", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.NoServer", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.Disconnected", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.NoReply", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.Timeout", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.TimedOut", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.systemd1.NoSuchUnit", CTL_EXIT_UNREACHABLE },
                { "org.freedesktop.DBus.Error.InvalidArgs", CTL_EXIT_USAGE },
        };

        if (name) {
                for (size_t i = 0; i < ELEMENTSOF(map); i++)
                        if (strcmp(name, map[i].name) == 0)
                                return map[i].code;
                /* Activation failures ("…Error.Spawn.ChildExited" and friends) mean the daemon is not there. */
                if (strncmp(name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                        return CTL_EXIT_UNREACHABLE;
                return CTL_EXIT_FAILURE;
        }

        /* No error name: a local failure of sd-bus, typically while connecting. */
        switch (error < 0 ? -error : error) {
        case EACCES:
        case EPERM:
                return CTL_EXIT_ACCESS_DENIED;
        case ENOENT:
        case ECONNREFUSED:
        case ECONNRESET:
        case ENOTCONN:
        case EHOSTDOWN:
        case ETIMEDOUT:
        case ENXIO:
                return CTL_EXIT_UNREACHABLE;
        default:
                return CTL_EXIT_FAILURE;
        }
}

static void print_invalid_target(FILE *err, const char *arg) {
        fputs(CTL_PROGRAM_NAME ": invalid target \"", err);
        tty_write_string(err, arg);
        fputs("\": expected a PCI address dddd:bb:dd.f or a group number\n", err);
}

static int parse_verb(int n, char **words, Verb *ret_verb, int *ret_consumed, FILE *err) {
        static const Verb simple[] = {
                VERB_LIST, VERB_SHOW, VERB_CHECK, VERB_ASSIGN, VERB_RELEASE,
                VERB_MONITOR, VERB_RELOAD, VERB_RESCAN, VERB_MODE, VERB_HELP,
        };

        if (n == 0) {
                *ret_verb = VERB_LIST;
                *ret_consumed = 0;
                return 0;
        }

        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (strcmp(words[0], verb_names[simple[i]]) == 0) {
                        *ret_verb = simple[i];
                        *ret_consumed = 1;
                        return 0;
                }

        if (strcmp(words[0], "policy") == 0) {
                if (n >= 2 && strcmp(words[1], "check") == 0)
                        *ret_verb = VERB_POLICY_CHECK;
                else if (n >= 2 && strcmp(words[1], "generate") == 0)
                        *ret_verb = VERB_POLICY_GENERATE;
                else {
                        fputs(CTL_PROGRAM_NAME ": policy: expected \"check\" or \"generate\"\n", err);
                        return -EINVAL;
                }
                *ret_consumed = 2;
                return 0;
        }

        fputs(CTL_PROGRAM_NAME ": unknown command \"", err);
        tty_write_string(err, words[0]);
        fputs("\", see --help\n", err);
        return -EINVAL;
}

int ctl_parse_argv(int argc, char *argv[], CtlArgs *ret, FILE *err) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_ADDRESS,
                ARG_FORCE,
                ARG_PERSIST,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "force", no_argument, NULL, ARG_FORCE },
                { "persist", no_argument, NULL, ARG_PERSIST },
                {}
        };
        CtlArgs a = {};
        bool help = false, version = false;
        int c, consumed, n_words, r;
        char **words;

        if (!ret || argc < 1 || !argv)
                return -EINVAL;

        /* optind = 0 makes glibc start over, so the parser can run more than once (the unit tests do). */
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help = true;
                        break;
                case ARG_VERSION:
                        version = true;
                        break;
                case ARG_JSON:
                        a.json = true;
                        break;
                case ARG_ADDRESS:
                        if (!*optarg) {
                                fputs(CTL_PROGRAM_NAME ": --address needs a bus address\n", err);
                                return -EINVAL;
                        }
                        a.bus_address = optarg;
                        break;
                case ARG_FORCE:
                        a.force = true;
                        break;
                case ARG_PERSIST:
                        a.persist = true;
                        break;
                case ':':
                        fputs(CTL_PROGRAM_NAME ": option \"", err);
                        tty_write_string(err, argv[optind - 1]);
                        fputs("\" needs an argument\n", err);
                        return -EINVAL;
                default:
                        fputs(CTL_PROGRAM_NAME ": unknown option \"", err);
                        tty_write_string(err, argv[optind - 1]);
                        fputs("\", see --help\n", err);
                        return -EINVAL;
                }
        }

        if (help || version) {
                a.verb = help ? VERB_HELP : VERB_VERSION;
                *ret = a;
                return 0;
        }

        words = argv + optind;
        n_words = argc - optind;
        r = parse_verb(n_words, words, &a.verb, &consumed, err);
        if (r < 0)
                return r;
        words += consumed;
        n_words -= consumed;

        if (a.force && a.verb != VERB_ASSIGN) {
                fputs(CTL_PROGRAM_NAME ": --force only applies to assign\n", err);
                return -EINVAL;
        }
        if (a.persist && a.verb != VERB_ASSIGN && a.verb != VERB_RELEASE) {
                fputs(CTL_PROGRAM_NAME ": --persist only applies to assign and release\n", err);
                return -EINVAL;
        }

        switch (a.verb) {
        case VERB_LIST:
        case VERB_MONITOR:
        case VERB_RELOAD:
        case VERB_RESCAN:
        case VERB_POLICY_GENERATE:
        case VERB_HELP:
                if (n_words > 0) {
                        fprintf(err, CTL_PROGRAM_NAME ": %s takes no arguments\n", verb_names[a.verb]);
                        return -EINVAL;
                }
                break;

        case VERB_SHOW:
        case VERB_CHECK:
        case VERB_ASSIGN:
        case VERB_RELEASE:
                if (n_words != 1) {
                        fprintf(err, CTL_PROGRAM_NAME ": %s needs exactly one TARGET\n", verb_names[a.verb]);
                        return -EINVAL;
                }
                if (target_parse(words[0], &a.target) < 0) {
                        print_invalid_target(err, words[0]);
                        return -EINVAL;
                }
                break;

        case VERB_MODE:
                if (n_words > 1) {
                        fputs(CTL_PROGRAM_NAME ": mode takes at most one argument\n", err);
                        return -EINVAL;
                }
                if (n_words == 1) {
                        if (strcmp(words[0], DMAOWNERD_MODE_ENFORCE) != 0 &&
                            strcmp(words[0], DMAOWNERD_MODE_AUDIT) != 0) {
                                fputs(CTL_PROGRAM_NAME ": invalid mode \"", err);
                                tty_write_string(err, words[0]);
                                fputs("\": expected enforce or audit\n", err);
                                return -EINVAL;
                        }
                        a.mode = words[0];
                }
                break;

        case VERB_POLICY_CHECK:
                a.files = words;
                a.n_files = (size_t) n_words;
                break;

        default:
                break;
        }

        /* --json is for the verbs that only read; silently ignoring it elsewhere would hide a script's mistake. */
        if (a.json) {
                bool reads = a.verb == VERB_LIST || a.verb == VERB_SHOW || a.verb == VERB_CHECK ||
                             a.verb == VERB_MONITOR || (a.verb == VERB_MODE && !a.mode);
                if (!reads) {
                        fprintf(err, CTL_PROGRAM_NAME ": --json does not apply to %s%s\n", verb_names[a.verb],
                                a.verb == VERB_MODE ? " with an argument" : "");
                        return -EINVAL;
                }
        }

        *ret = a;
        return 0;
}
