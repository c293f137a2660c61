/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "dma-ownerd/macro.h"
#include "holders.h"

#define VFIO_GROUP_PREFIX "/dev/vfio/"
#define VFIO_NOIOMMU_PREFIX "/dev/vfio/noiommu-"
#define VFIO_CDEV_PREFIX "/dev/vfio/devices/"

/* Link targets longer than this are not /dev/vfio files; comm is at most 16 bytes in the kernel. */
#define LINK_TARGET_MAX 128
#define COMM_READ_MAX 64

static const char *startswith_prefix(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* A decimal number without sign, leading zeros or trailing garbage, as the kernel names groups and cdevs. */
static bool parse_decimal(const char *s, int64_t max, int64_t *ret) {
        int64_t v = 0;

        if (!s || !*s || (s[0] == '0' && s[1] != '\0'))
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (*s - '0');
                if (v > max)
                        return false;
        }
        *ret = v;
        return true;
}

typedef enum VfioKind {
        VFIO_NOT_OURS,
        VFIO_GROUP,
        VFIO_CDEV,
} VfioKind;

static VfioKind classify_target(const char *target, int64_t *ret_number) {
        const char *rest;

        /* /dev/vfio/vfio is the container: holding it claims nothing. */
        if ((rest = startswith_prefix(target, VFIO_CDEV_PREFIX))) {
                const char *digits = startswith_prefix(rest, "vfio");
                if (digits && parse_decimal(digits, INT32_MAX, ret_number))
                        return VFIO_CDEV;
                return VFIO_NOT_OURS;
        }
        /* No-IOMMU mode names its group files noiommu-N; they still stand for iommu group N. */
        if ((rest = startswith_prefix(target, VFIO_NOIOMMU_PREFIX)))
                return parse_decimal(rest, INT32_MAX, ret_number) ? VFIO_GROUP : VFIO_NOT_OURS;
        if ((rest = startswith_prefix(target, VFIO_GROUP_PREFIX)))
                return parse_decimal(rest, INT32_MAX, ret_number) ? VFIO_GROUP : VFIO_NOT_OURS;
        return VFIO_NOT_OURS;
}

static void holder_record_done(HolderRecord *r) {
        free(r->comm);
        free(r->unit);
        free(r->dev_path);
        free(r->cdev);
}

void holder_records_free(HolderRecord *r, size_t n) {
        if (!r)
                return;
        for (size_t i = 0; i < n; i++)
                holder_record_done(&r[i]);
        free(r);
}

typedef struct RecordList {
        HolderRecord *records;
        size_t n;
        size_t allocated;
} RecordList;

static void record_list_done(RecordList *l) {
        holder_records_free(l->records, l->n);
        *l = (RecordList) {};
}

static int record_list_grow(RecordList *l) {
        if (l->n < l->allocated)
                return 0;
        size_t want = l->allocated ? l->allocated * 2 : 16;
        HolderRecord *n = reallocarray(l->records, want, sizeof(HolderRecord));
        if (!n)
                return -ENOMEM;
        l->records = n;
        l->allocated = want;
        return 0;
}

/* comm is whatever the process set with prctl(PR_SET_NAME): keep it printable so it can be logged as is. Returns
 * -ENOENT/-ESRCH when the process has gone. */
static int read_comm(int pid_fd, char **ret) {
        _cleanup_close_ int fd = openat(pid_fd, "comm", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char buf[COMM_READ_MAX];
        ssize_t n;

        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        if (n > 0 && buf[n - 1] == '\n')
                n--;
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) buf[i];
                if (c < ' ' || c >= 0x7f)
                        buf[i] = '?';
        }

        char *s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Append one record per distinct /dev/vfio file this process holds. */
static int scan_process(int proc_fd, const char *pid_name, pid_t pid, bool host_proc, RecordList *list) {
        _cleanup_close_ int pid_fd = -EBADF;
        _cleanup_free_ char *comm = NULL, *unit = NULL;
        DIR *d;
        struct dirent *de;
        size_t first = list->n;
        int r = 0;

        pid_fd = openat(proc_fd, pid_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pid_fd < 0)
                return 0; /* exited */

        int fd_dir = openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_dir < 0)
                return 0; /* exited, or another user's process (EACCES) */
        d = fdopendir(fd_dir);
        if (!d) {
                r = -errno;
                (void) close(fd_dir);
                return r == -ENOMEM ? r : 0;
        }

        while ((errno = 0, de = readdir(d))) {
                char target[LINK_TARGET_MAX];
                int64_t number;

                if (de->d_name[0] == '.')
                        continue;

                ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target));
                if (n < 0 || (size_t) n >= sizeof(target))
                        continue; /* closed meanwhile, or too long to be ours */
                target[n] = '\0';

                VfioKind kind = classify_target(target, &number);
                if (kind == VFIO_NOT_OURS)
                        continue;

                bool duplicate = false;
                for (size_t i = first; i < list->n; i++)
                        if (strcmp(list->records[i].dev_path, target) == 0) {
                                duplicate = true;
                                break;
                        }
                if (duplicate)
                        continue;

                r = record_list_grow(list);
                if (r < 0)
                        goto finish;

                HolderRecord rec = { .pid = pid, .group = kind == VFIO_GROUP ? number : -1 };
                rec.dev_path = strdup(target);
                if (!rec.dev_path) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (kind == VFIO_CDEV) {
                        rec.cdev = strdup(target + strlen(VFIO_CDEV_PREFIX));
                        if (!rec.cdev) {
                                free(rec.dev_path);
                                r = -ENOMEM;
                                goto finish;
                        }
                }
                list->records[list->n++] = rec;
        }

        if (list->n == first)
                goto finish;

        /* comm and unit only for the few processes that hold something. */
        r = read_comm(pid_fd, &comm);
        if (r == -ENOMEM)
                goto finish;
        if (r < 0) {
                /* The process exited between the fd listing and now: its handles are closed. */
                for (size_t i = first; i < list->n; i++)
                        holder_record_done(&list->records[i]);
                list->n = first;
                r = 0;
                goto finish;
        }
        if (host_proc && sd_pid_get_unit(pid, &unit) < 0)
                unit = NULL;

        for (size_t i = first; i < list->n; i++) {
                list->records[i].comm = strdup(comm);
                if (!list->records[i].comm) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (unit) {
                        list->records[i].unit = strdup(unit);
                        if (!list->records[i].unit) {
                                r = -ENOMEM;
                                goto finish;
                        }
                }
        }
        r = 0;

finish:
        (void) closedir(d);
        return r;
}

int holders_scan(const char *proc_root, HolderRecord **ret, size_t *ret_n) {
        _cleanup_(record_list_done) RecordList list = {};
        _cleanup_close_ int proc_fd = -EBADF;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!proc_root || !ret || !ret_n)
                return -EINVAL;

        proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return -errno;
        bool host_proc = strcmp(proc_root, "/proc") == 0 || strcmp(proc_root, "/proc/") == 0;

        int list_fd = dup(proc_fd);
        if (list_fd < 0)
                return -errno;
        d = fdopendir(list_fd);
        if (!d) {
                r = -errno;
                (void) close(list_fd);
                return r;
        }

        while ((errno = 0, de = readdir(d))) {
                int64_t pid;

                if (!parse_decimal(de->d_name, INT32_MAX, &pid) || pid == 0)
                        continue;
                r = scan_process(proc_fd, de->d_name, (pid_t) pid, host_proc, &list);
                if (r < 0)
                        break;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        (void) closedir(d);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(list.records);
        *ret_n = list.n;
        list = (RecordList) {};
        return 0;
}
