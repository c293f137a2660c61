/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <libudev.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dma-ownerd/macro.h"
#include "dma-ownerd/pci-address.h"
#include "monitor.h"

#define UDEV_CONTROL_DEFAULT "/run/udev/control"

/* Events queued while held. A burst longer than this is treated as an overflow: dropping it and rescanning costs
 * less than holding an unbounded amount of memory for events the rescan makes redundant anyway. */
#define MONITOR_QUEUE_MAX (64U * 1024U)

/* Upper bound of messages read per wake-up, so a storm cannot starve the rest of the event loop; the fd stays
 * readable and the loop comes back. */
#define MONITOR_BATCH_MAX 256U

/* Upper bound of messages discarded after an overflow before the rescan is requested. */
#define MONITOR_DRAIN_MAX (64U * 1024U)

struct Monitor {
        struct udev *udev;
        struct udev_monitor *udev_monitor;
        sd_event_source *io;
        MonitorSource source;

        MonitorEventFn on_event;
        MonitorOverflowFn on_overflow;
        void *userdata;

        bool held;
        bool overflow_pending; /* an overflow happened while held: rescan on release */
        bool delivering;

        Event *queue;
        size_t queue_head; /* index of the next event to deliver */
        size_t queue_n;    /* one past the last queued event */
        size_t queue_allocated;
};

static const char *const monitor_source_table[] = {
        [MONITOR_SOURCE_AUTO] = "auto",
        [MONITOR_SOURCE_UDEV] = "udev",
        [MONITOR_SOURCE_KERNEL] = "kernel",
};

const char *monitor_source_to_string(MonitorSource s) {
        if ((unsigned) s >= ELEMENTSOF(monitor_source_table))
                return NULL;
        return monitor_source_table[s];
}

int monitor_source_from_string(const char *s, MonitorSource *ret) {
        if (!s || !ret)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(monitor_source_table); i++)
                if (strcmp(s, monitor_source_table[i]) == 0) {
                        *ret = (MonitorSource) i;
                        return 0;
                }

        return -EINVAL;
}

static const struct {
        const char *action;
        EventKind kind;
} action_table[] = {
        { "add",    EVENT_ADD    },
        { "remove", EVENT_REMOVE },
        { "bind",   EVENT_BIND   },
        { "unbind", EVENT_UNBIND },
        { "change", EVENT_CHANGE },
};

int event_from_uevent(const char *action, const char *sysname, const char *driver, Event *ret) {
        Event e = { .group = -1 };
        bool found = false;

        if (!ret)
                return -EINVAL;
        if (!action)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(action_table); i++)
                if (strcmp(action, action_table[i].action) == 0) {
                        e.kind = action_table[i].kind;
                        found = true;
                        break;
                }
        /* move, online, offline and whatever the kernel adds later carry nothing the policy acts on. */
        if (!found)
                return -EOPNOTSUPP;

        if (!pci_address_is_valid(sysname))
                return -EINVAL;

        /* An empty DRIVER= is the same as none. A present one must be sane even where it is not used: a uevent with
         * a mangled driver name is not one to act on. */
        if (driver && *driver && !driver_name_is_valid(driver))
                return -EINVAL;

        /* The kernel always names the driver of a bind. An unbind normally does too, but libudev falls back to the
         * driver link when the property is absent, and after an unbind that link is gone: accept it without one. */
        if (e.kind == EVENT_BIND && (!driver || !*driver))
                return -EINVAL;

        memcpy(e.address, sysname, PCI_ADDRESS_STRLEN);
        if ((e.kind == EVENT_BIND || e.kind == EVENT_UNBIND) && driver)
                strncpy(e.driver, driver, sizeof(e.driver) - 1);

        *ret = e;
        return 0;
}

MonitorSource monitor_get_source(const Monitor *m) {
        return m->source;
}

static void monitor_queue_clear(Monitor *m) {
        m->queue_head = m->queue_n = 0;
}

static int monitor_queue_push(Monitor *m, const Event *e) {
        if (m->queue_n - m->queue_head >= MONITOR_QUEUE_MAX)
                return -ENOBUFS;

        /* Reclaim the delivered prefix before growing. */
        if (m->queue_head > 0 && m->queue_n == m->queue_allocated) {
                memmove(m->queue, m->queue + m->queue_head, (m->queue_n - m->queue_head) * sizeof(Event));
                m->queue_n -= m->queue_head;
                m->queue_head = 0;
        }

        if (m->queue_n == m->queue_allocated) {
                size_t n = m->queue_allocated > 0 ? m->queue_allocated * 2 : 16;
                Event *q = reallocarray(m->queue, n, sizeof(Event));
                if (!q)
                        return -ENOMEM;
                m->queue = q;
                m->queue_allocated = n;
        }

        m->queue[m->queue_n++] = *e;
        return 0;
}

static void monitor_overflow(Monitor *m) {
        if (m->held) {
                /* Everything queued so far is covered by the rescan that release will ask for. */
                monitor_queue_clear(m);
                m->overflow_pending = true;
                return;
        }

        if (m->on_overflow)
                m->on_overflow(m->userdata);
}

static void monitor_dispatch(Monitor *m, const Event *e) {
        if (m->held || m->delivering || m->queue_n > m->queue_head) {
                /* Keep the order: anything that arrives while older events still wait goes behind them. */
                if (monitor_queue_push(m, e) < 0)
                        monitor_overflow(m);
                return;
        }

        if (m->on_event)
                m->on_event(e, m->userdata);
}

