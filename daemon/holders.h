/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who holds /dev/vfio handles: a scan of <proc_root>/[0-9]+/fd. A group file (/dev/vfio/N) names its group directly;
 * a device cdev (/dev/vfio/devices/vfioN, the iommufd path of 6.6+) is mapped to its device by the model. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct HolderRecord {
        pid_t pid;
        char *comm;     /* from <proc_root>/PID/comm, validated printable */
        char *unit;     /* sd_pid_get_unit() when proc_root is /proc, else NULL */
        char *dev_path; /* the fd's link target */
        int64_t group;  /* N for /dev/vfio/N, -1 for a device cdev */
        char *cdev;     /* "vfioN" for /dev/vfio/devices/vfioN, else NULL */
} HolderRecord;

/* One record per (pid, file) pair; a process holding the same file twice counts once. Processes that exit during
 * the scan are skipped silently. */
int holders_scan(const char *proc_root, HolderRecord **ret, size_t *ret_n);

void holder_records_free(HolderRecord *r, size_t n);
