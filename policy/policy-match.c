/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Questions asked of a policy on every event: which drivers may sit in a user-owned group, and which reservation
 * selects a device. Called per device per event, so integer comparisons come before any glob. */

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>

#include "policy-internal.h"
#include "policy.h"

/* Drivers that set driver_managed_dma in the kernel: they never claim kernel DMA ownership of a group, so they may
 * share a group with a vfio user. The vfio ones come first (see POLICY_N_VFIO_DRIVERS). */
const char *const policy_builtin_drivers[] = {
        "vfio-pci",
        "*-vfio-pci",
        "*_vfio_pci",
        "pci-stub",
        "pcieport",
};
const size_t policy_n_builtin_drivers = ELEMENTSOF(policy_builtin_drivers);

/* '*' and '?' only: backtracking to the last '*' suffices, since a later '*' can absorb anything an earlier one
 * would have. Matches exactly what fnmatch(…, 0) matches for such patterns over ASCII strings. */
static bool glob_match_simple(const char *p, const char *s) {
        const char *star = NULL, *resume = NULL;

        while (*s) {
                if (*p == '*') {
                        star = p++;
                        resume = s;
                } else if (*p != '\0' && (*p == '?' || *p == *s)) {
                        p++;
                        s++;
                } else if (star) {
                        p = star + 1;
                        s = ++resume;
                } else
                        return false;
        }
        while (*p == '*')
                p++;
        return *p == '\0';
}

static bool glob_is_simple(const char *pattern) {
        return !strpbrk(pattern, "[\\");
}

static bool string_is_ascii(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s >= 0x80)
                        return false;
        return true;
}

/* For strings known to be ASCII (validated driver names and addresses). */
static bool glob_match_ascii(const char *pattern, const char *s) {
        if (!glob_is_simple(pattern))
                return fnmatch(pattern, s, 0) == 0;
        return glob_match_simple(pattern, s);
}

bool policy_glob_match(const char *pattern, const char *s) {
        /* In a multibyte locale fnmatch's '?' is one character, not one byte: leave such strings to libc. */
        if (!string_is_ascii(s))
                return fnmatch(pattern, s, 0) == 0;
        return glob_match_ascii(pattern, s);
}

static bool has_suffix(const char *s, size_t len, const char *suffix, size_t suffix_len) {
        return len >= suffix_len && memcmp(s + len - suffix_len, suffix, suffix_len) == 0;
}

/* The built-in set spelled out (it is asked about every member of every group an event touches): the same answers
 * as matching policy_builtin_drivers[0..n) as globs, which test-policy checks. */
static bool match_builtin(const char *driver, size_t n) {
        size_t len;

        if (!driver_name_is_valid(driver))
                return false;
        len = strlen(driver);
        if (streq(driver, "vfio-pci") || has_suffix(driver, len, "-vfio-pci", 9) ||
            has_suffix(driver, len, "_vfio_pci", 9))
                return true;
        return n > POLICY_N_VFIO_DRIVERS && (streq(driver, "pci-stub") || streq(driver, "pcieport"));
}

bool driver_manages_dma(const char *driver) {
        return match_builtin(driver, policy_n_builtin_drivers);
}

bool driver_is_vfio(const char *driver) {
        return match_builtin(driver, POLICY_N_VFIO_DRIVERS);
}

/* `driver` has passed driver_name_is_valid(): printable ASCII. */
static const DriverGlob *find_glob(const DriverGlob *l, size_t n, const char *driver) {
        for (size_t i = 0; i < n; i++)
                if (glob_match_ascii(l[i].pattern, driver))
                        return &l[i];
        return NULL;
}

DriverVerdict policy_driver_verdict(const Policy *p, const char *driver, const SourceMark **ret_mark) {
        const DriverGlob *g = NULL;
        DriverVerdict v = DRIVER_NOT_ALLOWED;

        if (driver_name_is_valid(driver)) {
                g = find_glob(p->denied_drivers, p->n_denied_drivers, driver);
                if (g)
                        v = DRIVER_DENIED;
                else {
                        g = find_glob(p->allowed_drivers, p->n_allowed_drivers, driver);
                        if (g)
                                v = DRIVER_ALLOWED;
                }
        }
        if (ret_mark)
                *ret_mark = g ? &g->mark : NULL;
        return v;
}

