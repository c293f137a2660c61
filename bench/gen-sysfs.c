/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* gen-sysfs DIR --devices N --groups G: write a synthetic sysfs tree of N PCI devices in G IOMMU groups at DIR, laid
 * out as tests/lib/sysfs-tree lays out the kernel's, for the scan benchmark.
 * gen-sysfs DIR --from FILE: write the devices a topology file lists instead (the demo's machine), one per line:
 *
 *   ADDRESS VENDOR DEVICE CLASS HEADER GROUP DRIVER [net=IFNAME]… [physfn=ADDRESS] [numvfs=N] [override=DRIVER]
 *                                                  [cdev=vfioN] [subsystem=VVVV:DDDD]
 *
 * with VENDOR, DEVICE, CLASS and HEADER in hex (HEADER with bit 7 for multifunction), GROUP a decimal number or "-"
 * for none, DRIVER a driver name or "-" for unbound; '#' starts a comment.
 *
 * The groups cycle through four shapes real machines have, so the scan meets every kind of member:
 *   - a PCIe port (bridge, pcieport) with NICs behind it, as when the port lacks ACS;
 *   - a multifunction GPU: function 0 VGA (amdgpu), function 1 HDMI audio (snd_hda_intel), then USB controllers;
 *   - an SR-IOV PF (ice) with its VFs (iavf, some unbound) sharing its group;
 *   - NVMe controllers, one of them left to vfio-pci with a cdev, the others on nvme.
 * Members are spread as evenly as N/G allows. DIR must not exist, or be an empty directory. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dma-ownerd/macro.h"
#include "dma-ownerd/pci-address.h"
#include "sysfs-tree.h"

typedef enum GroupShape {
        SHAPE_BRIDGE,
        SHAPE_MULTIFUNCTION,
        SHAPE_SRIOV,
        SHAPE_NVME,
        _SHAPE_MAX,
} GroupShape;

/* Hands out PCI addresses slot by slot: every group starts on a fresh slot, functions 0..7 fill it. Buses and then
 * domains advance as slots run out, so 16-bit domains hold far more devices than any benchmark asks for. */
typedef struct AddressCursor {
        unsigned long slot; /* running slot number */
        unsigned function;
} AddressCursor;

static void cursor_next_slot(AddressCursor *c) {
        c->slot++;
        c->function = 0;
}

static int cursor_take(AddressCursor *c, char ret[static PCI_ADDRESS_STRLEN], unsigned *ret_function) {
        if (c->function > 7)
                cursor_next_slot(c);
        unsigned long domain = c->slot / (256 * 32), bus = (c->slot / 32) % 256, dev = c->slot % 32;
        if (domain > 0xffff)
                return -ERANGE;
        (void) snprintf(ret, PCI_ADDRESS_STRLEN, "%04lx:%02lx:%02lx.%u", domain, bus, dev, c->function);
        *ret_function = c->function++;
        return 0;
}

static int add_group(const char *root, AddressCursor *cursor, unsigned long group, size_t members,
                     unsigned long *iface_counter) {
        GroupShape shape = (GroupShape) (group % _SHAPE_MAX);
        char first[PCI_ADDRESS_STRLEN] = "";
        int r;

        if (cursor->slot > 0 || cursor->function > 0)
                cursor_next_slot(cursor);

        for (size_t i = 0; i < members; i++) {
                char address[PCI_ADDRESS_STRLEN], ifname[16], cdev[32];
                unsigned function;
                TreeDevice d = {
                        .group = (int64_t) group,
                        .subsystem_vendor = 0x1028,
                        .subsystem_device = (uint16_t) (0x0100 + shape),
                };

                r = cursor_take(cursor, address, &function);
                if (r < 0)
                        return r;
                d.address = address;
                if (i == 0)
                        memcpy(first, address, sizeof(first));

                switch (shape) {
                case SHAPE_BRIDGE:
                        if (i == 0) {
                                d.vendor = 0x8086, d.device = 0x7ab8, d.class = 0x060400;
                                d.header_type = 0x01, d.driver = "pcieport";
                        } else {
                                d.vendor = 0x8086, d.device = 0x10d3, d.class = 0x020000, d.driver = "e1000e";
                                (void) snprintf(ifname, sizeof(ifname), "enp%lu", (*iface_counter)++ % 100000);
                                d.net[0] = ifname;
                        }
                        break;

                case SHAPE_MULTIFUNCTION:
                        d.vendor = 0x1002;
                        if (function == 0 && i == 0) {
                                d.device = 0x73bf, d.class = 0x030000, d.driver = "amdgpu";
                        } else if (i == 1) {
                                d.device = 0xab28, d.class = 0x040300, d.driver = "snd_hda_intel";
                        } else {
                                d.device = 0x43d5, d.class = 0x0c0330, d.driver = "xhci_hcd";
                        }
                        /* Bit 7 on function 0 of every slot that holds more than one function. */
                        if (function == 0 && i + 1 < members)
                                d.header_type = 0x80;
                        break;

                case SHAPE_SRIOV:
                        d.vendor = 0x8086;
                        if (i == 0) {
                                d.device = 0x1592, d.class = 0x020000, d.driver = "ice";
                                d.sriov_numvfs = (unsigned) (members - 1);
                                (void) snprintf(ifname, sizeof(ifname), "ens%lu", (*iface_counter)++ % 100000);
                                d.net[0] = ifname;
                        } else {
                                d.device = 0x1889, d.class = 0x020000, d.physfn = first;
                                d.driver = i % 3 == 0 ? NULL : "iavf";
                        }
                        break;

                case SHAPE_NVME:
                        d.vendor = 0x144d, d.device = 0xa808, d.class = 0x010802;
                        if (i == 0 && group % 8 == 3) {
                                d.driver = "vfio-pci";
                                (void) snprintf(cdev, sizeof(cdev), "vfio%lu", group);
                                d.vfio_cdev = cdev;
                        } else
                                d.driver = "nvme";
                        break;

                default:
                        return -EINVAL;
                }

                r = sysfs_tree_add_device(root, &d);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_count(const char *s, unsigned long max, unsigned long *ret) {
        char *end;

        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Strings of one topology line; TreeDevice points into it. */
typedef struct TopologyLine {
        char address[PCI_ADDRESS_STRLEN];
        char driver[DRIVER_NAME_MAX + 1];
        char override[DRIVER_NAME_MAX + 1];
        char physfn[PCI_ADDRESS_STRLEN];
        char net[3][16];
        char cdev[32];
} TopologyLine;

static int parse_hex(const char *s, uint32_t max, uint32_t *ret) {
        char *end;

        errno = 0;
        unsigned long v = strtoul(s, &end, 16);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int copy_checked(char *dst, size_t size, const char *src, bool (*valid)(const char *)) {
        if (!valid(src) || strlen(src) >= size)
                return -EINVAL;
        memcpy(dst, src, strlen(src) + 1);
        return 0;
}

static bool cdev_is_valid(const char *s) {
        if (!s || strncmp(s, "vfio", 4) != 0 || !s[4] || strlen(s) > 14)
                return false;
        for (const char *p = s + 4; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

/* Parse one non-empty line into `d` (pointing into `t`). Returns 0 or -EINVAL with *ret_what naming the bad field. */
static int parse_topology_line(char *line, TopologyLine *t, TreeDevice *d, const char **ret_what) {
        char *fields[7], *save = NULL, *tok;
        uint32_t v;
        size_t n = 0, n_net = 0;

        *t = (TopologyLine) {};
        *d = (TreeDevice) { .group = -1 };

        while (n < ELEMENTSOF(fields) && (tok = strtok_r(n == 0 ? line : NULL, " \t", &save)))
                fields[n++] = tok;
        if (n < ELEMENTSOF(fields)) {
                *ret_what = "line (expected at least 7 fields)";
                return -EINVAL;
        }

        *ret_what = "address";
        if (copy_checked(t->address, sizeof(t->address), fields[0], pci_address_is_valid) < 0)
                return -EINVAL;
        d->address = t->address;

        *ret_what = "vendor";
        if (parse_hex(fields[1], 0xffff, &v) < 0)
                return -EINVAL;
        d->vendor = (uint16_t) v;
        *ret_what = "device";
        if (parse_hex(fields[2], 0xffff, &v) < 0)
                return -EINVAL;
        d->device = (uint16_t) v;
        *ret_what = "class";
        if (parse_hex(fields[3], 0xffffff, &v) < 0)
                return -EINVAL;
        d->class = v;
        *ret_what = "header type";
        if (parse_hex(fields[4], 0xff, &v) < 0)
                return -EINVAL;
        d->header_type = (uint8_t) v;

        *ret_what = "group";
        if (strcmp(fields[5], "-") != 0) {
                unsigned long g;
                if (parse_count(fields[5], INT32_MAX, &g) < 0)
                        return -EINVAL;
                d->group = (int64_t) g;
        }

        *ret_what = "driver";
        if (strcmp(fields[6], "-") != 0) {
                if (copy_checked(t->driver, sizeof(t->driver), fields[6], driver_name_is_valid) < 0)
                        return -EINVAL;
                d->driver = t->driver;
        }

        while ((tok = strtok_r(NULL, " \t", &save))) {
                *ret_what = tok;
                if (strncmp(tok, "net=", 4) == 0) {
                        if (n_net >= ELEMENTSOF(t->net) ||
                            copy_checked(t->net[n_net], sizeof(t->net[n_net]), tok + 4, ifname_is_valid) < 0)
                                return -EINVAL;
                        d->net[n_net] = t->net[n_net];
                        n_net++;
                } else if (strncmp(tok, "physfn=", 7) == 0) {
                        if (copy_checked(t->physfn, sizeof(t->physfn), tok + 7, pci_address_is_valid) < 0)
                                return -EINVAL;
                        d->physfn = t->physfn;
                } else if (strncmp(tok, "numvfs=", 7) == 0) {
                        unsigned long numvfs;
                        if (parse_count(tok + 7, 4096, &numvfs) < 0)
                                return -EINVAL;
                        d->sriov_numvfs = (unsigned) numvfs;
                } else if (strncmp(tok, "override=", 9) == 0) {
                        if (copy_checked(t->override, sizeof(t->override), tok + 9, driver_name_is_valid) < 0)
                                return -EINVAL;
                        d->driver_override = t->override;
                } else if (strncmp(tok, "cdev=", 5) == 0) {
                        if (copy_checked(t->cdev, sizeof(t->cdev), tok + 5, cdev_is_valid) < 0)
                                return -EINVAL;
                        d->vfio_cdev = t->cdev;
                } else if (strncmp(tok, "subsystem=", 10) == 0) {
                        uint32_t sv, sd;
                        char *colon = strchr(tok + 10, ':');
                        if (!colon)
                                return -EINVAL;
                        *colon = '\0';
                        if (parse_hex(tok + 10, 0xffff, &sv) < 0 || parse_hex(colon + 1, 0xffff, &sd) < 0)
                                return -EINVAL;
                        d->subsystem_vendor = (uint16_t) sv;
                        d->subsystem_device = (uint16_t) sd;
                } else
                        return -EINVAL;
        }
        return 0;
}

static int add_topology(const char *root, const char *file, unsigned long *ret_devices) {
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned long n_line = 0, n_devices = 0;
        int r;

        if (!f) {
                r = negative_errno();
                fprintf(stderr, "cannot open %s: %s\n", file, strerror(-r));
                return r;
        }

        while (getline(&line, &size, f) >= 0) {
                TopologyLine t;
                TreeDevice d;
                const char *what = NULL;
                char *p;

                n_line++;
                p = strchr(line, '#');
                if (p)
                        *p = '\0';
                p = line + strspn(line, " \t\r\n");
                p[strcspn(p, "\r\n")] = '\0';
                if (!*p)
                        continue;

                r = parse_topology_line(p, &t, &d, &what);
                if (r < 0) {
                        fprintf(stderr, "%s:%lu: invalid %s\n", file, n_line, what);
                        return r;
                }
                r = sysfs_tree_add_device(root, &d);
                if (r < 0) {
                        fprintf(stderr, "%s:%lu: cannot add %s: %s\n", file, n_line, t.address, strerror(-r));
                        return r;
                }
                n_devices++;
        }

        *ret_devices = n_devices;
        return 0;
}

static void help(void) {
        printf("gen-sysfs DIR --devices N [--groups G]\n"
               "gen-sysfs DIR --from TOPOLOGY-FILE\n\n"
               "Write a synthetic sysfs tree at DIR (which must not exist or be empty): N PCI devices in G IOMMU\n"
               "groups (default N/4) cycling through bridges with NICs, multifunction GPUs, SR-IOV PFs with VFs and\n"
               "NVMe; or the devices a topology file lists, one per line:\n"
               "  ADDRESS VENDOR DEVICE CLASS HEADER GROUP|- DRIVER|- [net=IF]... [physfn=ADDR] [numvfs=N]\n"
               "                                              [override=DRV] [cdev=vfioN] [subsystem=VVVV:DDDD]\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "devices", required_argument, NULL, 'n' },
                { "groups", required_argument, NULL, 'g' },
                { "from", required_argument, NULL, 'f' },
                {}
        };
        unsigned long n_devices = 256, n_groups = 0, iface_counter = 0;
        const char *topology = NULL;
        _cleanup_free_ char *root = NULL, *parent_copy = NULL;
        AddressCursor cursor = {};
        int opt, r;

        while ((opt = getopt_long(argc, argv, "hn:g:f:", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'n':
                        if (parse_count(optarg, 1000000, &n_devices) < 0 || n_devices == 0) {
                                fprintf(stderr, "--devices: expected a count from 1 to 1000000, got \"%s\"\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case 'g':
                        if (parse_count(optarg, 1000000, &n_groups) < 0 || n_groups == 0) {
                                fprintf(stderr, "--groups: expected a count from 1 to 1000000, got \"%s\"\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case 'f':
                        topology = optarg;
                        break;
                default:
                        return EXIT_FAILURE;
                }

        if (optind + 1 != argc) {
                help();
                return EXIT_FAILURE;
        }
        const char *dir = argv[optind];
        if (n_groups == 0)
                n_groups = n_devices / 4 > 0 ? n_devices / 4 : 1;
        if (n_groups > n_devices) {
                fprintf(stderr, "--groups (%lu) cannot exceed --devices (%lu)\n", n_groups, n_devices);
                return EXIT_FAILURE;
        }

        /* The tree is built beside DIR and renamed into place: sysfs_tree_new() picks its own name under $TMPDIR, and
         * its links are relative, so the rename keeps them valid. */
        parent_copy = strdup(dir);
        if (!parent_copy)
                return EXIT_FAILURE;
        if (setenv("TMPDIR", dirname(parent_copy), 1) < 0)
                return EXIT_FAILURE;

        r = sysfs_tree_new(&root);
        if (r < 0) {
                fprintf(stderr, "cannot create a tree beside %s: %s\n", dir, strerror(-r));
                return EXIT_FAILURE;
        }

        if (topology) {
                r = add_topology(root, topology, &n_devices);
                if (r < 0) {
                        (void) sysfs_tree_destroy(root);
                        return EXIT_FAILURE;
                }
        } else
                for (unsigned long g = 0; g < n_groups; g++) {
                        size_t members = n_devices / n_groups + (g < n_devices % n_groups ? 1 : 0);

                        r = add_group(root, &cursor, g, members, &iface_counter);
                        if (r < 0) {
                                fprintf(stderr, "cannot add group %lu to %s: %s\n", g, root, strerror(-r));
                                (void) sysfs_tree_destroy(root);
                                return EXIT_FAILURE;
                        }
                }

        if (rename(root, dir) < 0) {
                fprintf(stderr, "cannot move %s to %s: %m\n", root, dir);
                (void) sysfs_tree_destroy(root);
                return EXIT_FAILURE;
        }
        (void) chmod(dir, 0755); /* mkdtemp() made it 0700; the daemon may read it as another user */

        if (topology)
                printf("%s: %lu devices from %s\n", dir, n_devices, topology);
        else
                printf("%s: %lu devices in %lu groups\n", dir, n_devices, n_groups);
        return EXIT_SUCCESS;
}
