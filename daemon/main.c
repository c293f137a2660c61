/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "assign.h"
#include "audit.h"
#include "bus-args.h"
#include "bus.h"
#include "config.h"
#include "dma-ownerd/macro.h"
#include "manager.h"
#include "monitor.h"
#include "policy.h"
#include "dma-ownerd/time-util.h"

#define RUNTIME_DIR_DEFAULT "/run/dma-ownerd" /* tmpfs: runtime assignments end with the boot */

#define EXIT_CONFIG 78 /* EX_CONFIG: systemd does not restart on it by default, and the admin sees why */

/* Everything main() owns, in one place. */
typedef struct Context {
        ManagerConfig config;
        MonitorSource event_source;
        AuditTarget log_target;
        const char *dev_vfio; /* watched for opens and closes: a VMM taking a group changes its DMA owner */
        bool scan_only;
        bool runtime_dir_set; /* --runtime-dir given */
        bool sysfs_root_set;  /* --sysfs-root given: a test tree, whose runtime state is not the system's */
        bool check_policy;
        char **check_files;
        size_t n_check_files;

        sd_event *loop;
        Manager *manager;
        Monitor *monitor;
        Bus *bus;
        sd_event_source *bus_retry;
        sd_event_source *vfio_watch;
} Context;

static void context_done(Context *c) {
        c->vfio_watch = sd_event_source_unref(c->vfio_watch);
        c->bus_retry = sd_event_source_unref(c->bus_retry);
        c->monitor = monitor_free(c->monitor);
        c->bus = bus_free(c->bus); /* before the manager: it unhooks itself */
        c->manager = manager_free(c->manager);
        c->loop = sd_event_unref(c->loop);
}

static void help(void) {
        printf("%s [OPTIONS…]\n\n"
               "Keeps PCI devices in IOMMU groups reserved for user space (vfio) away from host drivers, following\n"
               "the policy in %s and the policy.d directories.\n\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --check-policy [FILE…]  Check the installed policy (or FILEs), print the effective policy\n"
               "     --scan-only             Scan sysfs, print one summary line and exit\n"
               "     --sysfs-root=DIR        Use DIR instead of /sys\n"
               "     --proc-root=DIR         Use DIR instead of /proc\n"
               "     --policy=FILE           Main policy file (default %s)\n"
               "     --policy-dir=DIR        Admin drop-in directory (default %s)\n"
               "     --vendor-policy-dir=DIR Vendor drop-in directory (default %s)\n"
               "     --event-source=SOURCE   auto, udev or kernel (default auto)\n"
               "     --log-target=TARGET     auto, journal or stderr (default auto)\n"
               "     --netdev-fake=FILE      Read interface state from FILE instead of netlink (tests)\n"
               "     --kernel-release=REL    Assume this kernel release instead of uname's (tests)\n"
               "     --runtime-dir=DIR       Keep runtime assignments in DIR (default %s; none when\n"
               "                             --sysfs-root is given, unless this option is too)\n",
               program_invocation_short_name, POLICY_MAIN_FILE, POLICY_MAIN_FILE, POLICY_ADMIN_DIR,
               POLICY_VENDOR_DIR, RUNTIME_DIR_DEFAULT);
}

