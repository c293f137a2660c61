/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "assign.h"
#include "audit.h"
#include "bus-args.h"
#include "dma-ownerd/macro.h"
#include "dma-ownerd/time-util.h"

#define DEFAULT_TARGET_DRIVER "vfio-pci"

/* A member of the group as it was before we touched anything: the model's arrays move under refreshes, so the
 * operation works on copies and looks devices up by address each time. */
typedef struct Member {
        char address[PCI_ADDRESS_STRLEN];
        char driver[DRIVER_NAME_MAX + 1]; /* "" when unbound */
        bool has_override;
        char override[DRIVER_NAME_MAX + 1];
        bool is_bridge;
        bool act;     /* to be moved (assign) or released (release) */
        bool touched; /* at least one write was attempted: roll back on failure */
} Member;

void assign_report_done(AssignReport *r) {
        if (!r)
                return;
        strv_free(r->lines);
        free(r->message);
        *r = (AssignReport) {};
}

static void report_line(AssignReport *r, const char *format, ...) _printf_(2, 3);
static void report_line(AssignReport *r, const char *format, ...) {
        char *line = NULL;
        va_list ap;

        if (!r)
                return;
        va_start(ap, format);
        if (vasprintf(&line, format, ap) < 0)
                line = NULL;
        va_end(ap);
        if (!line)
                return;

        char **l = realloc(r->lines, (r->n_lines + 2) * sizeof(char *));
        if (!l) {
                free(line);
                return;
        }
        l[r->n_lines++] = line;
        l[r->n_lines] = NULL;
        r->lines = l;
}

static void report_failure(AssignReport *r, const char *address, const char *format, ...) _printf_(3, 4);
/* The first failure is the one the caller returns (FailedDevice and the error message); later ones, from the same
 * round, are only report lines. */
static void report_failure(AssignReport *r, const char *address, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        if (!r)
                return;
        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        if (!message)
                return;
        report_line(r, "%s", message);
        if (r->message)
                return;
        if (address)
                snprintf(r->failed_device, sizeof(r->failed_device), "%s", address);
        r->message = TAKE_PTR(message);
}

PolicyMode manager_effective_mode(const Manager *m) {
        return m->has_mode_override ? m->mode_override : m->policy->mode;
}

int manager_resolve_target(Manager *m, const char *target, unsigned *ret_group) {
        BusTarget t;

        /* The syntax is checked by a pure function (fuzzed by tests/fuzz/fuzz-bus-args.c), bounded in length before
         * anything else: strictly decimal groups, no sign, no blanks, no "0x", at most INT32_MAX. */
        if (bus_args_parse_target(target, &t) < 0)
                return -EINVAL;

        if (t.kind == BUS_TARGET_DEVICE) {
                const Device *d = model_find_device(m->model, t.address);
                if (!d)
                        return -ENXIO;
                if (d->id.iommu_group < 0)
                        return -EDOM;
                *ret_group = (unsigned) d->id.iommu_group;
                return 0;
        }

        if (!model_find_group(m->model, (int64_t) t.group))
                return -ENOENT;
        *ret_group = t.group;
        return 0;
}

static int snapshot_group(Manager *m, unsigned group, Member **ret, size_t *ret_n) {
        const Group *g = model_find_group(m->model, group);
        Member *members;

        if (!g)
                return -ENOENT;

        members = calloc(g->n_members ?: 1, sizeof(Member));
        if (!members)
                return -ENOMEM;

        for (size_t i = 0; i < g->n_members; i++) {
                const Device *d = model_group_member(m->model, g, i);
                Member *mb = &members[i];

                snprintf(mb->address, sizeof(mb->address), "%s", d->id.address);
                if (d->driver)
                        snprintf(mb->driver, sizeof(mb->driver), "%s", d->driver);
                if (d->driver_override) {
                        mb->has_override = true;
                        snprintf(mb->override, sizeof(mb->override), "%s", d->driver_override);
                }
                mb->is_bridge = d->is_bridge;
        }

        *ret = members;
        *ret_n = g->n_members;
        return 0;
}

static const RuntimeGroup *runtime_group_find(const Manager *m, unsigned group) {
        for (size_t i = 0; i < m->n_runtime_groups; i++)
                if (m->runtime_groups[i].number == group)
                        return &m->runtime_groups[i];
        return NULL;
}

static bool mark_is_runtime(const SourceMark *mark) {
        return mark->file && streq_ptr(mark->file, RUNTIME_SOURCE_FILE);
}

/* The driver a group is assigned to: what a reservation of the admin names, else vfio-pci. */
static const char *group_target_driver(const Manager *m, unsigned group) {
        const Group *g = model_find_group(m->model, group);

        for (size_t i = 0; g && i < g->n_members; i++) {
                const Reservation *res = policy_match_reservation(m->policy, &model_group_member(m->model, g, i)->id);
                if (res && !mark_is_runtime(&res->mark) && driver_name_is_valid(res->driver))
                        return res->driver;
        }

        const RuntimeGroup *rg = runtime_group_find(m, group);
        if (rg && driver_name_is_valid(rg->driver))
                return rg->driver;
        return DEFAULT_TARGET_DRIVER;
}

