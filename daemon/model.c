/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dma-ownerd/macro.h"
#include "dma-ownerd/pci-address.h"
#include "holders.h"
#include "model.h"
#include "policy.h"

/* Every sysfs attribute dma-ownerd reads is a short line; anything larger is not what we expect and is refused
 * rather than allocated for. */
#define ATTR_READ_MAX 4096

/* qsort() with an empty array may get NULL, which glibc declares nonnull. */
static void qsort_safe(void *base, size_t n, size_t size, int (*compare)(const void *, const void *)) {
        if (n > 1)
                qsort(base, n, size, compare);
}

/* ---- small parsers ------------------------------------------------------------------------------------------- */

static bool parse_hex(const char *s, uint32_t max, uint32_t *ret) {
        uint32_t v = 0;

        if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2])
                return false;
        for (s += 2; *s; s++) {
                unsigned digit;
                if (*s >= '0' && *s <= '9')
                        digit = (unsigned) (*s - '0');
                else if (*s >= 'a' && *s <= 'f')
                        digit = (unsigned) (*s - 'a' + 10);
                else if (*s >= 'A' && *s <= 'F')
                        digit = (unsigned) (*s - 'A' + 10);
                else
                        return false;
                if (v > (max >> 4))
                        return false;
                v = (v << 4) | digit;
                if (v > max)
                        return false;
        }
        *ret = v;
        return true;
}

static bool parse_decimal(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || !*s || (s[0] == '0' && s[1] != '\0'))
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
                if (v > max)
                        return false;
        }
        *ret = v;
        return true;
}

static bool vfio_cdev_is_valid(const char *s) {
        uint64_t n;
        return s && strncmp(s, "vfio", 4) == 0 && parse_decimal(s + 4, INT32_MAX, &n);
}

bool kernel_release_has_dma_ownership(const char *release) {
        uint64_t major = 0, minor = 0;
        const char *p = release;

        if (!p || *p < '0' || *p > '9')
                return false;
        for (; *p >= '0' && *p <= '9'; p++) {
                major = major * 10 + (uint64_t) (*p - '0');
                if (major > 100000)
                        return false;
        }
        if (*p != '.' || p[1] < '0' || p[1] > '9')
                return false;
        for (p++; *p >= '0' && *p <= '9'; p++) {
                minor = minor * 10 + (uint64_t) (*p - '0');
                if (minor > 100000)
                        return false;
        }
        /* What follows minor ("", ".3", "-30-amd64", "+") does not matter. */
        return major > 5 || (major == 5 && minor >= 19);
}

const char *dma_owner_to_string(DmaOwner o) {
        switch (o) {
        case DMA_OWNER_NONE:
                return "none";
        case DMA_OWNER_KERNEL:
                return "kernel";
        case DMA_OWNER_USER:
                return "user";
        }
        return "invalid";
}

/* ---- reading sysfs ------------------------------------------------------------------------------------------- */

/* Directory listings straight from getdents64 into a caller's buffer: no DIR allocation, no extra fcntl/fstat per
 * directory, which matters when a scan lists thousands of them. */
#define DENTS_BUF_SIZE 8192

typedef struct DirIter {
        int fd;
        uint8_t *buf;
        size_t pos, end;
        int error;
} DirIter;