/* Returns 1 to go on, 0 to exit successfully (help, version), negative on a bad argument. */
static int parse_argv(Context *c, int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CHECK_POLICY,
                ARG_SCAN_ONLY,
                ARG_SYSFS_ROOT,
                ARG_PROC_ROOT,
                ARG_POLICY,
                ARG_POLICY_DIR,
                ARG_VENDOR_POLICY_DIR,
                ARG_EVENT_SOURCE,
                ARG_LOG_TARGET,
                ARG_NETDEV_FAKE,
                ARG_KERNEL_RELEASE,
                ARG_RUNTIME_DIR,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "check-policy", no_argument, NULL, ARG_CHECK_POLICY },
                { "scan-only", no_argument, NULL, ARG_SCAN_ONLY },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "policy-dir", required_argument, NULL, ARG_POLICY_DIR },
                { "vendor-policy-dir", required_argument, NULL, ARG_VENDOR_POLICY_DIR },
                { "event-source", required_argument, NULL, ARG_EVENT_SOURCE },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "netdev-fake", required_argument, NULL, ARG_NETDEV_FAKE },
                { "kernel-release", required_argument, NULL, ARG_KERNEL_RELEASE },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                {}
        };
        int opt;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("dma-ownerd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CHECK_POLICY:
                        c->check_policy = true;
                        break;
                case ARG_SCAN_ONLY:
                        c->scan_only = true;
                        break;
                case ARG_SYSFS_ROOT:
                        c->config.sysfs_root = optarg;
                        c->sysfs_root_set = true;
                        break;
                case ARG_PROC_ROOT:
                        c->config.proc_root = optarg;
                        break;
                case ARG_POLICY:
                        c->config.policy_paths.main_file = optarg;
                        break;
                case ARG_POLICY_DIR:
                        c->config.policy_paths.admin_dir = optarg;
                        break;
                case ARG_VENDOR_POLICY_DIR:
                        c->config.policy_paths.vendor_dir = optarg;
                        break;
                case ARG_EVENT_SOURCE:
                        if (monitor_source_from_string(optarg, &c->event_source) < 0) {
                                fprintf(stderr, "--event-source: invalid value \"%s\" (expected auto, udev or kernel)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_LOG_TARGET:
                        if (audit_target_from_string(optarg, &c->log_target) < 0) {
                                fprintf(stderr,
                                        "--log-target: invalid value \"%s\" (expected auto, journal or stderr)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_NETDEV_FAKE:
                        c->config.netdev_fake = optarg;
                        break;
                case ARG_KERNEL_RELEASE:
                        c->config.kernel_release = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        c->config.runtime_dir = optarg;
                        c->runtime_dir_set = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }

        if (optind < argc && !c->check_policy) {
                fprintf(stderr, "unexpected argument \"%s\" (only --check-policy takes file names)\n", argv[optind]);
                return -EINVAL;
        }
        /* The runtime state describes the real machine: a test tree given with --sysfs-root must neither read nor
         * overwrite it unless the test names a directory of its own. */
        if (!c->runtime_dir_set && !c->sysfs_root_set)
                c->config.runtime_dir = RUNTIME_DIR_DEFAULT;
        c->check_files = argv + optind;
        c->n_check_files = (size_t) (argc - optind);
        return 1;
}

/* ---- fault injection, for tests/hostile only ----
 *
 * DMA_OWNERD_TEST_FAULTS="GLOB=ACTION[@N][;…]" makes the sysfs writes whose path (relative to the sysfs root, as
 * the actuator's write hook sees it: "bus/pci/devices/ADDR/driver_override", "bus/pci/drivers_probe") matches GLOB
 * fail: ACTION is an errno name (EBUSY, ENODEV, EACCES, EIO, EINVAL), "kill" (SIGKILL to ourselves, exactly as a
 * kill -9 between two writes), or "vanish" (the device is removed from the tree the way the kernel removes it,
 * then the write goes on and meets what a write to a removed device meets). With @N only the N-th matching write
 * fails, else every one.
 *
 * Honoured only when the sysfs root is a test tree: not "/sys", and not a sysfs mount at all (statfs). On a real
 * system the variable is ignored with a warning, whatever its value. */

#define SYSFS_MAGIC_NUMBER 0x62656572

typedef struct FaultRule {
        char *glob;
        int action; /* > 0: errno; FAULT_KILL; FAULT_VANISH */
        unsigned nth; /* 0: every time */
        unsigned seen;
} FaultRule;

enum { FAULT_KILL = -1, FAULT_VANISH = -2 };

typedef struct Faults {
        FaultRule *rules;
        size_t n_rules;
        int root_fd;
} Faults;

static Faults faults = { .root_fd = -EBADF };

static int fault_action_from_string(const char *s) {
        static const struct {
                const char *name;
                int action;
        } table[] = {
                { "EBUSY", EBUSY }, { "ENODEV", ENODEV }, { "EACCES", EACCES }, { "EIO", EIO },
                { "EINVAL", EINVAL }, { "kill", FAULT_KILL }, { "vanish", FAULT_VANISH },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq_ptr(s, table[i].name))
                        return table[i].action;
        return 0;
}

/* What the kernel's device removal leaves for a writer that still holds the device: no bus link, no group link,
 * no driver link, and the attribute about to be written gone. */
static void fault_vanish(const char *address, const char *attribute) {
        _cleanup_free_ char *bus_link = NULL, *group_link = NULL, *target = NULL, *path = NULL;
        char buf[PATH_MAX];
        ssize_t n;

        if (!pci_address_is_valid(address) || asprintf(&bus_link, "bus/pci/devices/%s", address) < 0)
                return;
        if (asprintf(&group_link, "%s/iommu_group", bus_link) >= 0) {
                n = readlinkat(faults.root_fd, group_link, buf, sizeof(buf) - 1);
                if (n > 0) {
                        buf[n] = '\0';
                        const char *g = strrchr(buf, '/');
                        if (g && asprintf(&target, "kernel/iommu_groups/%s/devices/%s", g + 1, address) >= 0)
                                (void) unlinkat(faults.root_fd, target, 0);
                }
        }
        if (attribute && !strchr(attribute, '/') && asprintf(&path, "%s/%s", bus_link, attribute) >= 0)
                (void) unlinkat(faults.root_fd, path, 0);
        free(path);
        path = NULL;
        if (asprintf(&path, "%s/driver", bus_link) >= 0)
                (void) unlinkat(faults.root_fd, path, 0);
        (void) unlinkat(faults.root_fd, bus_link, 0);
}

static int fault_hook(const char *relpath, const char *value, void *userdata) {
        for (size_t i = 0; i < faults.n_rules; i++) {
                FaultRule *f = &faults.rules[i];

                if (fnmatch(f->glob, relpath, 0) != 0)
                        continue;
                f->seen++;
                if (f->nth != 0 && f->seen != f->nth)
                        continue;

                log_msg(LOG_WARNING, "fault injection: %s of \"%s\" → %s", relpath, value,
                        f->action == FAULT_KILL ? "kill" : f->action == FAULT_VANISH ? "vanish" : strerror(f->action));
                if (f->action == FAULT_KILL) {
                        (void) raise(SIGKILL);
                        _exit(EXIT_FAILURE); /* not reached */
                }
                if (f->action == FAULT_VANISH) {
                        char address[PCI_ADDRESS_STRLEN] = "";
                        const char *prefix = "bus/pci/devices/";

                        if (strncmp(relpath, prefix, strlen(prefix)) == 0) {
                                snprintf(address, sizeof(address), "%s", relpath + strlen(prefix));
                                fault_vanish(address, relpath + strlen(prefix) + PCI_ADDRESS_STRLEN);
                                return 0;
                        }
                        fault_vanish(value, NULL); /* drivers_probe names the device in the value */
                        return -ENODEV;
                }
                return -f->action;
        }
        return 0;
}

static void faults_setup(Context *c) {
        const char *spec = secure_getenv("DMA_OWNERD_TEST_FAULTS");
        _cleanup_free_ char *copy = NULL, *real = NULL;
        struct statfs sfs;
        char *save = NULL;

        if (!spec || !*spec)
                return;

        real = realpath(c->config.sysfs_root, NULL);
        if (!real || streq_ptr(real, "/sys") || statfs(real, &sfs) < 0 || sfs.f_type == SYSFS_MAGIC_NUMBER) {
                log_msg(LOG_WARNING, "DMA_OWNERD_TEST_FAULTS is set but %s is not a test tree: ignored",
                        c->config.sysfs_root);
                return;
        }

        copy = strdup(spec);
        if (!copy)
                return;
        for (char *rule = strtok_r(copy, ";", &save); rule; rule = strtok_r(NULL, ";", &save)) {
                char *eq = strrchr(rule, '='), *at;
                unsigned nth = 0;
                int action;

                if (!eq || eq == rule)
                        goto bad;
                *eq = '\0';
                at = strchr(eq + 1, '@');
                if (at) {
                        *at = '\0';
                        if (bus_args_parse_group_number(at + 1, &nth) < 0 || nth == 0)
                                goto bad;
                }
                action = fault_action_from_string(eq + 1);
                if (action == 0)
                        goto bad;

                FaultRule *l = reallocarray(faults.rules, faults.n_rules + 1, sizeof(FaultRule));
                if (!l)
                        return;
                faults.rules = l;
                faults.rules[faults.n_rules] = (FaultRule) { .glob = strdup(rule), .action = action, .nth = nth };
                if (!faults.rules[faults.n_rules].glob)
                        return;
                faults.n_rules++;
                continue;
        bad:
                log_msg(LOG_ERR, "DMA_OWNERD_TEST_FAULTS: malformed rule \"%s\" ignored", rule);
        }

        faults.root_fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (faults.root_fd < 0 || faults.n_rules == 0)
                return;
        actuator_set_write_hook(c->manager->actuator, fault_hook, NULL);
        log_msg(LOG_WARNING, "fault injection active: %zu rule(s) on the test tree %s", faults.n_rules, real);
}

static void faults_done(void) {
        for (size_t i = 0; i < faults.n_rules; i++)
                free(faults.rules[i].glob);
        free(faults.rules);
        faults.rules = NULL;
        faults.n_rules = 0;
        if (faults.root_fd >= 0)
                (void) close(faults.root_fd);
        faults.root_fd = -EBADF;
}

static int run_scan_only(Context *c) {
        _cleanup_model_ Model *model = NULL;
        struct rusage ru = {};
        uint64_t start = now_usec();
        int r;

        r = model_scan(c->config.sysfs_root, c->config.proc_root, c->config.kernel_release, &model);
        if (r < 0) {
                fprintf(stderr, "scan of %s failed: %s\n", c->config.sysfs_root, strerror(-r));
                return EXIT_FAILURE;
        }
        uint64_t scan_usec = now_usec() - start;
        (void) getrusage(RUSAGE_SELF, &ru);
        printf("devices=%zu groups=%zu scan_usec=%" PRIu64 " maxrss_kib=%ld\n", model->n_devices, model->n_groups,
               scan_usec, ru.ru_maxrss);
        return EXIT_SUCCESS;
}

static void on_uevent(const Event *event, void *userdata) {
        Context *c = userdata;
        (void) manager_handle_event(c->manager, event, now_usec());
}

static void on_overflow(void *userdata) {
        Context *c = userdata;
        log_msg(LOG_WARNING, "uevent queue overflowed: re-scanning sysfs");
        (void) manager_rescan(c->manager);
}

static void notify_status(Context *c) {
        (void) sd_notifyf(false, "STATUS=%s mode, %zu devices in %zu groups, %" PRIu64 " violations",
                          policy_mode_to_string(c->manager->policy->mode), c->manager->model->n_devices,
                          c->manager->model->n_groups, c->manager->violations);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Context *c = userdata;

        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec());
        (void) manager_reload(c->manager);
        (void) sd_notify(false, "READY=1");
        notify_status(c);
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Context *c = userdata;

        (void) sd_notify(false, "STOPPING=1");
        log_msg(LOG_INFO, "received %s, exiting; overrides stay in place", strsignal((int) si->ssi_signo));
        return sd_event_exit(c->loop, 0);
}

static int on_vfio_activity(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Context *c = userdata;
        (void) manager_refresh_holders(c->manager);
        return 0;
}

/* A process opening or closing /dev/vfio/N (a VM starting or stopping) changes the group's DMA owner without any
 * uevent; inotify on the directory tells us when to look at /proc again. Only for the real /proc. */
static void watch_vfio(Context *c) {
        struct stat st;

        if (c->vfio_watch || !streq_ptr(c->config.proc_root, "/proc"))
                return;
        if (stat(c->dev_vfio, &st) < 0 || !S_ISDIR(st.st_mode))
                return;

        int r = sd_event_add_inotify(c->loop, &c->vfio_watch, c->dev_vfio,
                                     IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_CREATE | IN_DELETE,
                                     on_vfio_activity, c);
        if (r < 0)
                log_msg(LOG_WARNING, "cannot watch %s for VFIO users: %s", c->dev_vfio, strerror(-r));
}

#define BUS_RETRY_USEC (5 * 1000000ULL)

/* Started before coldplug, the daemon is usually up before the system bus is: it enforces the policy from the
 * first moment and takes its name on the bus as soon as one answers. */
static int on_bus_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Context *c = userdata;
        int r;

        r = bus_start(c->loop, c->manager, &c->bus);
        if (r >= 0) {
                log_msg(LOG_INFO, "connected to the system bus");
                c->bus_retry = sd_event_source_disable_unref(c->bus_retry);
                return 0;
        }
        return sd_event_source_set_time_relative(s, BUS_RETRY_USEC);
}

static void start_bus(Context *c) {
        int r;

        r = bus_start(c->loop, c->manager, &c->bus);
        if (r >= 0)
                return;

        log_msg(LOG_WARNING, "running without D-Bus for now (%s): retrying every %llu s", strerror(-r),
                BUS_RETRY_USEC / 1000000ULL);
        r = sd_event_add_time_relative(c->loop, &c->bus_retry, CLOCK_MONOTONIC, BUS_RETRY_USEC, 0, on_bus_retry, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->bus_retry, SD_EVENT_ON);
        if (r < 0)
                log_msg(LOG_WARNING, "cannot schedule D-Bus retries: %s", strerror(-r));
}

static int run(Context *c) {
        _cleanup_policy_ Policy *policy = NULL;
        PolicyErrors errors = {};
        sigset_t mask;
        int r;

        r = policy_load(&c->config.policy_paths, &policy, &errors);
        if (r < 0) {
                audit_policy_rejected(&errors, /* kept_previous= */ false);
                policy_errors_clear(&errors);
                return EXIT_CONFIG;
        }
        audit_policy_loaded(policy);

        r = sd_event_default(&c->loop);
        if (r < 0) {
                log_msg(LOG_ERR, "cannot create the event loop: %s", strerror(-r));
                return EXIT_FAILURE;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        if (sd_event_add_signal(c->loop, NULL, SIGHUP, on_sighup, c) < 0 ||
            sd_event_add_signal(c->loop, NULL, SIGTERM, on_sigterm, c) < 0 ||
            sd_event_add_signal(c->loop, NULL, SIGINT, on_sigterm, c) < 0) {
                log_msg(LOG_ERR, "cannot install signal handlers");
                return EXIT_FAILURE;
        }

        /* The monitor exists before the scan so no uevent is lost; it holds them until the scan is applied. */
        r = monitor_new(c->loop, c->event_source, NULL, on_uevent, on_overflow, c, &c->monitor);
        if (r < 0) {
                log_msg(LOG_ERR, "cannot listen for uevents: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        /* No receive-buffer tuning here: libudev already asks for 128 MiB (or rmem_max without CAP_NET_ADMIN), and
         * an overflow only costs a re-scan. */
        monitor_hold(c->monitor);

        r = manager_new(&c->config, TAKE_PTR(policy), &c->manager);
        if (r < 0) {
                log_msg(LOG_ERR, "cannot read %s: %s", c->config.sysfs_root, strerror(-r));
                return EXIT_FAILURE;
        }

        faults_setup(c);

        /* Runtime assignments of the previous daemon (and the rollback of one it did not finish) before the first
         * reconciliation, so the start-up decisions already include them. */
        r = manager_load_runtime(c->manager);
        if (r < 0)
                log_msg(LOG_ERR, "cannot restore the runtime state: %s", strerror(-r));

        r = manager_reconcile_all(c->manager, EVENT_START);
        if (r < 0)
                log_msg(LOG_ERR, "start-up reconciliation failed: %s", strerror(-r));

        monitor_release(c->monitor);
        watch_vfio(c);

        /* The bus is a face, not a requirement: without one (an initramfs) the policy is still enforced. */
        start_bus(c);

        (void) sd_event_set_watchdog(c->loop, true);
        audit_started(c->config.sysfs_root, c->manager->model->n_devices, c->manager->model->n_groups,
                      c->manager->model->kernel_dma_ownership);
        (void) sd_notify(false, "READY=1");
        notify_status(c);
        log_msg(LOG_INFO, "listening for %s uevents", monitor_source_to_string(monitor_get_source(c->monitor)));

        r = sd_event_loop(c->loop);
        if (r < 0) {
                log_msg(LOG_ERR, "event loop failed: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        Context c = {
                .config = {
                        .sysfs_root = "/sys",
                        .proc_root = "/proc",
                        .policy_paths = policy_default_paths,
                },
                .event_source = MONITOR_SOURCE_AUTO,
                .log_target = AUDIT_TARGET_AUTO,
                .dev_vfio = "/dev/vfio",
        };
        int r;

        r = parse_argv(&c, argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (c.check_policy)
                return policy_check_main(c.check_files, c.n_check_files, &c.config.policy_paths) == 0 ? EXIT_SUCCESS
                                                                                                      : EXIT_FAILURE;
        if (c.scan_only)
                return run_scan_only(&c);

        audit_init(c.log_target);
        r = run(&c);
        context_done(&c);
        faults_done();
        return r;
}