static void decision_init(Decision *d, DecisionKind kind, const Member *mb, unsigned group, const char *target,
                          const char *rule_name) {
        *d = (Decision) {
                .kind = kind,
                .group = group,
                .rule_name = rule_name,
                .rule = { .file = RUNTIME_SOURCE_FILE },
        };
        snprintf(d->address, sizeof(d->address), "%s", mb->address);
        snprintf(d->driver, sizeof(d->driver), "%s", mb->driver);
        if (target)
                snprintf(d->target_driver, sizeof(d->target_driver), "%s", target);
}

static void decision_add_step(Decision *d, StepKind kind, const char *driver) {
        if (d->n_steps >= DECISION_STEPS_MAX)
                return;
        d->steps[d->n_steps] = (Step) { .kind = kind };
        if (driver)
                snprintf(d->steps[d->n_steps].driver, sizeof(d->steps[d->n_steps].driver), "%s", driver);
        d->n_steps++;
}

/* From the state manager_refresh_net() just took for the group. */
static bool interface_in_use(Manager *m, const char *address, char ret_interface[IFNAME_MAX]) {
        const Device *d = model_find_device(m->model, address);

        for (size_t i = 0; d && i < d->n_net; i++)
                if (net_interface_in_use(&d->net[i])) {
                        snprintf(ret_interface, IFNAME_MAX, "%s", d->net[i].name);
                        return true;
                }
        return false;
}

/* Which members an assign moves: not those on a driver the policy allows, nor driverless ones already held for the
 * target. */
static void plan_assign(Manager *m, Member *members, size_t n, const char *target) {
        for (size_t i = 0; i < n; i++) {
                Member *mb = &members[i];

                if (mb->driver[0])
                        mb->act = policy_driver_verdict(m->policy, mb->driver, NULL) != DRIVER_ALLOWED;
                else
                        mb->act = !(mb->has_override && streq_ptr(mb->override, target));
        }
}

static void describe_plan(const Member *mb, const char *target, bool audit, AssignReport *rep) {
        const char *would = audit ? "would " : "";

        if (!mb->act) {
                if (mb->driver[0])
                        report_line(rep, "%s: stays on %s (allowed by the policy)", mb->address, mb->driver);
                else
                        report_line(rep, "%s: already held for %s", mb->address, target);
        } else if (mb->driver[0])
                report_line(rep, "%s: %sset driver_override=%s, unbind %s%s", mb->address, would, target, mb->driver,
                            mb->is_bridge ? "" : ", probe");
        else
                report_line(rep, "%s: %sset driver_override=%s%s", mb->address, would, target,
                            mb->is_bridge ? "" : ", probe");
}

/* The decision that moves one member to the target: override, unbind, probe. */
static void plan_move(Decision *d, const Member *mb, unsigned group, const char *target, const char *rule_name) {
        decision_init(d, DECISION_RESERVE, mb, group, target, rule_name);
        decision_add_step(d, STEP_SET_OVERRIDE, target);
        if (mb->driver[0])
                decision_add_step(d, STEP_UNBIND, mb->driver);
        if (!mb->is_bridge) /* vfio-pci refuses bridges; the override alone keeps host drivers away */
                decision_add_step(d, STEP_PROBE, NULL);
}

/* A group moves in rounds: every override first, so that no host driver can take a member that a later round
 * frees; then every unbind at once; then every probe at once. */
enum { ROUND_OVERRIDE, ROUND_UNBIND, ROUND_PROBE, _ROUND_MAX };

static unsigned step_round(StepKind kind) {
        switch (kind) {
        case STEP_SET_OVERRIDE:
        case STEP_CLEAR_OVERRIDE:
                return ROUND_OVERRIDE;
        case STEP_UNBIND:
                return ROUND_UNBIND;
        default:
                return ROUND_PROBE;
        }
}

/* Runs decisions[i] for each acting member, round by round. The overrides go one at a time and stop at the first
 * failure: they are cheap, and what is not written needs no undoing. The unbinds and the probes of a round run at
 * once: the kernel's work on different devices (a driver's remove(), a probe) mostly waits, and the waits overlap.
 * Every failure of a round is reported; no round starts after one failed. Returns 0 or the first failure's errno. */