static const struct dirent64 *dir_next(DirIter *it) {
        for (;;) {
                while (it->pos < it->end) {
                        const struct dirent64 *de = (const struct dirent64 *) (it->buf + it->pos);
                        it->pos += de->d_reclen;
                        if (de->d_name[0] == '.' &&
                            (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                                continue;
                        return de;
                }
                ssize_t n = getdents64(it->fd, it->buf, DENTS_BUF_SIZE);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        it->error = -errno;
                        return NULL;
                }
                if (n == 0)
                        return NULL;
                it->pos = 0;
                it->end = (size_t) n;
        }
}

/* Per-thread scratch space for reading devices. */
typedef struct Scratch {
        char attr[ATTR_READ_MAX];
        uint8_t dents[DENTS_BUF_SIZE];
} Scratch;

/* Read a whole attribute into `buf` (NUL-terminated, one trailing newline dropped). Attributes are regular files in
 * sysfs, never symlinks: O_NOFOLLOW keeps a planted link (or a loop) from leading elsewhere. -EFBIG when it does not
 * fit, so a truncated value is never taken for the real one. */
static int read_attr(int dir_fd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;

        for (;;) {
                if (len >= size - 1)
                        return -EFBIG;
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                /* sysfs hands out an attribute in one read, and a regular file reads short only at its end: a short
                 * read is the end, which saves a read() per attribute. */
                if (len < size - 1)
                        break;
        }
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        buf[len] = '\0';
        if (memchr(buf, '\0', len))
                return -EBADMSG; /* embedded NUL: not a text attribute */
        return (int) len;
}

static int read_hex_attr(int dir_fd, const char *name, uint32_t max, char *buf, uint32_t *ret) {
        int r = read_attr(dir_fd, name, buf, ATTR_READ_MAX);
        if (r < 0)
                return r;
        if (!parse_hex(buf, max, ret))
                return -EBADMSG;
        return 0;
}

/* Hex digits without prefix, as uevent prints them ("%04X"). */
static bool parse_hex_plain(const char *s, size_t len, uint32_t max, uint32_t *ret) {
        uint32_t v = 0;

        if (len == 0 || len > 8)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                unsigned digit;
                if (c >= '0' && c <= '9')
                        digit = (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        digit = (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        digit = (unsigned) (c - 'A' + 10);
                else
                        return false;
                v = (v << 4) | digit;
        }
        if (v > max)
                return false;
        *ret = v;
        return true;
}

static bool parse_id_pair(const char *s, size_t len, uint16_t *ret_a, uint16_t *ret_b) {
        const char *colon = memchr(s, ':', len);
        uint32_t a, b;

        if (!colon || !parse_hex_plain(s, (size_t) (colon - s), 0xffff, &a) ||
            !parse_hex_plain(colon + 1, len - (size_t) (colon - s) - 1, 0xffff, &b))
                return false;
        *ret_a = (uint16_t) a;
        *ret_b = (uint16_t) b;
        return true;
}

/* The kernel's own view of the ids (quirks applied, VFs filled in from their PF) in one read: uevent carries
 * PCI_CLASS, PCI_ID and PCI_SUBSYS_ID. Returns -ENODATA when any of them is missing, so the caller falls back to
 * the individual attribute files. */
static int read_ids_from_uevent(int dev_fd, char *buf, PciIdentity *id) {
        PciIdentity tmp = *id;
        unsigned seen = 0;
        int r;

        r = read_attr(dev_fd, "uevent", buf, ATTR_READ_MAX);
        if (r < 0)
                return r;

        for (char *line = buf; *line;) {
                char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t) (nl - line) : strlen(line);
                uint32_t v;

                if (len > 10 && memcmp(line, "PCI_CLASS=", 10) == 0) {
                        if (!parse_hex_plain(line + 10, len - 10, 0xffffff, &v))
                                return -EBADMSG;
                        tmp.class = v;
                        seen |= 1;
                } else if (len > 7 && memcmp(line, "PCI_ID=", 7) == 0) {
                        if (!parse_id_pair(line + 7, len - 7, &tmp.vendor, &tmp.device))
                                return -EBADMSG;
                        seen |= 2;
                } else if (len > 14 && memcmp(line, "PCI_SUBSYS_ID=", 14) == 0) {
                        if (!parse_id_pair(line + 14, len - 14, &tmp.subsystem_vendor, &tmp.subsystem_device))
                                return -EBADMSG;
                        seen |= 4;
                }
                line += len + (nl ? 1 : 0);
        }
        if (seen != 7)
                return -ENODATA;
        *id = tmp;
        return 0;
}

static int read_ids_from_attrs(int dev_fd, char *buf, PciIdentity *id) {
        uint32_t v;
        int r;

        /* vendor, device and class are there for every PCI device: without them the device is going away. */
        r = read_hex_attr(dev_fd, "vendor", 0xffff, buf, &v);
        if (r < 0)
                return r;
        id->vendor = (uint16_t) v;
        r = read_hex_attr(dev_fd, "device", 0xffff, buf, &v);
        if (r < 0)
                return r;
        id->device = (uint16_t) v;
        r = read_hex_attr(dev_fd, "class", 0xffffff, buf, &v);
        if (r < 0)
                return r;
        id->class = v;
        if (read_hex_attr(dev_fd, "subsystem_vendor", 0xffff, buf, &v) >= 0)
                id->subsystem_vendor = (uint16_t) v;
        if (read_hex_attr(dev_fd, "subsystem_device", 0xffff, buf, &v) >= 0)
                id->subsystem_device = (uint16_t) v;
        return 0;
}

/* The basename of a symlink's target into `buf`; -ENOENT when there is no such link. */
static int read_link_basename(int dir_fd, const char *name, char *buf, size_t size, const char **ret) {
        ssize_t n = readlinkat(dir_fd, name, buf, size);
        if (n < 0)
                return -errno;
        if ((size_t) n >= size)
                return -ENAMETOOLONG;
        buf[n] = '\0';
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';
        const char *slash = strrchr(buf, '/');
        *ret = slash ? slash + 1 : buf;
        return 0;
}

static void device_done(Device *d) {
        free(d->driver);
        free(d->driver_override);
        free(d->vfio_cdev);
        free(d->net);
        *d = (Device) {};
}

static int read_net(int dev_fd, uint8_t *dents, Device *d) {
        _cleanup_free_ NetInterface *net = NULL;
        _cleanup_close_ int fd = -EBADF;
        const struct dirent64 *de;
        size_t n = 0, allocated = 0;

        fd = openat(dev_fd, "net", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;

        DirIter it = { .fd = fd, .buf = dents };
        while ((de = dir_next(&it))) {
                if (!ifname_is_valid(de->d_name))
                        continue;
                if (n == allocated) {
                        size_t want = allocated ? allocated * 2 : 2;
                        NetInterface *p = reallocarray(net, want, sizeof(NetInterface));
                        if (!p)
                                return -ENOMEM;
                        net = p;
                        allocated = want;
                }
                net[n] = (NetInterface) {};
                strcpy(net[n].name, de->d_name); /* length checked by ifname_is_valid() */
                n++;
        }

        /* Listing order is the filesystem's: sort (insertion sort, there are one or two), so two scans compare equal. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(net[j - 1].name, net[j].name) > 0; j--) {
                        NetInterface t = net[j];
                        net[j] = net[j - 1];
                        net[j - 1] = t;
                }

        d->net = n > 0 ? TAKE_PTR(net) : NULL;
        d->n_net = n;
        return 0;
}

static int read_vfio_cdev(int dev_fd, uint8_t *dents, Device *d) {
        _cleanup_close_ int fd = -EBADF;
        const struct dirent64 *de;
        const char *best = NULL;
        uint64_t best_n = UINT64_MAX;

        fd = openat(dev_fd, "vfio-dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;

        /* A device has one cdev; should there be several, take the lowest so the choice is stable. The names stay in
         * `dents` only until the next getdents64, so keep a copy of the best one. */
        _cleanup_free_ char *copy = NULL;
        DirIter it = { .fd = fd, .buf = dents };
        while ((de = dir_next(&it))) {
                uint64_t n;
                if (!vfio_cdev_is_valid(de->d_name) || !parse_decimal(de->d_name + 4, INT32_MAX, &n) || n >= best_n)
                        continue;
                char *s = strdup(de->d_name);
                if (!s)
                        return -ENOMEM;
                free(copy);
                copy = s;
                best = copy;
                best_n = n;
        }

        d->vfio_cdev = best ? TAKE_PTR(copy) : NULL;
        return 0;
}

/* A driver name or override as read from sysfs: validated, or the placeholder. */
static int dup_driver_name(const char *name, char **ret) {
        char *s = strdup(driver_name_is_valid(name) ? name : DEVICE_DRIVER_UNKNOWN);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

enum {
        HAS_UEVENT = 1 << 0,
        HAS_CONFIG = 1 << 1,
        HAS_DRIVER = 1 << 2,
        HAS_OVERRIDE = 1 << 3,
        HAS_IOMMU_GROUP = 1 << 4,
        HAS_PHYSFN = 1 << 5,
        HAS_SRIOV_NUMVFS = 1 << 6,
        HAS_NET = 1 << 7,
        HAS_VFIO_DEV = 1 << 8,
};

/* One listing of the device directory says which optional entries exist, instead of probing each of them. */
static int list_device_entries(int dev_fd, uint8_t *dents, unsigned *ret) {
        static const struct {
                const char *name;
                unsigned flag;
        } known[] = {
                { "uevent", HAS_UEVENT },           { "config", HAS_CONFIG },
                { "driver", HAS_DRIVER },           { "driver_override", HAS_OVERRIDE },
                { "iommu_group", HAS_IOMMU_GROUP }, { "physfn", HAS_PHYSFN },
                { "sriov_numvfs", HAS_SRIOV_NUMVFS }, { "net", HAS_NET },
                { "vfio-dev", HAS_VFIO_DEV },
        };
        const struct dirent64 *de;
        unsigned flags = 0;

        DirIter it = { .fd = dev_fd, .buf = dents };
        while ((de = dir_next(&it))) {
                /* Cheap first-letter filter: a real device directory has dozens of entries. */
                if (!strchr("ucdipsnv", de->d_name[0]))
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        if (strcmp(de->d_name, known[i].name) == 0) {
                                flags |= known[i].flag;
                                break;
                        }
        }
        if (it.error < 0)
                return it.error;
        *ret = flags;
        return 0;
}

/* Read one device. Returns -ENOMEM, or another negative errno when the device is gone or unusable (the caller skips
 * it). */
/* `known`, when given, is the model's record of the device at `address`: see the header type below. */
static int device_read(int bus_fd, const char *address, const Device *known, Scratch *scratch, Device *ret) {
        _cleanup_(device_done) Device d = {};
        _cleanup_close_ int dev_fd = -EBADF;
        char *buf = scratch->attr;
        const char *name;
        unsigned has;
        int r;

        if (!pci_address_is_valid(address))
                return -EINVAL;
        memcpy(d.id.address, address, PCI_ADDRESS_STRLEN);

        /* Follows the bus link (the only link followed), so a loop or a dangling entry fails here. */
        dev_fd = openat(bus_fd, address, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dev_fd < 0)
                return -errno;

        r = list_device_entries(dev_fd, scratch->dents, &has);
        if (r < 0)
                return r;

        r = (has & HAS_UEVENT) ? read_ids_from_uevent(dev_fd, buf, &d.id) : -ENODATA;
        if (r < 0) {
                r = read_ids_from_attrs(dev_fd, buf, &d.id);
                if (r < 0)
                        return r;
        }

        /* The header type is only in config space; unprivileged readers see its first 64 bytes, which suffices.
         * It cannot change while the device exists, so a re-read of a device the model knows (same ids) keeps it:
         * in a VM the read of config traps to the hypervisor, the costliest call on the event path. */
        if (known && known->id.vendor == d.id.vendor && known->id.device == d.id.device &&
            known->id.class == d.id.class) {
                d.header_type = known->header_type;
                d.multifunction = known->multifunction;
                d.is_bridge = known->is_bridge;
        } else {
                _cleanup_close_ int fd = -EBADF;
                uint8_t header;
                ssize_t n = -1;

                if (has & HAS_CONFIG)
                        fd = openat(dev_fd, "config", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
                if (fd >= 0)
                        do
                                n = pread(fd, &header, 1, 0x0e);
                        while (n < 0 && errno == EINTR);
                if (n == 1) {
                        d.header_type = header & 0x7f;
                        d.multifunction = header & 0x80;
                } else {
                        uint32_t sub = d.id.class >> 8;
                        d.header_type = sub == 0x0604 ? 1 : sub == 0x0607 ? 2 : 0;
                }
                d.is_bridge = d.header_type == 1 || d.header_type == 2;
        }

        d.id.iommu_group = -1;
        if ((has & HAS_IOMMU_GROUP) && read_link_basename(dev_fd, "iommu_group", buf, ATTR_READ_MAX, &name) >= 0) {
                uint64_t g;
                if (parse_decimal(name, INT32_MAX, &g))
                        d.id.iommu_group = (int64_t) g;
        }

        if (has & HAS_DRIVER) {
                r = read_link_basename(dev_fd, "driver", buf, ATTR_READ_MAX, &name);
                if (r != -ENOENT) {
                        /* A link that is there but unreadable still says "bound": never mistake it for unbound. */
                        r = dup_driver_name(r >= 0 ? name : NULL, &d.driver);
                        if (r < 0)
                                return r;
                }
        }

        if (has & HAS_OVERRIDE) {
                r = read_attr(dev_fd, "driver_override", buf, ATTR_READ_MAX);
                if (r >= 0) {
                        if (r > 0 && strcmp(buf, "(null)") != 0) {
                                r = dup_driver_name(buf, &d.driver_override);
                                if (r < 0)
                                        return r;
                        }
                } else if (r != -ENOENT) {
                        /* Present but unreadable or oversized: something is set that we cannot repeat. */
                        r = dup_driver_name(NULL, &d.driver_override);
                        if (r < 0)
                                return r;
                }
        }

        if ((has & HAS_PHYSFN) && read_link_basename(dev_fd, "physfn", buf, ATTR_READ_MAX, &name) >= 0) {
                d.is_virtfn = true;
                if (pci_address_is_valid(name))
                        memcpy(d.physfn, name, PCI_ADDRESS_STRLEN);
        }

        if ((has & HAS_SRIOV_NUMVFS) && read_attr(dev_fd, "sriov_numvfs", buf, ATTR_READ_MAX) > 0) {
                uint64_t n;
                if (parse_decimal(buf, UINT16_MAX, &n))
                        d.sriov_numvfs = (unsigned) n;
        }

        if (has & HAS_NET) {
                r = read_net(dev_fd, scratch->dents, &d);
                if (r == -ENOMEM)
                        return r;
        }
        if (has & HAS_VFIO_DEV) {
                r = read_vfio_cdev(dev_fd, scratch->dents, &d);
                if (r == -ENOMEM)
                        return r;
        }

        *ret = d;
        d = (Device) {};
        return 0;
}

/* ---- groups ------------------------------------------------------------------------------------------------- */

static void holder_done(Holder *h) {
        free(h->comm);
        free(h->unit);
        free(h->dev_path);
}

static void holders_free(Holder *h, size_t n) {
        for (size_t i = 0; i < n; i++)
                holder_done(&h[i]);
        free(h);
}

static void group_done(Group *g) {
        free(g->members);
        holders_free(g->holders, g->n_holders);
        *g = (Group) {};
}

static void group_update_owner(const Model *m, Group *g) {
        if (g->n_holders > 0) {
                g->owner = DMA_OWNER_USER;
                return;
        }
        for (size_t i = 0; i < g->n_members; i++) {
                const char *driver = m->devices[g->members[i]].driver;
                if (driver && !driver_manages_dma(driver)) {
                        g->owner = DMA_OWNER_KERNEL;
                        return;
                }
        }
        g->owner = DMA_OWNER_NONE;
}

/* Position of group `number`, or where it would be inserted. */
static size_t group_position(const Model *m, int64_t number, bool *ret_found) {
        size_t lo = 0, hi = m->n_groups;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if ((int64_t) m->groups[mid].number < number)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = lo < m->n_groups && (int64_t) m->groups[lo].number == number;
        return lo;
}

static size_t device_position(const Model *m, const char *address, bool *ret_found) {
        size_t lo = 0, hi = m->n_devices;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(m->devices[mid].id.address, address) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = lo < m->n_devices && strcmp(m->devices[lo].id.address, address) == 0;
        return lo;
}

const Device *model_find_device(const Model *m, const char *address) {
        bool found;
        if (!m || !address)
                return NULL;
        size_t i = device_position(m, address, &found);
        return found ? &m->devices[i] : NULL;
}

Device *model_find_device_mutable(Model *m, const char *address) {
        return (Device *) model_find_device(m, address);
}

const Group *model_find_group(const Model *m, int64_t number) {
        bool found;
        if (!m || number < 0)
                return NULL;
        size_t i = group_position(m, number, &found);
        return found ? &m->groups[i] : NULL;
}

typedef struct GroupKey {
        int64_t group;
        size_t index;
} GroupKey;

static int group_key_compare(const void *a, const void *b) {
        const GroupKey *x = a, *y = b;
        if (x->group != y->group)
                return x->group < y->group ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

int model_index(Model *m) {
        _cleanup_free_ GroupKey *keys = NULL;
        Group *groups = NULL;
        size_t n_keys = 0, n_groups = 0;

        if (!m)
                return -EINVAL;

        if (m->n_devices > 0) {
                keys = malloc(m->n_devices * sizeof(GroupKey));
                if (!keys)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_devices; i++)
                if (m->devices[i].id.iommu_group >= 0)
                        keys[n_keys++] = (GroupKey) { m->devices[i].id.iommu_group, i };
        /* Devices are in address order already, so most input is nearly sorted; qsort does not care. */
        qsort_safe(keys, n_keys, sizeof(GroupKey), group_key_compare);

        for (size_t i = 0; i < n_keys; i++)
                if (i == 0 || keys[i].group != keys[i - 1].group)
                        n_groups++;

        if (n_groups > 0) {
                groups = calloc(n_groups, sizeof(Group));
                if (!groups)
                        return -ENOMEM;
        }
        for (size_t i = 0, g = 0; i < n_keys; g++) {
                size_t j = i;
                while (j < n_keys && keys[j].group == keys[i].group)
                        j++;
                groups[g].number = (unsigned) keys[i].group;
                groups[g].n_members = j - i;
                groups[g].members = malloc((j - i) * sizeof(size_t));
                if (!groups[g].members) {
                        for (size_t k = 0; k < g; k++)
                                free(groups[k].members);
                        free(groups);
                        return -ENOMEM;
                }
                for (size_t k = i; k < j; k++)
                        groups[g].members[k - i] = keys[k].index;
                i = j;
        }

        /* Holders belong to the group number: carry them over (both lists are sorted by number). */
        for (size_t o = 0, g = 0; o < m->n_groups; o++) {
                while (g < n_groups && groups[g].number < m->groups[o].number)
                        g++;
                if (g < n_groups && groups[g].number == m->groups[o].number) {
                        groups[g].holders = TAKE_PTR(m->groups[o].holders);
                        groups[g].n_holders = m->groups[o].n_holders;
                        m->groups[o].n_holders = 0;
                }
                group_done(&m->groups[o]);
        }
        free(m->groups);
        m->groups = groups;
        m->n_groups = n_groups;

        for (size_t g = 0; g < n_groups; g++)
                group_update_owner(m, &m->groups[g]);
        return 0;
}

/* ---- model life cycle --------------------------------------------------------------------------------------- */

Model *model_free(Model *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_devices; i++)
                device_done(&m->devices[i]);
        free(m->devices);
        for (size_t i = 0; i < m->n_groups; i++)
                group_done(&m->groups[i]);
        free(m->groups);
        free(m->sysfs_root);
        free(m->proc_root);
        free(m);
        return NULL;
}

int model_new_empty(Model **ret) {
        Model *m;

        if (!ret)
                return -EINVAL;
        m = calloc(1, sizeof(Model));
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

static int device_copy(const Device *src, Device *ret) {
        _cleanup_(device_done) Device d = *src;

        d.driver = d.driver_override = d.vfio_cdev = NULL;
        d.net = NULL;
        d.n_net = 0;

        if (src->driver && !(d.driver = strdup(src->driver)))
                return -ENOMEM;
        if (src->driver_override && !(d.driver_override = strdup(src->driver_override)))
                return -ENOMEM;
        if (src->vfio_cdev && !(d.vfio_cdev = strdup(src->vfio_cdev)))
                return -ENOMEM;
        if (src->n_net > 0) {
                d.net = malloc(src->n_net * sizeof(NetInterface));
                if (!d.net)
                        return -ENOMEM;
                memcpy(d.net, src->net, src->n_net * sizeof(NetInterface));
                d.n_net = src->n_net;
        }
        *ret = d;
        d = (Device) {};
        return 0;
}

static int devices_reserve(Model *m, size_t extra) {
        /* Grow by half, so that adding devices one at a time stays linear overall. */
        size_t want = m->n_devices + extra;
        Device *n = reallocarray(m->devices, want + want / 2 + 1, sizeof(Device));
        if (!n)
                return -ENOMEM;
        m->devices = n;
        return 0;
}

int model_add_device(Model *m, const Device *d) {
        Device copy;
        bool found;
        int r;

        if (!m || !d || !pci_address_is_valid(d->id.address))
                return -EINVAL;
        if ((d->driver && !driver_name_is_valid(d->driver)) ||
            (d->driver_override && !driver_name_is_valid(d->driver_override)))
                return -EINVAL;

        /* Appending in address order is the common case (benchmarks, scans): no search, no move. */
        size_t pos = m->n_devices;
        if (pos > 0 && strcmp(m->devices[pos - 1].id.address, d->id.address) >= 0) {
                pos = device_position(m, d->id.address, &found);
                if (found)
                        return -EEXIST;
        }

        r = devices_reserve(m, 1);
        if (r < 0)
                return r;
        r = device_copy(d, &copy);
        if (r < 0)
                return r;

        memmove(m->devices + pos + 1, m->devices + pos, (m->n_devices - pos) * sizeof(Device));
        m->devices[pos] = copy;
        m->n_devices++;

        /* Group indices past `pos` moved: keep existing groups consistent until the next model_index(). */
        if (pos + 1 < m->n_devices)
                for (size_t g = 0; g < m->n_groups; g++)
                        for (size_t k = 0; k < m->groups[g].n_members; k++)
                                if (m->groups[g].members[k] >= pos)
                                        m->groups[g].members[k]++;
        return 0;
}

int model_add_holder(Model *m, unsigned group, pid_t pid, const char *comm, const char *unit, const char *dev_path) {
        Holder h = { .pid = pid };
        bool found;
        size_t g;
        int r;

        if (!m || !dev_path)
                return -EINVAL;

        g = group_position(m, group, &found);
        if (!found) {
                /* Devices may have been added since the last model_index(). */
                r = model_index(m);
                if (r < 0)
                        return r;
                g = group_position(m, group, &found);
                if (!found)
                        return -ENOENT;
        }

        Group *grp = &m->groups[g];
        Holder *n = reallocarray(grp->holders, grp->n_holders + 1, sizeof(Holder));
        if (!n)
                return -ENOMEM;
        grp->holders = n;

        if ((comm && !(h.comm = strdup(comm))) || (unit && !(h.unit = strdup(unit))) ||
            !(h.dev_path = strdup(dev_path))) {
                holder_done(&h);
                return -ENOMEM;
        }
        grp->holders[grp->n_holders++] = h;
        grp->owner = DMA_OWNER_USER;
        return 0;
}

int model_set_pinned(Model *m, const char *address, bool pinned) {
        Device *d = model_find_device_mutable(m, address);
        if (!d)
                return -ENOENT;
        d->pinned = pinned;
        return 0;
}

/* ---- holders ------------------------------------------------------------------------------------------------ */

typedef struct CdevKey {
        uint64_t number;
        int64_t group;
} CdevKey;

static int cdev_key_compare(const void *a, const void *b) {
        const CdevKey *x = a, *y = b;
        return x->number < y->number ? -1 : x->number > y->number;
}

static int holder_compare(const void *a, const void *b) {
        const Holder *x = a, *y = b;
        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return strcmp(x->dev_path, y->dev_path);
}

/* Attach holder records to groups: everything is allocated before the model is touched. */
static int model_attach_holders(Model *m, HolderRecord *records, size_t n_records) {
        _cleanup_free_ CdevKey *cdevs = NULL;
        _cleanup_free_ size_t *counts = NULL;
        _cleanup_free_ int64_t *record_group = NULL;
        Holder **lists = NULL;
        size_t n_cdevs = 0;
        bool any_cdev = false;
        int r = 0;

        if (m->n_groups == 0)
                return 0; /* nothing to hold */

        for (size_t i = 0; i < n_records; i++)
                if (records[i].cdev)
                        any_cdev = true;

        if (any_cdev) {
                cdevs = malloc((m->n_devices ? m->n_devices : 1) * sizeof(CdevKey));
                if (!cdevs)
                        return -ENOMEM;
                for (size_t i = 0; i < m->n_devices; i++) {
                        const Device *d = &m->devices[i];
                        uint64_t n;
                        if (d->vfio_cdev && d->id.iommu_group >= 0 && vfio_cdev_is_valid(d->vfio_cdev) &&
                            parse_decimal(d->vfio_cdev + 4, INT32_MAX, &n))
                                cdevs[n_cdevs++] = (CdevKey) { n, d->id.iommu_group };
                }
                qsort_safe(cdevs, n_cdevs, sizeof(CdevKey), cdev_key_compare);
        }

        counts = calloc(m->n_groups, sizeof(size_t));
        record_group = malloc((n_records ? n_records : 1) * sizeof(int64_t));
        lists = calloc(m->n_groups, sizeof(Holder *));
        if (!counts || !record_group || !lists) {
                r = -ENOMEM;
                goto fail;
        }

        for (size_t i = 0; i < n_records; i++) {
                int64_t number = records[i].group;
                bool found;

                record_group[i] = -1;
                if (records[i].cdev) {
                        uint64_t n;
                        if (!vfio_cdev_is_valid(records[i].cdev) ||
                            !parse_decimal(records[i].cdev + 4, INT32_MAX, &n))
                                continue;
                        CdevKey key = { .number = n };
                        const CdevKey *k = bsearch(&key, cdevs, n_cdevs, sizeof(CdevKey), cdev_key_compare);
                        if (!k)
                                continue; /* a cdev of a device we do not know */
                        number = k->group;
                }
                if (number < 0)
                        continue;
                size_t g = group_position(m, number, &found);
                if (!found)
                        continue; /* a group with no PCI device in the model */
                record_group[i] = (int64_t) g;
                counts[g]++;
        }

        for (size_t g = 0; g < m->n_groups; g++)
                if (counts[g] > 0) {
                        lists[g] = calloc(counts[g], sizeof(Holder));
                        if (!lists[g]) {
                                r = -ENOMEM;
                                goto fail;
                        }
                }

        /* From here on nothing fails: move the strings over. */
        memset(counts, 0, m->n_groups * sizeof(size_t));
        for (size_t i = 0; i < n_records; i++) {
                if (record_group[i] < 0)
                        continue;
                size_t g = (size_t) record_group[i];
                lists[g][counts[g]++] = (Holder) {
                        .pid = records[i].pid,
                        .comm = TAKE_PTR(records[i].comm),
                        .unit = TAKE_PTR(records[i].unit),
                        .dev_path = TAKE_PTR(records[i].dev_path),
                };
        }
        for (size_t g = 0; g < m->n_groups; g++) {
                Group *grp = &m->groups[g];
                holders_free(grp->holders, grp->n_holders);
                grp->holders = lists[g];
                grp->n_holders = counts[g];
                qsort_safe(grp->holders, grp->n_holders, sizeof(Holder), holder_compare);
                group_update_owner(m, grp);
        }
        free(lists);
        return 0;

fail:
        if (lists)
                for (size_t g = 0; g < m->n_groups; g++)
                        free(lists[g]);
        free(lists);
        return r;
}

int model_refresh_holders(Model *m) {
        HolderRecord *records = NULL;
        size_t n_records = 0;
        int r;

        if (!m)
                return -EINVAL;
        if (m->proc_root) {
                r = holders_scan(m->proc_root, &records, &n_records);
                if (r < 0)
                        return r;
        }
        r = model_attach_holders(m, records, n_records);
        holder_records_free(records, n_records);
        return r;
}

/* ---- scanning ----------------------------------------------------------------------------------------------- */

typedef char AddressName[PCI_ADDRESS_STRLEN];

static int address_compare(const void *a, const void *b) {
        return strcmp(a, b);
}

/* Reading devices is a dozen syscalls each; spread large trees over a few threads. */
#define SCAN_THREADS_MAX 4
#define SCAN_DEVICES_PER_THREAD 256

typedef struct ScanJob {
        int bus_fd;
        const AddressName *names;
        Device *devices;
        int *results;
        size_t begin, end;
        int error; /* -ENOMEM only: everything else is a skipped device */
} ScanJob;

static void *scan_job_run(void *userdata) {
        ScanJob *job = userdata;
        _cleanup_free_ Scratch *scratch = malloc(sizeof(Scratch));

        if (!scratch) {
                job->error = -ENOMEM;
                return NULL;
        }
        for (size_t i = job->begin; i < job->end; i++) {
                job->results[i] = device_read(job->bus_fd, job->names[i], NULL, scratch, &job->devices[i]);
                if (job->results[i] == -ENOMEM) {
                        job->error = -ENOMEM;
                        return NULL;
                }
        }
        return NULL;
}

static int read_devices(int bus_fd, const AddressName *names, size_t n, Device *devices, int *results) {
        ScanJob jobs[SCAN_THREADS_MAX] = {};
        pthread_t threads[SCAN_THREADS_MAX];
        bool started[SCAN_THREADS_MAX] = {};
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        size_t n_jobs = n / SCAN_DEVICES_PER_THREAD;
        int r = 0;

        if (n_jobs > SCAN_THREADS_MAX)
                n_jobs = SCAN_THREADS_MAX;
        if (cpus > 0 && n_jobs > (size_t) cpus)
                n_jobs = (size_t) cpus;
        if (n_jobs < 1)
                n_jobs = 1;

        for (size_t j = 0; j < n_jobs; j++)
                jobs[j] = (ScanJob) {
                        .bus_fd = bus_fd,
                        .names = names,
                        .devices = devices,
                        .results = results,
                        .begin = n * j / n_jobs,
                        .end = n * (j + 1) / n_jobs,
                };

        /* Job 0 runs here; the others on small-stack threads (device_read's buffers are on the heap). When a thread
         * cannot be started, its share runs here too. */
        pthread_attr_t attr;
        bool have_attr = pthread_attr_init(&attr) == 0;
        if (have_attr)
                (void) pthread_attr_setstacksize(&attr, 64 * 1024);
        for (size_t j = 1; j < n_jobs; j++)
                started[j] = pthread_create(&threads[j], have_attr ? &attr : NULL, scan_job_run, &jobs[j]) == 0;
        if (have_attr)
                (void) pthread_attr_destroy(&attr);

        (void) scan_job_run(&jobs[0]);
        for (size_t j = 1; j < n_jobs; j++) {
                if (started[j])
                        (void) pthread_join(threads[j], NULL);
                else
                        (void) scan_job_run(&jobs[j]);
        }

        for (size_t j = 0; j < n_jobs; j++)
                if (jobs[j].error < 0)
                        r = jobs[j].error;
        return r;
}

static int scan_devices(Model *m) {
        _cleanup_free_ AddressName *names = NULL;
        _cleanup_free_ uint8_t *dents = NULL;
        _cleanup_free_ int *results = NULL;
        _cleanup_close_ int sysfs_fd = -EBADF, bus_fd = -EBADF;
        const struct dirent64 *de;
        Device *devices = NULL;
        size_t n_names = 0, allocated = 0, skipped = 0, n = 0;
        int r;

        sysfs_fd = open(m->sysfs_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sysfs_fd < 0)
                return -errno;
        dents = malloc(DENTS_BUF_SIZE);
        if (!dents)
                return -ENOMEM;

        bus_fd = openat(sysfs_fd, "bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bus_fd < 0 && errno != ENOENT)
                return -errno;

        /* List first, read later: the listing is sorted once, so the devices come out in address order. */
        DirIter it = { .fd = bus_fd, .buf = dents };
        while (bus_fd >= 0 && (de = dir_next(&it))) {
                if (!pci_address_is_valid(de->d_name)) {
                        skipped++;
                        continue;
                }
                if (n_names == allocated) {
                        size_t want = allocated ? allocated * 2 : 256;
                        AddressName *p = reallocarray(names, want, sizeof(AddressName));
                        if (!p)
                                return -ENOMEM;
                        names = p;
                        allocated = want;
                }
                memcpy(names[n_names++], de->d_name, PCI_ADDRESS_STRLEN);
        }
        if (it.error < 0)
                return it.error;
        qsort_safe(names, n_names, sizeof(AddressName), address_compare);

        if (n_names > 0) {
                devices = calloc(n_names, sizeof(Device));
                results = calloc(n_names, sizeof(int));
                if (!devices || !results) {
                        free(devices);
                        return -ENOMEM;
                }
                r = read_devices(bus_fd, names, n_names, devices, results);
                if (r < 0) {
                        for (size_t i = 0; i < n_names; i++)
                                device_done(&devices[i]);
                        free(devices);
                        return r;
                }
        }

        /* Close the gaps left by devices that were gone or unreadable. */
        for (size_t i = 0; i < n_names; i++) {
                if (results[i] < 0) {
                        skipped++;
                        continue;
                }
                if (n != i)
                        devices[n] = devices[i];
                n++;
        }

        /* Groups come from each device's own iommu_group link. Listing kernel/iommu_groups as well to cross-check
         * them cost a tenth of the scan and could only find races with hotplug, which the uevents that follow
         * repair anyway. */
        m->devices = devices;
        m->n_devices = n;
        m->n_skipped = skipped;
        return 0;
}

int model_scan(const char *sysfs_root, const char *proc_root, const char *kernel_release, Model **ret) {
        _cleanup_model_ Model *m = NULL;
        struct utsname u;
        int r;

        if (!sysfs_root || !ret)
                return -EINVAL;

        r = model_new_empty(&m);
        if (r < 0)
                return r;
        m->sysfs_root = strdup(sysfs_root);
        if (!m->sysfs_root)
                return -ENOMEM;
        if (proc_root) {
                m->proc_root = strdup(proc_root);
                if (!m->proc_root)
                        return -ENOMEM;
        }

        if (!kernel_release) {
                if (uname(&u) < 0)
                        return negative_errno();
                kernel_release = u.release;
        }
        m->kernel_dma_ownership = kernel_release_has_dma_ownership(kernel_release);

        r = scan_devices(m);
        if (r < 0)
                return r;
        r = model_index(m);
        if (r < 0)
                return r;
        r = model_refresh_holders(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int model_rescan(Model *m) {
        _cleanup_model_ Model *fresh = NULL;
        int r;

        if (!m || !m->sysfs_root)
                return -EINVAL;

        r = model_scan(m->sysfs_root, m->proc_root, NULL, &fresh);
        if (r < 0)
                return r;
        /* The release cannot change under a running daemon; keep whatever the first scan was told. */
        fresh->kernel_dma_ownership = m->kernel_dma_ownership;

        /* Both device lists are sorted: carry pins over in one pass. */
        for (size_t i = 0, j = 0; i < fresh->n_devices && j < m->n_devices;) {
                int c = strcmp(fresh->devices[i].id.address, m->devices[j].id.address);
                if (c < 0)
                        i++;
                else if (c > 0)
                        j++;
                else {
                        fresh->devices[i].pinned = m->devices[j].pinned &&
                                                   streq_ptr(fresh->devices[i].driver_override,
                                                             m->devices[j].driver_override);
                        i++;
                        j++;
                }
        }

        Model old = *m;
        *m = *fresh;
        *fresh = old;
        return 0;
}

/* ---- refreshing one device ---------------------------------------------------------------------------------- */

static void members_remove(Group *g, size_t index) {
        for (size_t k = 0; k < g->n_members; k++)
                if (g->members[k] == index) {
                        memmove(g->members + k, g->members + k + 1, (g->n_members - k - 1) * sizeof(size_t));
                        g->n_members--;
                        return;
                }
}

/* `g->members` must have room for one more (reserved beforehand). */
static void members_insert(Group *g, size_t index) {
        size_t k = 0;
        while (k < g->n_members && g->members[k] < index)
                k++;
        memmove(g->members + k + 1, g->members + k, (g->n_members - k) * sizeof(size_t));
        g->members[k] = index;
        g->n_members++;
}

/* Take `index` out of group `number`, dropping the group when it empties (as the kernel frees it). */
static void group_detach(Model *m, int64_t number, size_t index) {
        bool found;
        size_t g = group_position(m, number, &found);

        if (!found)
                return;
        members_remove(&m->groups[g], index);
        if (m->groups[g].n_members > 0) {
                group_update_owner(m, &m->groups[g]);
                return;
        }
        group_done(&m->groups[g]);
        memmove(m->groups + g, m->groups + g + 1, (m->n_groups - g - 1) * sizeof(Group));
        m->n_groups--;
}

/* Make room to attach one device to group `number`: a slot in its member list, or a new group. Nothing visible
 * changes; on success *ret_members is a fresh member array for a group that does not exist yet (else NULL). */
static int group_reserve(Model *m, int64_t number, size_t **ret_members) {
        bool found;
        size_t g = group_position(m, number, &found);

        *ret_members = NULL;
        if (found) {
                size_t *n = reallocarray(m->groups[g].members, m->groups[g].n_members + 1, sizeof(size_t));
                if (!n)
                        return -ENOMEM;
                m->groups[g].members = n;
                return 0;
        }

        Group *groups = reallocarray(m->groups, m->n_groups + 1, sizeof(Group));
        if (!groups)
                return -ENOMEM;
        m->groups = groups;
        *ret_members = malloc(sizeof(size_t));
        return *ret_members ? 0 : -ENOMEM;
}

/* Infallible once group_reserve() succeeded for `number`. */
static void group_attach(Model *m, int64_t number, size_t index, size_t *new_members) {
        bool found;
        size_t g = group_position(m, number, &found);

        if (!found) {
                memmove(m->groups + g + 1, m->groups + g, (m->n_groups - g) * sizeof(Group));
                m->groups[g] = (Group) { .number = (unsigned) number, .members = new_members };
                m->n_groups++;
        } else
                free(new_members);
        members_insert(&m->groups[g], index);
        group_update_owner(m, &m->groups[g]);
}

static void members_shift(Model *m, size_t from, bool up) {
        for (size_t g = 0; g < m->n_groups; g++)
                for (size_t k = 0; k < m->groups[g].n_members; k++) {
                        size_t *i = &m->groups[g].members[k];
                        if (up && *i >= from)
                                (*i)++;
                        else if (!up && *i > from)
                                (*i)--;
                }
}

int model_refresh_device(Model *m, const char *address) {
        _cleanup_(device_done) Device fresh = {};
        _cleanup_free_ Scratch *scratch = NULL;
        _cleanup_close_ int bus_fd = -EBADF;
        size_t *new_members = NULL;
        bool exists, found;
        int r;

        if (!m || !m->sysfs_root || !pci_address_is_valid(address))
                return -EINVAL;

        scratch = malloc(sizeof(Scratch));
        if (!scratch)
                return -ENOMEM;

        _cleanup_close_ int sysfs_fd = open(m->sysfs_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sysfs_fd < 0)
                return -errno;
        bus_fd = openat(sysfs_fd, "bus/pci/devices", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (bus_fd < 0 && errno != ENOENT)
                return -errno;

        size_t pos = device_position(m, address, &found);

        r = bus_fd < 0 ? -ENOENT : device_read(bus_fd, address, found ? &m->devices[pos] : NULL, scratch, &fresh);
        if (r == -ENOMEM)
                return r;
        exists = r >= 0;

        if (!exists) {
                if (!found)
                        return 0;
                /* Removed: out of its group first, then out of the array. */
                Device *old = &m->devices[pos];
                if (old->id.iommu_group >= 0)
                        group_detach(m, old->id.iommu_group, pos);
                device_done(old);
                memmove(m->devices + pos, m->devices + pos + 1, (m->n_devices - pos - 1) * sizeof(Device));
                m->n_devices--;
                members_shift(m, pos, false);
                return 0;
        }

        if (!found) {
                r = devices_reserve(m, 1);
                if (r < 0)
                        return r;
                if (fresh.id.iommu_group >= 0) {
                        r = group_reserve(m, fresh.id.iommu_group, &new_members);
                        if (r < 0)
                                return r;
                }
                members_shift(m, pos, true);
                memmove(m->devices + pos + 1, m->devices + pos, (m->n_devices - pos) * sizeof(Device));
                m->devices[pos] = fresh;
                fresh = (Device) {};
                m->n_devices++;
                if (m->devices[pos].id.iommu_group >= 0)
                        group_attach(m, m->devices[pos].id.iommu_group, pos, new_members);
                return 0;
        }

        Device *old = &m->devices[pos];
        int64_t old_group = old->id.iommu_group, new_group = fresh.id.iommu_group;

        if (new_group >= 0 && new_group != old_group) {
                r = group_reserve(m, new_group, &new_members);
                if (r < 0)
                        return r;
        }

        fresh.pinned = old->pinned && streq_ptr(old->driver_override, fresh.driver_override);
        device_done(old);
        *old = fresh;
        fresh = (Device) {};

        if (new_group != old_group) {
                if (old_group >= 0)
                        group_detach(m, old_group, pos);
                if (new_group >= 0)
                        group_attach(m, new_group, pos, new_members);
        } else if (new_group >= 0) {
                /* Same group: only its owner can have changed (a bind or an unbind). */
                size_t g = group_position(m, new_group, &found);
                if (found)
                        group_update_owner(m, &m->groups[g]);
        }
        return 0;
}

/* ---- comparing ---------------------------------------------------------------------------------------------- */

static bool device_equal(const Device *a, const Device *b) {
        if (strcmp(a->id.address, b->id.address) != 0 || a->id.vendor != b->id.vendor || a->id.device != b->id.device ||
            a->id.subsystem_vendor != b->id.subsystem_vendor || a->id.subsystem_device != b->id.subsystem_device ||
            a->id.class != b->id.class || a->id.iommu_group != b->id.iommu_group)
                return false;
        if (a->header_type != b->header_type || a->is_bridge != b->is_bridge || a->multifunction != b->multifunction ||
            a->is_virtfn != b->is_virtfn || strcmp(a->physfn, b->physfn) != 0 || a->sriov_numvfs != b->sriov_numvfs)
                return false;
        if (!streq_ptr(a->driver, b->driver) || !streq_ptr(a->driver_override, b->driver_override) ||
            !streq_ptr(a->vfio_cdev, b->vfio_cdev))
                return false;
        if (a->n_net != b->n_net)
                return false;
        for (size_t i = 0; i < a->n_net; i++)
                if (strcmp(a->net[i].name, b->net[i].name) != 0)
                        return false;
        return true;
}

static bool group_equal(const Group *a, const Group *b) {
        if (a->number != b->number || a->n_members != b->n_members || a->owner != b->owner ||
            a->n_holders != b->n_holders)
                return false;
        if (a->n_members > 0 && memcmp(a->members, b->members, a->n_members * sizeof(size_t)) != 0)
                return false;
        /* Holders are kept sorted by pid (model_add_holder may append out of order: compare as multisets). */
        for (size_t i = 0; i < a->n_holders; i++) {
                size_t in_a = 0, in_b = 0;
                for (size_t j = 0; j < a->n_holders; j++) {
                        in_a += a->holders[j].pid == a->holders[i].pid;
                        in_b += b->holders[j].pid == a->holders[i].pid;
                }
                if (in_a != in_b)
                        return false;
        }
        return true;
}

bool model_equal(const Model *a, const Model *b) {
        if (a == b)
                return true;
        if (!a || !b || a->n_devices != b->n_devices || a->n_groups != b->n_groups)
                return false;
        for (size_t i = 0; i < a->n_devices; i++)
                if (!device_equal(&a->devices[i], &b->devices[i]))
                        return false;
        for (size_t i = 0; i < a->n_groups; i++)
                if (!group_equal(&a->groups[i], &b->groups[i]))
                        return false;
        return true;
}
