/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-snapshot.h"
#include "dma-ownerd/macro.h"
#include "dma-ownerd/pci-address.h"

typedef struct Encoder {
        uint8_t *data;
        size_t size, allocated;
} Encoder;

static int encoder_put(Encoder *e, const void *p, size_t n) {
        if (n > SIZE_MAX - e->size)
                return -ENOMEM;
        if (e->size + n > e->allocated) {
                size_t a = e->allocated ? e->allocated : 64;
                while (a < e->size + n)
                        a *= 2;
                uint8_t *d = realloc(e->data, a);
                if (!d)
                        return -ENOMEM;
                e->data = d;
                e->allocated = a;
        }
        memcpy(e->data + e->size, p, n);
        e->size += n;
        return 0;
}

static int encoder_put_type(Encoder *e, char type) {
        return encoder_put(e, &type, 1);
}

/* Length-prefixed, so that neighbouring strings cannot trade bytes (["ab", "c"] differs from ["a", "bc"]). */
static int encoder_put_string(Encoder *e, const char *s) {
        size_t n = strlen(s);
        uint32_t len;
        int r;

        if (n > UINT32_MAX)
                return -E2BIG;
        len = (uint32_t) n;
        r = encoder_put(e, &len, sizeof(len));
        if (r < 0)
                return r;
        return encoder_put(e, s, n);
}

static size_t basic_size(char type) {
        switch (type) {
        case SD_BUS_TYPE_BYTE:
                return sizeof(uint8_t);
        case SD_BUS_TYPE_BOOLEAN:
                return sizeof(int); /* sd-bus reads a boolean into an int */
        case SD_BUS_TYPE_INT16:
        case SD_BUS_TYPE_UINT16:
                return sizeof(uint16_t);
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UINT32:
                return sizeof(uint32_t);
        case SD_BUS_TYPE_INT64:
        case SD_BUS_TYPE_UINT64:
        case SD_BUS_TYPE_DOUBLE:
                return sizeof(uint64_t);
        default:
                return 0; /* strings, and file descriptors, whose numbers say nothing about the value */
        }
}

/* One complete value at the read position: its type, then its bytes; a container's contents signature, its
 * elements and a 0 byte (no element starts with 0, so the end is unambiguous). */
static int encode_value(sd_bus_message *m, Encoder *e) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG; /* a getter appended nothing */

        r = encoder_put_type(e, type);
        if (r < 0)
                return r;

        switch (type) {
        case SD_BUS_TYPE_ARRAY:
        case SD_BUS_TYPE_VARIANT:
        case SD_BUS_TYPE_STRUCT:
        case SD_BUS_TYPE_DICT_ENTRY:
                r = encoder_put_string(e, contents);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                for (;;) {
                        r = sd_bus_message_at_end(m, false);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                break;
                        r = encode_value(m, e);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                return encoder_put_type(e, 0);

        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_OBJECT_PATH:
        case SD_BUS_TYPE_SIGNATURE: {
                const char *s;
                r = sd_bus_message_read_basic(m, type, &s);
                if (r < 0)
                        return r;
                return encoder_put_string(e, s);
        }

        default: {
                size_t n = basic_size(type);
                uint64_t v = 0; /* large enough for any fixed-size type */
                if (n == 0)
                        return -EOPNOTSUPP;
                r = sd_bus_message_read_basic(m, type, &v);
                if (r < 0)
                        return r;
                return encoder_put(e, &v, n);
        }
        }
}

static bool emits_change(const sd_bus_vtable *v) {
        return v->type == _SD_BUS_VTABLE_PROPERTY && (v->flags & SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE);
}

int bus_snapshot_take(sd_bus *bus, const sd_bus_vtable *vtable, const char *path, const char *interface,
                      void *userdata, BusSnapshot *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ uint8_t *data = NULL;
        BusSnapshot s = {};
        Encoder e = {};
        int r;

        /* Never sent: a scratch message the getters write into exactly as into a reply to Get. */
        r = sd_bus_message_new_signal(bus, &m, path, interface, "Snapshot");
        if (r < 0)
                return r;

        for (const sd_bus_vtable *v = vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (!emits_change(v))
                        continue;
                if (s.n_properties >= BUS_SNAPSHOT_PROPERTIES_MAX)
                        return -E2BIG;
                r = v->x.property.get(bus, path, interface, v->x.property.member, m,
                                      (uint8_t *) userdata + v->x.property.offset, &error);
                if (r < 0)
                        return r;
                if (sd_bus_error_is_set(&error))
                        return sd_bus_error_get_errno(&error) ?: -EIO;
                s.n_properties++;
        }

        r = sd_bus_message_seal(m, 1, 0);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(m, true);
        if (r < 0)
                return r;

        for (size_t i = 0; i < s.n_properties; i++) {
                r = encode_value(m, &e);
                if (r < 0) {
                        free(e.data);
                        return r;
                }
                if (e.size > UINT32_MAX) {
                        free(e.data);
                        return -E2BIG;
                }
                s.ends[i] = (uint32_t) e.size;
        }
        data = e.data;

        /* Keep only what the values take: many objects hold a snapshot at once. */
        if (e.size > 0) {
                uint8_t *shrunk = realloc(data, e.size);
                if (shrunk)
                        data = shrunk;
        } else {
                /* Unset means "never emitted": an interface without changing properties still gets a snapshot. */
                free(data);
                data = malloc(1);
                if (!data)
                        return -ENOMEM;
        }

        s.data = TAKE_PTR(data);
        *ret = s;
        return 0;
}