static int run_rounds(Manager *m, Member *members, const Decision *decisions, size_t n, AssignReport *rep) {
        _cleanup_free_ const Decision **batch = calloc(n, sizeof(Decision *));
        _cleanup_free_ const Step **steps = calloc(n, sizeof(Step *));
        _cleanup_free_ size_t *who = calloc(n, sizeof(size_t));
        _cleanup_free_ int *results = calloc(n, sizeof(int));
        int r;

        if (n > 0 && (!batch || !steps || !who || !results))
                return -ENOMEM;

        for (unsigned round = 0; round < _ROUND_MAX; round++) {
                size_t k = 0;
                int first = 0;

                for (size_t i = 0; i < n; i++) {
                        if (!members[i].act)
                                continue;
                        for (size_t s = 0; s < decisions[i].n_steps; s++)
                                if (step_round(decisions[i].steps[s].kind) == round) {
                                        batch[k] = &decisions[i];
                                        steps[k] = &decisions[i].steps[s];
                                        who[k++] = i;
                                        break;
                                }
                }

                if (round == ROUND_OVERRIDE)
                        for (size_t j = 0; j < k; j++) {
                                members[who[j]].touched = true;
                                results[j] = manager_run_step(m, batch[j], steps[j], POLICY_MODE_ENFORCE);
                                if (results[j] < 0) {
                                        k = j + 1;
                                        break;
                                }
                        }
                else if (k > 0) {
                        r = manager_run_steps_parallel(m, batch, steps, k, POLICY_MODE_ENFORCE, results);
                        if (r < 0)
                                return r;
                }

                for (size_t j = 0; j < k; j++) {
                        if (results[j] >= 0)
                                continue;
                        report_failure(rep, members[who[j]].address, "%s: %s failed: %s", members[who[j]].address,
                                       step_kind_to_string(steps[j]->kind), strerror(-results[j]));
                        if (first == 0)
                                first = results[j];
                }
                if (first < 0)
                        return first;
        }
        return 0;
}

/* After the rounds: re-read the member (the kernel is the truth) and check it ended where it should. */
static int verify_moved(Manager *m, const Member *mb, const char *target, AssignReport *rep) {
        const Device *dev;

        (void) manager_reread_device(m, mb->address);
        dev = model_find_device(m->model, mb->address);
        if (!dev) {
                report_failure(rep, mb->address, "%s: the device disappeared while it was being moved", mb->address);
                return -ENODEV;
        }
        if (streq_ptr(dev->driver, target))
                report_line(rep, "%s: bound to %s%s%s%s", mb->address, target, mb->driver[0] ? " (was " : "",
                            mb->driver[0] ? mb->driver : "", mb->driver[0] ? ")" : "");
        else if (!dev->driver && streq_ptr(dev->driver_override, target))
                /* What vfio's viability needs: no host driver, and none can bind. The target takes it when loaded. */
                report_line(rep, "%s: detached%s%s, driver_override=%s, no driver bound yet (pending)", mb->address,
                            mb->driver[0] ? " from " : "", mb->driver, target);
        else {
                report_failure(rep, mb->address, "%s: %s %s after the move (expected %s)", mb->address,
                               dev->driver ? "still bound to" : "driver_override is",
                               dev->driver ?: strna(dev->driver_override), target);
                return -EBUSY;
        }
        return 0;
}

/* Undo a move as far as the kernel lets us: clear the override, unbind what took the device, probe so its host
 * driver returns. Best effort: failures are audited and reported, the caller reports the original failure. */
static void rollback_member(Manager *m, unsigned group, const Member *mb, const char *rule_name, AssignReport *rep) {
        Decision d;
        const Device *dev;
        bool unbound = false;

        (void) manager_reread_device(m, mb->address);
        dev = model_find_device(m->model, mb->address);
        if (!dev)
                return;

        decision_init(&d, DECISION_UNPIN, mb, group, mb->has_override ? mb->override : NULL, rule_name);
        snprintf(d.driver, sizeof(d.driver), "%s", dev->driver ?: "");
        if (!streq_ptr(dev->driver_override, mb->has_override ? mb->override : NULL))
                decision_add_step(&d, mb->has_override ? STEP_SET_OVERRIDE : STEP_CLEAR_OVERRIDE,
                                  mb->has_override ? mb->override : NULL);
        if (dev->driver && !streq_ptr(dev->driver, mb->driver)) {
                decision_add_step(&d, STEP_UNBIND, dev->driver);
                unbound = true;
        }
        if (mb->driver[0] && (unbound || !dev->driver))
                decision_add_step(&d, STEP_PROBE, NULL);
        if (d.n_steps == 0)
                return;

        audit_decision(&d, POLICY_MODE_ENFORCE);
        for (size_t s = 0; s < d.n_steps; s++)
                if (manager_run_step(m, &d, &d.steps[s], POLICY_MODE_ENFORCE) < 0)
                        break;

        (void) manager_reread_device(m, mb->address);
        dev = model_find_device(m->model, mb->address);
        report_line(rep, "%s: rolled back, driver now %s", mb->address, dev && dev->driver ? dev->driver : "(none)");
}

static int runtime_group_add(Manager *m, unsigned group, const char *driver) {
        RuntimeGroup *rg = (RuntimeGroup *) runtime_group_find(m, group);

        if (!rg) {
                RuntimeGroup *l = realloc(m->runtime_groups, (m->n_runtime_groups + 1) * sizeof(RuntimeGroup));
                if (!l)
                        return -ENOMEM;
                m->runtime_groups = l;
                rg = &l[m->n_runtime_groups++];
                *rg = (RuntimeGroup) { .number = group };
        }
        snprintf(rg->driver, sizeof(rg->driver), "%s", driver);
        return 0;
}

static void reservation_done(Reservation *r) {
        free(r->name);
        free(r->driver);
        free(r->match.address_glob);
}

