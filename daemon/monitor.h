/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* uevents for subsystem pci, from a libudev monitor attached to the sd-event loop. The `udev` source is used when
 * udevd runs (its control socket exists), the `kernel` source when it does not (an initramfs, a busybox guest).
 * While held (during the initial scan) events are queued and delivered in order on release. When the socket
 * overflows (ENOBUFS) the overflow callback runs: the caller rescans, so the model ends equal to a fresh scan. */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "engine.h"

typedef enum MonitorSource {
        MONITOR_SOURCE_AUTO,
        MONITOR_SOURCE_UDEV,
        MONITOR_SOURCE_KERNEL,
} MonitorSource;

typedef struct Monitor Monitor;

typedef void (*MonitorEventFn)(const Event *event, void *userdata);
typedef void (*MonitorOverflowFn)(void *userdata);

/* `udev_control` is the path whose existence means udevd runs ("/run/udev/control"); NULL for that default. */
int monitor_new(sd_event *loop, MonitorSource source, const char *udev_control, MonitorEventFn on_event,
                MonitorOverflowFn on_overflow, void *userdata, Monitor **ret);
Monitor *monitor_free(Monitor *m);

MonitorSource monitor_get_source(const Monitor *m); /* the resolved source, never AUTO */
int monitor_set_receive_buffer_size(Monitor *m, int bytes);
void monitor_hold(Monitor *m);
void monitor_release(Monitor *m); /* delivers the queued events */

/* Translate one uevent into an Event. Pure, for tests and the fuzzer. Returns 0, or -EINVAL for a uevent that is
 * malformed (address or driver fails validation), -EOPNOTSUPP for one that is ignored (another action). */
int event_from_uevent(const char *action, const char *sysname, const char *driver, Event *ret);

const char *monitor_source_to_string(MonitorSource s);
int monitor_source_from_string(const char *s, MonitorSource *ret);
