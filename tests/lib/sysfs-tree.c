/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fake sysfs and /proc trees for the tests and the benchmark generator. The layout follows the kernel's (see
 * sysfs-tree.h); the relative link targets are the ones the kernel uses, so code that resolves links by basename or
 * follows them through the tree behaves as it does on a real /sys. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dma-ownerd/macro.h"
#include "sysfs-tree.h"

#define DEVICES_DIR "devices/pci0000:00"

/* Test inputs may be hostile on purpose (control characters, odd driver names), but never path components that
 * would climb out of the tree. */
static bool component_is_safe(const char *s) {
        return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int join(char **ret, const char *fmt, ...) _printf_(2, 3);
static int join(char **ret, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int mkdir_p(const char *path) {
        /* Usually only the last component is missing, or none: one mkdir instead of one per component. */
        if (mkdir(path, 0755) == 0 || errno == EEXIST)
                return 0;
        if (errno != ENOENT)
                return -errno;

        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;

        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_bytes(const char *path, const void *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;

        const char *p = data;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static int write_attr(const char *dir, const char *name, const char *fmt, ...) _printf_(3, 4);
static int write_attr(const char *dir, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *path = NULL, *value = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&value, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        r = join(&path, "%s/%s", dir, name);
        if (r < 0)
                return r;
        return write_bytes(path, value, strlen(value));
}

static int symlink_replace(const char *target, const char *linkpath) {
        if (symlink(target, linkpath) == 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (unlink(linkpath) < 0 && errno != ENOENT)
                return -errno;
        if (symlink(target, linkpath) < 0)
                return -errno;
        return 0;
}

static int ensure_driver_dir(const char *root, const char *driver) {
        _cleanup_free_ char *dir = NULL;
        static const char *const files[] = { "bind", "unbind", "new_id", "remove_id" };
        int r;

        r = join(&dir, "%s/bus/pci/drivers/%s", root, driver);
        if (r < 0)
                return r;
        bool fresh = mkdir(dir, 0755) == 0;
        if (!fresh) {
                r = mkdir_p(dir);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = NULL;

                r = join(&p, "%s/%s", dir, files[i]);
                if (r < 0)
                        return r;
                if (!fresh && access(p, F_OK) == 0)
                        continue; /* keep what an actuator test wrote */
                r = write_bytes(p, "", 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The device's uevent as the kernel prints it, regenerated from the attribute files and the driver link whenever one
 * of them changes, so that readers that take ids from uevent and readers that take them from the attributes agree. */
static char *read_small(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;
        if (join(&path, "%s/%s", dir, name) < 0)
                return NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        char *buf = calloc(1, 256);
        if (!buf)
                return NULL;
        ssize_t n = read(fd, buf, 255);
        if (n < 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static unsigned long read_hex_file(const char *dir, const char *name) {
        _cleanup_free_ char *s = read_small(dir, name);
        return s ? strtoul(s, NULL, 16) : 0;
}

static char *link_basename(const char *link);

static int uevent_write(const char *devdir, const char *driver, unsigned long vendor, unsigned long device,
                        unsigned long sv, unsigned long sd, unsigned long class) {
        _cleanup_free_ char *slot = NULL, *driver_line = NULL, *contents = NULL;
        int r;

        const char *base = strrchr(devdir, '/');
        slot = strdup(base ? base + 1 : devdir);
        if (!slot)
                return -ENOMEM;

        r = join(&driver_line, "DRIVER=%s\n", driver ? driver : "");
        if (r < 0)
                return r;
        r = join(&contents,
                 "%sPCI_CLASS=%lX\nPCI_ID=%04lX:%04lX\nPCI_SUBSYS_ID=%04lX:%04lX\nPCI_SLOT_NAME=%s\n"
                 "MODALIAS=pci:v%08lXd%08lXsv%08lXsd%08lXbc%02lXsc%02lXi%02lX\n",
                 driver ? driver_line : "", class, vendor, device, sv, sd, slot, vendor, device, sv, sd,
                 (class >> 16) & 0xff, (class >> 8) & 0xff, class & 0xff);
        if (r < 0)
                return r;
        return write_attr(devdir, "uevent", "%s", contents);
}

static int uevent_regenerate(const char *devdir) {
        _cleanup_free_ char *link = NULL, *driver = NULL;
        int r;

        r = join(&link, "%s/driver", devdir);
        if (r < 0)
                return r;
        driver = link_basename(link);

        return uevent_write(devdir, driver, read_hex_file(devdir, "vendor"), read_hex_file(devdir, "device"),
                            read_hex_file(devdir, "subsystem_vendor"), read_hex_file(devdir, "subsystem_device"),
                            read_hex_file(devdir, "class"));
}

/* sysfs_tree_set_driver(); `added`, when given, is the device just written, whose ids need not be read back. */
static int set_driver(const char *root, const char *address, const char *driver, const TreeDevice *added);

int sysfs_tree_new(char **ret_root) {
        static const char *const dirs[] = { DEVICES_DIR, "bus/pci/devices", "bus/pci/drivers", "kernel/iommu_groups" };
        _cleanup_free_ char *root = NULL, *probe = NULL;
        const char *tmp = getenv("TMPDIR");
        int r;

        if (!tmp || !*tmp)
                tmp = "/tmp";
        r = join(&root, "%s/sysfs-tree-XXXXXX", tmp);
        if (r < 0)
                return r;
        if (!mkdtemp(root))
                return -errno;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;

                r = join(&p, "%s/%s", root, dirs[i]);
                if (r < 0)
                        return r;
                r = mkdir_p(p);
                if (r < 0)
                        return r;
        }

        r = join(&probe, "%s/bus/pci/drivers_probe", root);
        if (r < 0)
                return r;
        r = write_bytes(probe, "", 0);
        if (r < 0)
                return r;

        *ret_root = TAKE_PTR(root);
        return 0;
}

/* The first 64 bytes of configuration space, little endian, as `config` exposes them to an unprivileged reader. */
static void fill_config(uint8_t config[64], const TreeDevice *d) {
        memset(config, 0, 64);
        config[0x00] = d->vendor & 0xff;
        config[0x01] = d->vendor >> 8;
        config[0x02] = d->device & 0xff;
        config[0x03] = d->device >> 8;
        config[0x09] = d->class & 0xff;         /* programming interface */
        config[0x0a] = (d->class >> 8) & 0xff;  /* subclass */
        config[0x0b] = (d->class >> 16) & 0xff; /* base class */
        config[0x0e] = d->header_type;
        if ((d->header_type & 0x7f) == 0) {
                config[0x2c] = d->subsystem_vendor & 0xff;
                config[0x2d] = d->subsystem_vendor >> 8;
                config[0x2e] = d->subsystem_device & 0xff;
                config[0x2f] = d->subsystem_device >> 8;
        }
}

static int link_group(const char *root, const char *devdir, const char *address, int64_t group) {
        _cleanup_free_ char *gdir = NULL, *target = NULL, *link = NULL, *gtarget = NULL, *glink = NULL;
        int r;

        r = join(&gdir, "%s/kernel/iommu_groups/%" PRIi64 "/devices", root, group);
        if (r < 0)
                return r;
        r = mkdir_p(gdir);
        if (r < 0)
                return r;

        r = join(&target, "../../../kernel/iommu_groups/%" PRIi64, group);
        if (r < 0)
                return r;
        r = join(&link, "%s/iommu_group", devdir);
        if (r < 0)
                return r;
        r = symlink_replace(target, link);
        if (r < 0)
                return r;

        r = join(&gtarget, "../../../../" DEVICES_DIR "/%s", address);
        if (r < 0)
                return r;
        r = join(&glink, "%s/%s", gdir, address);
        if (r < 0)
                return r;
        return symlink_replace(gtarget, glink);
}

static int add_virtfn_link(const char *root, const char *pf, const char *vf) {
        _cleanup_free_ char *pfdir = NULL, *target = NULL;
        int r;

        r = join(&pfdir, "%s/" DEVICES_DIR "/%s", root, pf);
        if (r < 0)
                return r;
        if (access(pfdir, F_OK) < 0)
                return 0; /* the PF is not in the tree (yet): only the VF's physfn link exists */

        r = join(&target, "../%s", vf);
        if (r < 0)
                return r;

        /* virtfnN numbering in order of addition; the kernel numbers by VF index, which tests do not depend on. */
        for (unsigned i = 0; i < 4096; i++) {
                _cleanup_free_ char *link = NULL;

                r = join(&link, "%s/virtfn%u", pfdir, i);
                if (r < 0)
                        return r;
                if (symlink(target, link) == 0)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
        }
        return -ENOSPC;
}

int sysfs_tree_add_device(const char *root, const TreeDevice *d) {
        _cleanup_free_ char *devdir = NULL, *buslink = NULL, *bustarget = NULL, *config_path = NULL;
        uint8_t config[64];
        int r;

        if (!root || !d || !component_is_safe(d->address))
                return -EINVAL;

        r = join(&devdir, "%s/" DEVICES_DIR "/%s", root, d->address);
        if (r < 0)
                return r;
        if (mkdir(devdir, 0755) < 0)
                return -errno;

        r = write_attr(devdir, "vendor", "0x%04x\n", d->vendor);
        if (r < 0)
                return r;
        r = write_attr(devdir, "device", "0x%04x\n", d->device);
        if (r < 0)
                return r;
        r = write_attr(devdir, "subsystem_vendor", "0x%04x\n", d->subsystem_vendor);
        if (r < 0)
                return r;
        r = write_attr(devdir, "subsystem_device", "0x%04x\n", d->subsystem_device);
        if (r < 0)
                return r;
        r = write_attr(devdir, "class", "0x%06x\n", d->class & 0xffffff);
        if (r < 0)
                return r;
        r = write_attr(devdir, "driver_override", "%s\n", d->driver_override ? d->driver_override : "(null)");
        if (r < 0)
                return r;

        fill_config(config, d);
        r = join(&config_path, "%s/config", devdir);
        if (r < 0)
                return r;
        r = write_bytes(config_path, config, sizeof(config));
        if (r < 0)
                return r;

        if (d->sriov_numvfs > 0) {
                r = write_attr(devdir, "sriov_numvfs", "%u\n", d->sriov_numvfs);
                if (r < 0)
                        return r;
                r = write_attr(devdir, "sriov_totalvfs", "%u\n", d->sriov_numvfs);
                if (r < 0)
                        return r;
        }

        if (d->physfn) {
                _cleanup_free_ char *target = NULL, *link = NULL;

                if (!component_is_safe(d->physfn))
                        return -EINVAL;
                r = join(&target, "../%s", d->physfn);
                if (r < 0)
                        return r;
                r = join(&link, "%s/physfn", devdir);
                if (r < 0)
                        return r;
                r = symlink_replace(target, link);
                if (r < 0)
                        return r;
                r = add_virtfn_link(root, d->physfn, d->address);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(d->net) && d->net[i]; i++) {
                _cleanup_free_ char *p = NULL;

                if (!component_is_safe(d->net[i]))
                        return -EINVAL;
                r = join(&p, "%s/net/%s", devdir, d->net[i]);
                if (r < 0)
                        return r;
                r = mkdir_p(p);
                if (r < 0)
                        return r;
        }

        if (d->vfio_cdev) {
                _cleanup_free_ char *p = NULL;

                if (!component_is_safe(d->vfio_cdev))
                        return -EINVAL;
                r = join(&p, "%s/vfio-dev/%s", devdir, d->vfio_cdev);
                if (r < 0)
                        return r;
                r = mkdir_p(p);
                if (r < 0)
                        return r;
        }

        if (d->group >= 0) {
                r = link_group(root, devdir, d->address, d->group);
                if (r < 0)
                        return r;
        }

        r = join(&bustarget, "../../../" DEVICES_DIR "/%s", d->address);
        if (r < 0)
                return r;
        r = join(&buslink, "%s/bus/pci/devices/%s", root, d->address);
        if (r < 0)
                return r;
        r = symlink_replace(bustarget, buslink);
        if (r < 0)
                return r;

        /* Bound last, as the kernel binds after the device is registered; that writes the uevent file too. */
        return set_driver(root, d->address, d->driver, d);
}

static int rm_rf_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_DP)
                return rmdir(path) < 0 ? -1 : 0;
        return unlink(path) < 0 ? -1 : 0;
}

static int rm_rf(const char *path) {
        if (nftw(path, rm_rf_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

/* The basename of a symlink's target, malloc'ed, or NULL when there is no such link. */
static char *link_basename(const char *link) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;

        if (lstat(link, &st) < 0 || !S_ISLNK(st.st_mode))
                return NULL;
        buf = malloc(PATH_MAX);
        if (!buf)
                return NULL;
        ssize_t n = readlink(link, buf, PATH_MAX - 1);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        const char *slash = strrchr(buf, '/');
        return strdup(slash ? slash + 1 : buf);
}

/* A removed VF disappears from its PF's virtfnN links too. */
static int remove_virtfn_link(const char *root, const char *devdir, const char *address) {
        _cleanup_free_ char *physfn_link = NULL, *pf = NULL;
        int r;

        r = join(&physfn_link, "%s/physfn", devdir);
        if (r < 0)
                return r;
        pf = link_basename(physfn_link);
        if (!pf || !component_is_safe(pf))
                return 0;

        for (unsigned i = 0; i < 4096; i++) {
                _cleanup_free_ char *link = NULL, *vf = NULL;

                r = join(&link, "%s/" DEVICES_DIR "/%s/virtfn%u", root, pf, i);
                if (r < 0)
                        return r;
                vf = link_basename(link);
                if (vf && strcmp(vf, address) == 0) {
                        (void) unlink(link);
                        break;
                }
        }
        return 0;
}

int sysfs_tree_remove_device(const char *root, const char *address) {
        _cleanup_free_ char *devdir = NULL, *buslink = NULL, *grouplink = NULL, *group = NULL;
        int r;

        if (!root || !component_is_safe(address))
                return -EINVAL;

        r = join(&devdir, "%s/" DEVICES_DIR "/%s", root, address);
        if (r < 0)
                return r;
        if (access(devdir, F_OK) < 0)
                return -ENOENT;

        /* Unbind first, as the kernel does before it tears the device down. */
        r = sysfs_tree_set_driver(root, address, NULL);
        if (r < 0)
                return r;

        r = join(&grouplink, "%s/iommu_group", devdir);
        if (r < 0)
                return r;
        group = link_basename(grouplink);
        if (group && component_is_safe(group)) {
                _cleanup_free_ char *glink = NULL, *gdevs = NULL, *gdir = NULL;

                r = join(&glink, "%s/kernel/iommu_groups/%s/devices/%s", root, group, address);
                if (r < 0)
                        return r;
                (void) unlink(glink);

                /* The kernel frees a group with its last device. */
                r = join(&gdevs, "%s/kernel/iommu_groups/%s/devices", root, group);
                if (r < 0)
                        return r;
                r = join(&gdir, "%s/kernel/iommu_groups/%s", root, group);
                if (r < 0)
                        return r;
                if (rmdir(gdevs) == 0)
                        (void) rm_rf(gdir);
        }

        r = remove_virtfn_link(root, devdir, address);
        if (r < 0)
                return r;

        r = join(&buslink, "%s/bus/pci/devices/%s", root, address);
        if (r < 0)
                return r;
        if (unlink(buslink) < 0 && errno != ENOENT)
                return -errno;

        return rm_rf(devdir);
}

static int uevent_update(const char *devdir, const char *driver, const TreeDevice *added) {
        if (!added)
                return uevent_regenerate(devdir);
        return uevent_write(devdir, driver, added->vendor, added->device, added->subsystem_vendor,
                            added->subsystem_device, added->class & 0xffffff);
}

int sysfs_tree_set_driver(const char *root, const char *address, const char *driver) {
        return set_driver(root, address, driver, NULL);
}

static int set_driver(const char *root, const char *address, const char *driver, const TreeDevice *added) {
        _cleanup_free_ char *devdir = NULL, *link = NULL, *old = NULL;
        int r;

        if (!root || !component_is_safe(address))
                return -EINVAL;
        if (driver && !component_is_safe(driver))
                return -EINVAL;

        r = join(&devdir, "%s/" DEVICES_DIR "/%s", root, address);
        if (r < 0)
                return r;
        r = join(&link, "%s/driver", devdir);
        if (r < 0)
                return r;

        old = link_basename(link);
        if (old) {
                if (component_is_safe(old)) {
                        _cleanup_free_ char *back = NULL;

                        r = join(&back, "%s/bus/pci/drivers/%s/%s", root, old, address);
                        if (r < 0)
                                return r;
                        (void) unlink(back);
                }
                if (unlink(link) < 0 && errno != ENOENT)
                        return -errno;
        }

        if (!driver)
                return uevent_update(devdir, NULL, added);

        _cleanup_free_ char *target = NULL, *back = NULL, *back_target = NULL;

        r = ensure_driver_dir(root, driver);
        if (r < 0)
                return r;
        r = join(&target, "../../../bus/pci/drivers/%s", driver);
        if (r < 0)
                return r;
        r = symlink_replace(target, link);
        if (r < 0)
                return r;

        r = join(&back, "%s/bus/pci/drivers/%s/%s", root, driver, address);
        if (r < 0)
                return r;
        r = join(&back_target, "../../../../" DEVICES_DIR "/%s", address);
        if (r < 0)
                return r;
        r = symlink_replace(back_target, back);
        if (r < 0)
                return r;
        return uevent_update(devdir, driver, added);
}

char *sysfs_tree_read(const char *root, const char *relpath) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0, allocated = 0;

        if (!root || !relpath || join(&path, "%s/%s", root, relpath) < 0)
                return NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;

        for (;;) {
                if (allocated - size < 4097) {
                        char *n = realloc(buf, allocated + 4097);
                        if (!n)
                                return NULL;
                        buf = n;
                        allocated += 4097;
                }
                ssize_t k = read(fd, buf + size, allocated - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return NULL;
        }
        buf[size] = '\0';
        return TAKE_PTR(buf);
}

int sysfs_tree_write(const char *root, const char *relpath, const char *contents) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!root || !relpath || !contents)
                return -EINVAL;
        r = join(&path, "%s/%s", root, relpath);
        if (r < 0)
                return r;
        r = write_bytes(path, contents, strlen(contents));
        if (r < 0)
                return r;

        /* An id changed: the kernel would show it in uevent too. */
        static const char *const ids[] = { "vendor", "device", "subsystem_vendor", "subsystem_device", "class" };
        char *slash = strrchr(path, '/');
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                if (strcmp(slash + 1, ids[i]) == 0) {
                        *slash = '\0';
                        return uevent_regenerate(path);
                }
        return 0;
}

static bool path_is_under(const char *path, const char *dir) {
        size_t n = strlen(dir);

        while (n > 1 && dir[n - 1] == '/')
                n--;
        return n > 0 && strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

int sysfs_tree_destroy(const char *root) {
        const char *tmp = getenv("TMPDIR");

        if (!root || strstr(root, "/../") || strstr(root, "/./"))
                return -EINVAL;
        if (!path_is_under(root, "/tmp") && !(tmp && *tmp == '/' && path_is_under(root, tmp)))
                return -EPERM;
        return rm_rf(root);
}

int proc_tree_add_fd(const char *proc_root, pid_t pid, const char *comm, int fd, const char *target) {
        _cleanup_free_ char *piddir = NULL, *fddir = NULL, *link = NULL;
        int r;

        if (!proc_root || pid <= 0 || fd < 0 || !target)
                return -EINVAL;

        r = join(&piddir, "%s/%d", proc_root, (int) pid);
        if (r < 0)
                return r;
        r = join(&fddir, "%s/fd", piddir);
        if (r < 0)
                return r;
        r = mkdir_p(fddir);
        if (r < 0)
                return r;

        if (comm) {
                r = write_attr(piddir, "comm", "%s\n", comm);
                if (r < 0)
                        return r;
        }

        r = join(&link, "%s/%d", fddir, fd);
        if (r < 0)
                return r;
        return symlink_replace(target, link);
}