static void runtime_group_remove(Manager *m, unsigned group) {
        _cleanup_free_ char *name = NULL;
        Policy *p = m->policy;

        for (size_t i = 0; i < m->n_runtime_groups; i++)
                if (m->runtime_groups[i].number == group) {
                        memmove(&m->runtime_groups[i], &m->runtime_groups[i + 1],
                                (m->n_runtime_groups - i - 1) * sizeof(RuntimeGroup));
                        m->n_runtime_groups--;
                        break;
                }

        if (asprintf(&name, "runtime-group-%u", group) < 0)
                return;
        for (size_t i = 0; i < p->n_reservations; i++)
                if (mark_is_runtime(&p->reservations[i].mark) && streq_ptr(p->reservations[i].name, name)) {
                        reservation_done(&p->reservations[i]);
                        memmove(&p->reservations[i], &p->reservations[i + 1],
                                (p->n_reservations - i - 1) * sizeof(Reservation));
                        p->n_reservations--;
                        (void) policy_index_rebuild(p); /* without memory: matched linearly, still right */
                        break;
                }
}

int manager_apply_runtime(Manager *m) {
        Policy *p = m->policy;

        if (m->has_mode_override) {
                p->mode = m->mode_override;
                p->mode_mark = (SourceMark) { .file = RUNTIME_SOURCE_FILE };
        }

        for (size_t i = 0; i < m->n_runtime_groups; i++) {
                const RuntimeGroup *rg = &m->runtime_groups[i];
                _cleanup_free_ char *name = NULL, *driver = NULL;
                bool present = false;

                if (asprintf(&name, "runtime-group-%u", rg->number) < 0)
                        return -ENOMEM;
                for (size_t j = 0; j < p->n_reservations && !present; j++)
                        present = mark_is_runtime(&p->reservations[j].mark) &&
                                  streq_ptr(p->reservations[j].name, name);
                if (present)
                        continue;

                driver = strdup(rg->driver);
                if (!driver)
                        return -ENOMEM;
                Reservation *l = realloc(p->reservations, (p->n_reservations + 1) * sizeof(Reservation));
                if (!l)
                        return -ENOMEM;
                p->reservations = l;
                p->reservations[p->n_reservations++] = (Reservation) {
                        .name = TAKE_PTR(name),
                        .mark = { .file = RUNTIME_SOURCE_FILE },
                        .match = {
                                .vendor = -1,
                                .device = -1,
                                .subsystem_vendor = -1,
                                .subsystem_device = -1,
                                .iommu_group = rg->number,
                        },
                        .driver = TAKE_PTR(driver),
                        .whole_group = true,
                };
                (void) policy_index_rebuild(p);
        }
        return 0;
}

int manager_set_mode_override(Manager *m, PolicyMode mode) {
        int r;

        m->has_mode_override = true;
        m->mode_override = mode;
        r = manager_apply_runtime(m);
        if (r < 0)
                return r;
        log_msg(LOG_NOTICE, "mode set to %s at run time", policy_mode_to_string(mode));
        return manager_reconcile_all(m, EVENT_RELOAD);
}

