/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* vfio-claim GROUP: claim IOMMU group GROUP for user space the way a VMM does (open the container, open the group,
 * VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU type1), print "claimed" and hold it until killed. Built static for the
 * vm suite's initramfs. Exit 1 with the failing step on stderr when a step fails. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        char path[PATH_MAX];
        char *end = NULL;
        long group;
        int container, fd;

        if (argc != 2) {
                fprintf(stderr, "usage: vfio-claim GROUP\n");
                return 2;
        }
        errno = 0;
        group = strtol(argv[1], &end, 10);
        if (errno != 0 || !end || *end != '\0' || group < 0 || group > INT_MAX) {
                fprintf(stderr, "vfio-claim: invalid group \"%s\"\n", argv[1]);
                return 2;
        }

        container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (container < 0) {
                fprintf(stderr, "vfio-claim: open /dev/vfio/vfio: %s\n", strerror(errno));
                return 1;
        }
        (void) snprintf(path, sizeof(path), "/dev/vfio/%ld", group);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "vfio-claim: open %s: %s\n", path, strerror(errno));
                return 1;
        }

        struct vfio_group_status status = { .argsz = sizeof(status) };
        if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) < 0) {
                fprintf(stderr, "vfio-claim: VFIO_GROUP_GET_STATUS: %s\n", strerror(errno));
                return 1;
        }
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                fprintf(stderr, "vfio-claim: group %ld is not viable\n", group);
                return 1;
        }
        if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
                fprintf(stderr, "vfio-claim: VFIO_GROUP_SET_CONTAINER: %s\n", strerror(errno));
                return 1;
        }
        if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) {
                fprintf(stderr, "vfio-claim: VFIO_SET_IOMMU: %s\n", strerror(errno));
                return 1;
        }

        printf("claimed\n");
        (void) fflush(stdout);
        for (;;)
                (void) pause();
}