static const uint8_t *value_of(const BusSnapshot *s, size_t i, size_t *ret_size) {
        uint32_t start = i > 0 ? s->ends[i - 1] : 0;
        *ret_size = s->ends[i] - start;
        return s->data + start;
}

size_t bus_snapshot_diff(const sd_bus_vtable *vtable, const BusSnapshot *old, const BusSnapshot *now,
                         const char **ret_names) {
        size_t i = 0, n = 0;

        for (const sd_bus_vtable *v = vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (!emits_change(v))
                        continue;
                if (i >= now->n_properties)
                        break;

                bool differs = true;
                if (old->data && i < old->n_properties) {
                        size_t a, b;
                        const uint8_t *pa = value_of(old, i, &a), *pb = value_of(now, i, &b);
                        differs = a != b || memcmp(pa, pb, a) != 0;
                }
                if (differs)
                        ret_names[n++] = v->x.property.member;
                i++;
        }
        ret_names[n] = NULL;
        return n;
}

void bus_snapshot_done(BusSnapshot *s) {
        free(s->data);
        *s = (BusSnapshot) {};
}

/* ---- tables ---- */

static size_t table_position(const BusSnapshotTable *t, uint64_t key, bool *ret_found) {
        size_t lo = 0, hi = t->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (t->entries[mid].key < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = lo < t->n && t->entries[lo].key == key;
        return lo;
}

BusSnapshotEntry *bus_snapshot_table_find(BusSnapshotTable *t, uint64_t key) {
        bool found;
        size_t i = table_position(t, key, &found);
        return found ? &t->entries[i] : NULL;
}

int bus_snapshot_table_ensure(BusSnapshotTable *t, uint64_t key, BusSnapshotEntry **ret) {
        bool found;
        size_t i = table_position(t, key, &found);

        if (!found) {
                if (t->n == t->allocated) {
                        size_t a = t->allocated ? t->allocated * 2 : 16;
                        BusSnapshotEntry *p = reallocarray(t->entries, a, sizeof(BusSnapshotEntry));
                        if (!p)
                                return -ENOMEM;
                        t->entries = p;
                        t->allocated = a;
                }
                memmove(&t->entries[i + 1], &t->entries[i], (t->n - i) * sizeof(BusSnapshotEntry));
                t->entries[i] = (BusSnapshotEntry) { .key = key, .group = -1 };
                t->n++;
        }
        *ret = &t->entries[i];
        return 0;
}

/* Give memory back once most objects are gone, so the table stays proportional to what exists. */
static void table_shrink(BusSnapshotTable *t) {
        size_t a = t->allocated;

        while (a > 16 && t->n <= a / 4)
                a /= 2;
        if (a == t->allocated)
                return;
        BusSnapshotEntry *p = reallocarray(t->entries, a, sizeof(BusSnapshotEntry));
        if (p) { /* otherwise the larger block simply stays */
                t->entries = p;
                t->allocated = a;
        }
}

void bus_snapshot_table_remove(BusSnapshotTable *t, uint64_t key) {
        bool found;
        size_t i = table_position(t, key, &found);

        if (!found)
                return;
        bus_snapshot_done(&t->entries[i].snapshot);
        memmove(&t->entries[i], &t->entries[i + 1], (t->n - i - 1) * sizeof(BusSnapshotEntry));
        t->n--;
        table_shrink(t);
}

void bus_snapshot_table_clear_seen(BusSnapshotTable *t) {
        for (size_t i = 0; i < t->n; i++)
                t->entries[i].seen = false;
}

size_t bus_snapshot_table_sweep(BusSnapshotTable *t) {
        size_t kept = 0, dropped;

        for (size_t i = 0; i < t->n; i++) {
                if (!t->entries[i].seen) {
                        bus_snapshot_done(&t->entries[i].snapshot);
                        continue;
                }
                t->entries[kept++] = t->entries[i];
        }
        dropped = t->n - kept;
        t->n = kept;
        table_shrink(t);
        return dropped;
}

void bus_snapshot_table_done(BusSnapshotTable *t) {
        for (size_t i = 0; i < t->n; i++)
                bus_snapshot_done(&t->entries[i].snapshot);
        free(t->entries);
        *t = (BusSnapshotTable) {};
}

/* Only after pci_address_is_valid(): the digits are known to be lower-case hex. */
static uint64_t hex_value(const char *s, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v * 16 + (uint64_t) (s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
        return v;
}

int bus_snapshot_device_key(const char *address, uint64_t *ret) {
        if (!pci_address_is_valid(address))
                return -EINVAL;
        *ret = hex_value(address, 4) << 16 | hex_value(address + 5, 2) << 8 | hex_value(address + 8, 2) << 3 |
               hex_value(address + 11, 1);
        return 0;
}