int manager_persist_path(const Manager *m, unsigned group, char **ret) {
        const char *dir = m->config.policy_paths.admin_dir;
        char *p;

        if (!dir)
                return -EOPNOTSUPP;
        if (asprintf(&p, "%s/50-dma-ownerctl-group-%u.yaml", dir, group) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int write_all(int fd, const char *s) {
        size_t n = strlen(s);

        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Temp file, fsync, rename, fsync the directory: a crash leaves the old file or the new one, never half of one. */
static int persist_write(Manager *m, unsigned group, const char *driver) {
        const char *dir = m->config.policy_paths.admin_dir;
        _cleanup_free_ char *name = NULL, *tmp = NULL, *content = NULL;
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        int r;

        if (!dir)
                return -EOPNOTSUPP;
        /* The YAML below quotes the name; a driver name needing escapes is not one the kernel uses. */
        if (!driver_name_is_valid(driver) || strpbrk(driver, "\"\\"))
                return -EINVAL;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;

        if (asprintf(&name, "50-dma-ownerctl-group-%u.yaml", group) < 0 ||
            asprintf(&tmp, ".#%s.%d", name, (int) getpid()) < 0 ||
            asprintf(&content,
                     "# Written by dma-ownerd for \"dma-ownerctl assign --persist %u\" (org.dmaownerd1.Manager.AssignGroup).\n"
                     "# \"dma-ownerctl release --persist %u\" removes it.\n"
                     "reservations:\n"
                     "  - name: dma-ownerctl-group-%u\n"
                     "    match:\n"
                     "      iommu-group: %u\n"
                     "    driver: \"%s\"\n"
                     "    whole-group: true\n",
                     group, group, group, group, driver) < 0)
                return -ENOMEM;

        (void) unlinkat(dfd, tmp, 0);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, content);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        (void) fsync(dfd);
        log_msg(LOG_NOTICE, "group %u: reservation persisted in %s/%s", group, dir, name);
        return 0;
}

static int persist_remove(Manager *m, unsigned group) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = manager_persist_path(m, group, &path);
        if (r < 0)
                return r;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        log_msg(LOG_NOTICE, "group %u: persisted reservation %s removed", group, path);
        return 1;
}

/* Reload after the admin directory changed; the runtime state is merged again even when no bus hook does it. */
static int reload_persisted(Manager *m, AssignReport *rep) {
        int r = manager_reload(m);
        if (r < 0) {
                report_failure(rep, NULL, "the policy did not load after the change (see the audit log); the "
                                          "previous policy stays in force");
                return -EINVAL;
        }
        r = manager_apply_runtime(m);
        return r < 0 ? r : 0;
}

/* ---- runtime state: <runtime_dir>/state ----
 *
 * Groups assigned without persist survive a restart of the daemon but not a reboot: the file lives under /run. It
 * doubles as the journal of an assignment in flight: before the first sysfs write of an AssignGroup the file gains
 * an "assigning" record with every member's state as it was, and loses it once the assignment succeeded or was
 * rolled back. A daemon killed in between finds the record at start and rolls those members back, so a restart
 * never leaves a group half-moved and unreported. Rewritten whole, atomically, on every change:
 *
 *   group N DRIVER                         a group assigned at run time
 *   assigning N DRIVER                     at most one: an AssignGroup that did not finish
 *   member ADDRESS DRIVER|- OVERRIDE|-     its members before it started ("-": none), only those it moves
 *
 * The file is root's, in a 0700 directory; it is still parsed strictly (anything malformed is skipped, loudly). */

#define RUNTIME_STATE_FILE "state"
#define RUNTIME_STATE_SIZE_MAX (1024 * 1024)
#define RUNTIME_STATE_LINE_MAX 256

typedef struct InFlight {
        unsigned group;
        const char *driver;
        const Member *members;
        size_t n_members;
} InFlight;

static int runtime_state_format(const Manager *m, const InFlight *f, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *out;

        out = open_memstream(&buf, &size);
        if (!out)
                return -ENOMEM;
        fputs("# dma-ownerd runtime state: groups assigned until the next reboot. Rewritten by the daemon.\n", out);
        for (size_t i = 0; i < m->n_runtime_groups; i++)
                fprintf(out, "group %u %s\n", m->runtime_groups[i].number, m->runtime_groups[i].driver);
        if (f) {
                fprintf(out, "assigning %u %s\n", f->group, f->driver);
                for (size_t i = 0; i < f->n_members; i++) {
                        const Member *mb = &f->members[i];
                        if (!mb->act)
                                continue;
                        fprintf(out, "member %s %s %s\n", mb->address, mb->driver[0] ? mb->driver : "-",
                                mb->has_override && mb->override[0] ? mb->override : "-");
                }
        }
        if (fclose(out) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Temp file, fsync, rename, fsync the directory: a crash leaves the old state or the new one. */
static int runtime_state_write(Manager *m, const InFlight *f) {
        const char *dir = m->config.runtime_dir;
        _cleanup_free_ char *content = NULL, *tmp = NULL;
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        int r;

        if (!dir)
                return 0;

        r = runtime_state_format(m, f, &content);
        if (r < 0)
                return r;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (asprintf(&tmp, ".#" RUNTIME_STATE_FILE ".%d", (int) getpid()) < 0)
                return -ENOMEM;

        (void) unlinkat(dfd, tmp, 0);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, content);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dfd, tmp, dfd, RUNTIME_STATE_FILE) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        (void) fsync(dfd);
        return 0;
}

static void runtime_state_save(Manager *m, AssignReport *rep) {
        int r = runtime_state_write(m, NULL);
        if (r < 0) {
                log_msg(LOG_ERR, "cannot write the runtime state to %s/%s: %s", m->config.runtime_dir,
                        RUNTIME_STATE_FILE, strerror(-r));
                report_line(rep, "warning: the runtime state could not be saved (%s); a restart of the daemon "
                                 "would not restore it", strerror(-r));
        }
}

/* "-" for none; otherwise a valid driver name. */
static int parse_optional_driver(const char *s, char ret[DRIVER_NAME_MAX + 1]) {
        if (streq_ptr(s, "-")) {
                ret[0] = '\0';
                return 0;
        }
        if (!driver_name_is_valid(s))
                return -EINVAL;
        snprintf(ret, DRIVER_NAME_MAX + 1, "%s", s);
        return 0;
}

/* Splits one line into at most 4 blank-separated words, in place. */
static size_t split_words(char *line, char *words[4]) {
        size_t n = 0;
        char *save = NULL;

        for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (n == 4)
                        return 5; /* too many */
                words[n++] = w;
        }
        return n;
}