/* Throw away what the socket still holds: the rescan that follows an overflow reads the current state, and
 * every event older than it is redundant. */
static void monitor_drain(Monitor *m) {
        for (unsigned i = 0; i < MONITOR_DRAIN_MAX; i++) {
                struct udev_device *d;

                errno = 0;
                d = udev_monitor_receive_device(m->udev_monitor);
                if (d) {
                        udev_device_unref(d);
                        continue;
                }
                if (errno == EAGAIN || errno == 0)
                        return;
                /* Another ENOBUFS or a malformed message: keep draining. */
        }
}

static void monitor_handle_device(Monitor *m, struct udev_device *d) {
        Event e;

        if (event_from_uevent(udev_device_get_action(d), udev_device_get_sysname(d), udev_device_get_driver(d), &e) < 0)
                return; /* ignored or malformed: nothing to act on */

        monitor_dispatch(m, &e);
}

static int monitor_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;

        for (unsigned i = 0; i < MONITOR_BATCH_MAX; i++) {
                struct udev_device *d;

                errno = 0;
                d = udev_monitor_receive_device(m->udev_monitor);
                if (d) {
                        monitor_handle_device(m, d);
                        udev_device_unref(d);
                        continue;
                }

                if (errno == ENOBUFS) {
                        /* The kernel dropped uevents: the model can no longer be kept in step by events alone. */
                        monitor_drain(m);
                        monitor_overflow(m);
                        return 0;
                }

                /* EAGAIN: nothing left, or the last message was one libudev ignores (filtered out, not from the
                 * kernel or udevd). The io source is level-triggered, so a message still queued wakes us again. */
                if (errno == EAGAIN || errno == EINTR || errno == 0)
                        return 0;

                /* A malformed message (EINVAL, ENOMEM…) was consumed: go on with the next one. */
        }

        return 0;
}

int monitor_new(sd_event *loop, MonitorSource source, const char *udev_control, MonitorEventFn on_event,
                MonitorOverflowFn on_overflow, void *userdata, Monitor **ret) {
        _cleanup_free_ Monitor *m = NULL;
        const char *group;
        int fd, r;

        if (!loop || !ret)
                return -EINVAL;
        if ((unsigned) source > MONITOR_SOURCE_KERNEL)
                return -EINVAL;

        if (source == MONITOR_SOURCE_AUTO)
                source = access(udev_control ?: UDEV_CONTROL_DEFAULT, F_OK) >= 0 ? MONITOR_SOURCE_UDEV
                                                                                 : MONITOR_SOURCE_KERNEL;

        m = calloc(1, sizeof(Monitor));
        if (!m)
                return -ENOMEM;

        *m = (Monitor) {
                .source = source,
                .on_event = on_event,
                .on_overflow = on_overflow,
                .userdata = userdata,
        };

        m->udev = udev_new();
        if (!m->udev)
                return negative_errno();

        /* "udev" sees events after udevd processed them (so rules ran); "kernel" sees them as the kernel sent them.
         * Either way the daemon re-reads sysfs before deciding. */
        group = source == MONITOR_SOURCE_UDEV ? "udev" : "kernel";
        m->udev_monitor = udev_monitor_new_from_netlink(m->udev, group);
        if (!m->udev_monitor) {
                r = negative_errno();
                goto fail;
        }

        r = udev_monitor_filter_add_match_subsystem_devtype(m->udev_monitor, "pci", NULL);
        if (r < 0)
                goto fail;

        r = udev_monitor_enable_receiving(m->udev_monitor);
        if (r < 0)
                goto fail;

        fd = udev_monitor_get_fd(m->udev_monitor);
        if (fd < 0) {
                r = fd;
                goto fail;
        }

        r = sd_event_add_io(loop, &m->io, fd, EPOLLIN, monitor_on_io, m);
        if (r < 0)
                goto fail;

        (void) sd_event_source_set_description(m->io, "pci-uevents");

        *ret = TAKE_PTR(m);
        return 0;

fail:
        udev_monitor_unref(m->udev_monitor);
        udev_unref(m->udev);
        return r;
}

Monitor *monitor_free(Monitor *m) {
        if (!m)
                return NULL;

        sd_event_source_disable_unref(m->io);
        udev_monitor_unref(m->udev_monitor);
        udev_unref(m->udev);
        free(m->queue);
        free(m);
        return NULL;
}

int monitor_set_receive_buffer_size(Monitor *m, int bytes) {
        int r;

        if (!m || bytes <= 0)
                return -EINVAL;

        /* libudev returns 1 when it changed the size, 0 when it was large enough already. */
        r = udev_monitor_set_receive_buffer_size(m->udev_monitor, bytes);
        return r < 0 ? r : 0;
}

void monitor_hold(Monitor *m) {
        m->held = true;
}

void monitor_release(Monitor *m) {
        if (!m->held)
                return;

        m->held = false;

        if (m->overflow_pending) {
                m->overflow_pending = false;
                if (m->on_overflow)
                        m->on_overflow(m->userdata);
        }

        /* A callback may hold the monitor again (a rescan does): stop there, the rest waits for the next
         * release. Events arriving from inside a callback are appended behind the queue by monitor_dispatch(). */
        if (m->delivering)
                return;
        m->delivering = true;
        while (!m->held && m->queue_head < m->queue_n) {
                Event e = m->queue[m->queue_head++];

                if (m->on_event)
                        m->on_event(&e, m->userdata);
        }
        m->delivering = false;

        if (m->queue_head == m->queue_n)
                monitor_queue_clear(m);
}