/* Everything but the address glob. */
static bool device_match_ids(const DeviceMatch *m, const PciIdentity *id) {
        if (m->vendor >= 0 && (uint32_t) m->vendor != id->vendor)
                return false;
        if (m->device >= 0 && (uint32_t) m->device != id->device)
                return false;
        if (m->subsystem_vendor >= 0 && (uint32_t) m->subsystem_vendor != id->subsystem_vendor)
                return false;
        if (m->subsystem_device >= 0 && (uint32_t) m->subsystem_device != id->subsystem_device)
                return false;
        if (m->has_class && ((id->class ^ m->class_value) & m->class_mask) != 0)
                return false;
        if (m->iommu_group >= 0 && m->iommu_group != id->iommu_group)
                return false;
        return true;
}

bool device_match(const DeviceMatch *m, const PciIdentity *id) {
        if (!device_match_ids(m, id))
                return false;
        return !m->address_glob || policy_glob_match(m->address_glob, id->address);
}

/* ---- the reservation index ------------------------------------------------------------------------------------
 *
 * Every reservation goes into exactly one candidate list: by its IOMMU group when it names one, else by its vendor
 * when it names one, else into the list of the rest. A rule in the list of group G can only select devices in G, one
 * in the list of vendor V only devices of V; so the rules that can select a device are the union of three lists: its
 * group's, its vendor's and the rest. Each list keeps merge order, and walking the three together in rule order
 * finds the first rule that matches, exactly as trying every rule in order does. */

typedef enum IndexKind {
        INDEX_GROUP,
        INDEX_VENDOR,
        INDEX_REST,
} IndexKind;

typedef struct IndexEntry {
        uint64_t key;        /* kind << 32 | group or vendor */
        uint32_t rule;       /* index into reservations */
        uint8_t prefix_len;  /* literal characters the address glob starts with: compared before any glob work */
        bool glob_simple;    /* the address glob has only '*' and '?' */
} IndexEntry;

typedef struct PolicyIndex {
        /* What it was built for: a policy whose array changed without a rebuild is matched linearly. */
        const Reservation *reservations;
        size_t n_reservations;
        IndexEntry *entries; /* sorted by key, then rule */
        size_t n_entries;
        size_t rest_begin, rest_end; /* the entries of the rest */
} PolicyIndex;

static uint64_t index_key(IndexKind kind, uint32_t value) {
        return (uint64_t) kind << 32 | value;
}