int manager_load_runtime(Manager *m) {
        _cleanup_free_ char *path = NULL, *content = NULL, *rule_name = NULL;
        _cleanup_free_ Member *members = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(assign_report_done) AssignReport rep = {};
        bool in_flight = false;
        unsigned in_flight_group = 0;
        size_t n_members = 0, n_bad = 0, size = 0;
        struct stat st;
        int r;

        if (!m->config.runtime_dir)
                return 0;
        if (asprintf(&path, "%s/" RUNTIME_STATE_FILE, m->config.runtime_dir) < 0)
                return -ENOMEM;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0; /* first start since boot */
                log_msg(LOG_ERR, "cannot open the runtime state %s: %m", path);
                return -errno;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > RUNTIME_STATE_SIZE_MAX) {
                log_msg(LOG_ERR, "ignoring the runtime state %s: not a regular file of at most %d bytes", path,
                        RUNTIME_STATE_SIZE_MAX);
                return -EINVAL;
        }
        content = malloc((size_t) st.st_size + 1);
        if (!content)
                return -ENOMEM;
        while (size < (size_t) st.st_size) {
                ssize_t k = read(fd, content + size, (size_t) st.st_size - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        content[size] = '\0';
        if (strlen(content) != size)
                log_msg(LOG_WARNING, "%s: holds a NUL byte; what follows it is ignored", path);

        members = calloc(1, sizeof(Member));
        if (!members)
                return -ENOMEM;

        char *save = NULL;
        unsigned line_no = 0;
        for (char *line = strtok_r(content, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *w[4] = {};
                unsigned group;
                size_t n;

                line_no++;
                if (line[0] == '#')
                        continue;
                if (strlen(line) > RUNTIME_STATE_LINE_MAX) {
                        n_bad++;
                        continue;
                }
                n = split_words(line, w);
                if (n == 3 && (streq_ptr(w[0], "group") || streq_ptr(w[0], "assigning")) &&
                    bus_args_parse_group_number(w[1], &group) >= 0 && driver_name_is_valid(w[2])) {
                        if (streq_ptr(w[0], "group")) {
                                r = runtime_group_add(m, group, w[2]);
                                if (r < 0)
                                        return r;
                        } else if (!in_flight) {
                                in_flight = true;
                                in_flight_group = group;
                        } else
                                n_bad++;
                        continue;
                }
                if (n == 4 && streq_ptr(w[0], "member") && in_flight && pci_address_is_valid(w[1])) {
                        Member mb = { .act = true, .touched = true };

                        memcpy(mb.address, w[1], PCI_ADDRESS_STRLEN);
                        if (parse_optional_driver(w[2], mb.driver) >= 0 &&
                            parse_optional_driver(w[3], mb.override) >= 0) {
                                Member *l;

                                mb.has_override = mb.override[0] != '\0';
                                /* At most one record per member; a group has far fewer than this. */
                                if (n_members >= 4096) {
                                        n_bad++;
                                        continue;
                                }
                                l = reallocarray(members, n_members + 1, sizeof(Member));
                                if (!l)
                                        return -ENOMEM;
                                members = l;
                                members[n_members++] = mb;
                                continue;
                        }
                }
                log_msg(LOG_WARNING, "%s:%u: malformed runtime state line, ignored", path, line_no);
                n_bad++;
        }

        if (m->n_runtime_groups > 0)
                log_msg(LOG_NOTICE, "restored %zu group(s) assigned at run time from %s", m->n_runtime_groups, path);

        if (in_flight) {
                log_msg(LOG_WARNING, "group %u: an assignment was interrupted (the daemon died during it); rolling "
                                     "back its %zu member(s)", in_flight_group, n_members);
                if (asprintf(&rule_name, "runtime-group-%u", in_flight_group) < 0)
                        return -ENOMEM;
                for (size_t i = n_members; i > 0; i--) {
                        const Member *mb = &members[i - 1];
                        if (!model_find_device(m->model, mb->address)) {
                                report_line(&rep, "%s: gone, nothing to roll back", mb->address);
                                continue;
                        }
                        rollback_member(m, in_flight_group, mb, rule_name, &rep);
                }
                for (size_t i = 0; i < rep.n_lines; i++)
                        log_msg(LOG_WARNING, "group %u: recovery: %s", in_flight_group, rep.lines[i]);
                if (rep.n_lines == 0)
                        log_msg(LOG_NOTICE, "group %u: recovery: nothing had been written yet", in_flight_group);
        }

        r = manager_apply_runtime(m);
        if (r < 0)
                return r;

        /* Drop the finished journal (and any malformed line) for good. */
        if (in_flight || n_bad > 0) {
                r = runtime_state_write(m, NULL);
                if (r < 0)
                        log_msg(LOG_ERR, "cannot rewrite the runtime state %s: %s", path, strerror(-r));
        }
        return 0;
}

int manager_check_assign(Manager *m, unsigned group, bool *ret_viable, char ***ret_reasons) {
        _cleanup_free_ Member *members = NULL;
        _cleanup_(assign_report_done) AssignReport rep = {};
        const char *target = group_target_driver(m, group);
        bool viable = true;
        size_t n;
        int r;

        r = snapshot_group(m, group, &members, &n);
        if (r < 0)
                return r;
        plan_assign(m, members, n, target);
        manager_refresh_net(m, group);

        for (size_t i = 0; i < n; i++) {
                char iface[IFNAME_MAX] = "";

                describe_plan(&members[i], target, /* audit= */ true, &rep);
                if (members[i].act && members[i].driver[0] && m->policy->network_protection &&
                    interface_in_use(m, members[i].address, iface)) {
                        viable = false;
                        report_line(&rep, "%s: interface %s is in use (up with an address, or a default route); "
                                          "assigning needs force",
                                    members[i].address, iface);
                }
        }

        if (!rep.lines) {
                char **empty = calloc(1, sizeof(char *));
                if (!empty)
                        return -ENOMEM;
                rep.lines = empty;
        }
        *ret_viable = viable;
        *ret_reasons = TAKE_PTR(rep.lines);
        return 0;
}

static int assign_group(Manager *m, unsigned group, uint64_t flags, AssignReport *rep) {
        _cleanup_free_ Member *members = NULL;
        _cleanup_free_ Decision *decisions = NULL;
        _cleanup_free_ char *rule_name = NULL, *target = NULL;
        bool audit = manager_effective_mode(m) == POLICY_MODE_AUDIT;
        uint64_t start = now_usec();
        size_t n, moved = 0;
        int r;

        if (flags & ~(uint64_t) ASSIGN_FLAGS_ALL)
                return -EINVAL;
        r = snapshot_group(m, group, &members, &n);
        if (r < 0)
                return r;
        /* Copied: a reload (persist) frees the policy the name may point into. */
        target = strdup(group_target_driver(m, group));
        if (!target || asprintf(&rule_name, "runtime-group-%u", group) < 0)
                return -ENOMEM;
        plan_assign(m, members, n, target);

        if (m->policy->network_protection && !(flags & ASSIGN_FORCE)) {
                manager_refresh_net(m, group);
                for (size_t i = 0; i < n; i++) {
                        char iface[IFNAME_MAX] = "";

                        if (!members[i].act || !members[i].driver[0] ||
                            !interface_in_use(m, members[i].address, iface))
                                continue;
                        if (rep)
                                snprintf(rep->interface, sizeof(rep->interface), "%s", iface);
                        report_failure(rep, members[i].address,
                                       "%s: interface %s is in use (up with an address, or a default route); "
                                       "force overrides",
                                       members[i].address, iface);
                        return -EADDRINUSE;
                }
        }

        for (size_t i = 0; i < n; i++)
                describe_plan(&members[i], target, audit, rep);
        if (audit) {
                log_msg(LOG_NOTICE, "group %u: assignment to %s requested in audit mode, nothing written", group,
                        target);
                return 0;
        }

        /* The journal first: a daemon killed from here on rolls these members back when it starts again. Without
         * it a crash could leave the group half-moved with nobody knowing, so no journal, no writes. */
        r = runtime_state_write(m, &(InFlight) { .group = group, .driver = target, .members = members,
                                                  .n_members = n });
        if (r < 0) {
                report_failure(rep, NULL, "group %u: cannot record the assignment in %s/%s before starting it: %s",
                               group, m->config.runtime_dir, RUNTIME_STATE_FILE, strerror(-r));
                return r;
        }

        decisions = calloc(n, sizeof(Decision));
        if (n > 0 && !decisions)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (members[i].act) {
                        plan_move(&decisions[i], &members[i], group, target, rule_name);
                        audit_decision(&decisions[i], POLICY_MODE_ENFORCE);
                        moved++;
                }

        r = run_rounds(m, members, decisions, n, rep);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (members[i].act)
                        r = verify_moved(m, &members[i], target, rep);
        if (r < 0) {
                log_msg(LOG_ERR, "group %u: assignment failed (%s), rolling back", group, strerror(-r));
                for (size_t j = n; j > 0; j--)
                        if (members[j - 1].touched)
                                rollback_member(m, group, &members[j - 1], rule_name, rep);
                runtime_state_save(m, rep);
                return r;
        }

        r = runtime_group_add(m, group, target);
        if (r < 0)
                return r;
        runtime_state_save(m, rep);
        r = manager_apply_runtime(m);
        if (r < 0)
                return r;
        log_msg(LOG_NOTICE, "group %u assigned to %s: %zu device(s) moved in %" PRIu64 " usec", group, target, moved,
                now_usec() - start);

        if (flags & ASSIGN_PERSIST) {
                r = persist_write(m, group, target);
                if (r < 0) {
                        report_failure(rep, NULL, "group %u is assigned until the next restart, but persisting it "
                                                  "failed: %s", group, strerror(-r));
                        return r;
                }
                r = reload_persisted(m, rep);
                if (r < 0)
                        return r;
                report_line(rep, "reservation persisted");
        }
        return 0;
}

static int release_group(Manager *m, unsigned group, uint64_t flags, AssignReport *rep) {
        _cleanup_free_ Member *members = NULL;
        _cleanup_free_ Decision *decisions = NULL;
        _cleanup_free_ char *rule_name = NULL, *persisted = NULL;
        bool audit = manager_effective_mode(m) == POLICY_MODE_AUDIT;
        const Group *g;
        size_t n;
        int r;

        if (flags & ~(uint64_t) ASSIGN_FLAGS_ALL)
                return -EINVAL;
        g = model_find_group(m->model, group);
        if (!g)
                return -ENOENT;
        if (asprintf(&rule_name, "runtime-group-%u", group) < 0 ||
            asprintf(&persisted, "50-dma-ownerctl-group-%u.yaml", group) < 0)
                return -ENOMEM;

        if (g->owner == DMA_OWNER_USER) {
                if (g->n_holders > 0)
                        report_failure(rep, NULL, "group %u is in use by user space (pid %d, %s)", group,
                                       (int) g->holders[0].pid, strna(g->holders[0].comm));
                else
                        report_failure(rep, NULL, "group %u is in use by user space", group);
                return -EBUSY;
        }

        /* A reservation of the admin would take the group straight back: say which one instead. */
        for (size_t i = 0; i < m->policy->n_reservations; i++) {
                const Reservation *res = &m->policy->reservations[i];
                const char *base;

                if (mark_is_runtime(&res->mark))
                        continue;
                base = res->mark.file ? strrchr(res->mark.file, '/') : NULL;
                base = base ? base + 1 : res->mark.file;
                if ((flags & ASSIGN_PERSIST) && streq_ptr(base, persisted))
                        continue;
                for (size_t j = 0; j < g->n_members; j++)
                        if (device_match(&res->match, &model_group_member(m->model, g, j)->id)) {
                                report_failure(rep, NULL, "group %u is reserved by the policy: rule %s (%s:%u)%s",
                                               group, strna(res->name), strna(res->mark.file), res->mark.line,
                                               streq_ptr(base, persisted) ? "; release with persist removes it" : "");
                                return -EPERM;
                        }
        }

        r = snapshot_group(m, group, &members, &n);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                Member *mb = &members[i];
                bool on_vfio = mb->driver[0] && (driver_is_vfio(mb->driver) || streq_ptr(mb->driver, "pci-stub"));

                mb->act = on_vfio || mb->has_override;
                if (!mb->act)
                        report_line(rep, "%s: stays on %s", mb->address, mb->driver[0] ? mb->driver : "(none)");
                else
                        report_line(rep, "%s: %s%s%s%s%s, probe", mb->address, audit ? "would " : "",
                                    mb->has_override ? "clear driver_override" : "",
                                    mb->has_override && on_vfio ? ", " : "", on_vfio ? "unbind from " : "",
                                    on_vfio ? mb->driver : "");
        }
        if (audit) {
                log_msg(LOG_NOTICE, "group %u: release requested in audit mode, nothing written", group);
                return 0;
        }

        decisions = calloc(n, sizeof(Decision));
        if (n > 0 && !decisions)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                Member *mb = &members[i];
                bool on_vfio = mb->driver[0] && (driver_is_vfio(mb->driver) || streq_ptr(mb->driver, "pci-stub"));
                Decision *d = &decisions[i];

                if (!mb->act)
                        continue;
                decision_init(d, DECISION_UNPIN, mb, group, NULL, rule_name);
                if (mb->has_override)
                        decision_add_step(d, STEP_CLEAR_OVERRIDE, NULL);
                if (on_vfio)
                        decision_add_step(d, STEP_UNBIND, mb->driver);
                if (on_vfio || !mb->driver[0])
                        decision_add_step(d, STEP_PROBE, NULL);
                audit_decision(d, POLICY_MODE_ENFORCE);
        }

        /* The same rounds as an assign. A failed release is not undone: the group's runtime reservation stays, and
         * the engine takes back any member that a host driver bound in the meantime. */
        r = run_rounds(m, members, decisions, n, rep);
        for (size_t i = 0; i < n; i++) {
                Member *mb = &members[i];

                if (!mb->touched)
                        continue;
                (void) manager_reread_device(m, mb->address);
                const Device *dev = model_find_device(m->model, mb->address);
                if (r >= 0 && dev && dev->driver && streq_ptr(dev->driver, mb->driver) &&
                    (driver_is_vfio(mb->driver) || streq_ptr(mb->driver, "pci-stub"))) {
                        report_failure(rep, mb->address, "%s: still bound to %s after unbind", mb->address,
                                       dev->driver);
                        r = -EBUSY;
                }
        }
        if (r < 0)
                return r;

        runtime_group_remove(m, group);
        runtime_state_save(m, rep);
        log_msg(LOG_NOTICE, "group %u released to the host", group);

        if (flags & ASSIGN_PERSIST) {
                r = persist_remove(m, group);
                if (r < 0) {
                        report_failure(rep, NULL, "group %u is released, but removing %s failed: %s", group,
                                       persisted, strerror(-r));
                        return r;
                }
                if (r > 0) {
                        r = reload_persisted(m, rep);
                        if (r < 0)
                                return r;
                        report_line(rep, "persisted reservation removed");
                }
        }
        return 0;
}

/* The bus hears about the members once the whole group has moved: see manager_hold_notifications(). */
static int with_notifications_held(Manager *m, int (*move)(Manager *, unsigned, uint64_t, AssignReport *),
                                   unsigned group, uint64_t flags, AssignReport *rep) {
        int r;

        manager_hold_notifications(m);
        r = move(m, group, flags, rep);
        manager_release_notifications(m);
        return r;
}

int manager_assign_group(Manager *m, unsigned group, uint64_t flags, AssignReport *rep) {
        return with_notifications_held(m, assign_group, group, flags, rep);
}

int manager_release_group(Manager *m, unsigned group, uint64_t flags, AssignReport *rep) {
        return with_notifications_held(m, release_group, group, flags, rep);
}