static int index_entry_compare(const void *a, const void *b) {
        const IndexEntry *x = a, *y = b;

        if (x->key != y->key)
                return x->key < y->key ? -1 : 1;
        return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void index_range(const PolicyIndex *index, uint64_t key, size_t *ret_begin, size_t *ret_end);

void policy_index_free(PolicyIndex *index) {
        if (!index)
                return;
        free(index->entries);
        free(index);
}

int policy_index_rebuild(Policy *p) {
        PolicyIndex *index;

        if (!p)
                return -EINVAL;
        policy_index_free(p->index);
        p->index = NULL;
        if (p->n_reservations == 0 || p->n_reservations > UINT32_MAX)
                return 0;

        index = calloc(1, sizeof(PolicyIndex));
        if (!index)
                return -ENOMEM;
        index->entries = calloc(p->n_reservations, sizeof(IndexEntry));
        if (!index->entries) {
                free(index);
                return -ENOMEM;
        }

        for (size_t i = 0; i < p->n_reservations; i++) {
                const DeviceMatch *m = &p->reservations[i].match;
                uint64_t key;

                if (m->iommu_group >= 0 && m->iommu_group <= UINT32_MAX)
                        key = index_key(INDEX_GROUP, (uint32_t) m->iommu_group);
                else if (m->vendor >= 0)
                        key = index_key(INDEX_VENDOR, (uint32_t) m->vendor);
                else
                        key = index_key(INDEX_REST, 0);
                index->entries[i] = (IndexEntry) { .key = key, .rule = (uint32_t) i };
                if (m->address_glob) {
                        size_t prefix = strcspn(m->address_glob, "*?[\\");
                        index->entries[i].prefix_len = (uint8_t) (prefix < UINT8_MAX ? prefix : UINT8_MAX);
                        index->entries[i].glob_simple = glob_is_simple(m->address_glob);
                }
        }
        qsort(index->entries, p->n_reservations, sizeof(IndexEntry), index_entry_compare);

        index->n_entries = p->n_reservations;
        index_range(index, index_key(INDEX_REST, 0), &index->rest_begin, &index->rest_end);
        index->reservations = p->reservations;
        index->n_reservations = p->n_reservations;
        p->index = index;
        return 0;
}

/* The entries with this key: [*ret_begin, *ret_end). */
static void index_range(const PolicyIndex *index, uint64_t key, size_t *ret_begin, size_t *ret_end) {
        size_t lo = 0, hi = index->n_entries;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (index->entries[mid].key < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_begin = lo;
        while (lo < index->n_entries && index->entries[lo].key == key)
                lo++;
        *ret_end = lo;
}

static const Reservation *match_linear(const Policy *p, const PciIdentity *id) {
        for (size_t i = 0; i < p->n_reservations; i++)
                if (device_match(&p->reservations[i].match, id))
                        return &p->reservations[i];
        return NULL;
}

/* device_match() for an indexed rule, with the glob's literal prefix compared first. */
static bool entry_match(const Policy *p, const IndexEntry *e, const PciIdentity *id) {
        const DeviceMatch *m = &p->reservations[e->rule].match;

        if (!m->address_glob)
                return device_match_ids(m, id);
        /* The address is a valid one (see below): 12 characters, so a longer prefix cannot match it anyway. A loop,
         * not memcmp(): most rules differ from an address within its first seven characters, and the call costs
         * more than the comparison. */
        if (e->prefix_len > PCI_ADDRESS_STRLEN - 1)
                return false;
        for (size_t k = 0; k < e->prefix_len; k++)
                if (m->address_glob[k] != id->address[k])
                        return false;
        if (!device_match_ids(m, id))
                return false;
        return e->glob_simple ? glob_match_simple(m->address_glob, id->address)
                              : fnmatch(m->address_glob, id->address, 0) == 0;
}

const Reservation *policy_match_reservation(const Policy *p, const PciIdentity *id) {
        const PolicyIndex *index = p->index;
        size_t pos[3], end[3];

        /* Anything unusual (no index, a stale one, an address the model would never hold) takes the plain path. */
        if (!index || index->reservations != p->reservations || index->n_reservations != p->n_reservations ||
            !pci_address_is_valid(id->address))
                return match_linear(p, id);

        if (id->iommu_group >= 0 && id->iommu_group <= UINT32_MAX)
                index_range(index, index_key(INDEX_GROUP, (uint32_t) id->iommu_group), &pos[0], &end[0]);
        else
                pos[0] = end[0] = 0;
        index_range(index, index_key(INDEX_VENDOR, id->vendor), &pos[1], &end[1]);
        pos[2] = index->rest_begin;
        end[2] = index->rest_end;

        /* Merge the three lists in rule order; the first match is the first in merge order. */
        while (pos[0] < end[0] || pos[1] < end[1]) {
                size_t best = SIZE_MAX;
                uint32_t rule = UINT32_MAX;

                for (size_t k = 0; k < 3; k++)
                        if (pos[k] < end[k] && index->entries[pos[k]].rule < rule) {
                                rule = index->entries[pos[k]].rule;
                                best = k;
                        }
                if (best == SIZE_MAX)
                        return NULL;
                if (entry_match(p, &index->entries[pos[best]], id))
                        return &p->reservations[rule];
                pos[best]++;
        }
        /* Only "the rest" is left: in rule order already. */
        for (; pos[2] < end[2]; pos[2]++)
                if (entry_match(p, &index->entries[pos[2]], id))
                        return &p->reservations[index->entries[pos[2]].rule];
        return NULL;
}

const char *policy_mode_to_string(PolicyMode m) {
        switch (m) {
        case POLICY_MODE_ENFORCE:
                return "enforce";
        case POLICY_MODE_AUDIT:
                return "audit";
        }
        return NULL;
}

const char *violation_action_to_string(ViolationAction a) {
        switch (a) {
        case VIOLATION_UNBIND:
                return "unbind";
        case VIOLATION_LOG:
                return "log";
        }
        return NULL;
}
