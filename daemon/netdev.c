/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>

#include "dma-ownerd/macro.h"
#include "netdev.h"

typedef struct FakeInterface {
        char name[IFNAME_MAX];
        bool up, has_address, default_route;
} FakeInterface;

struct Netdev {
        /* libnl-route: the caches are refilled by netdev_refresh(), once per decision that could detach a device
         * with interfaces, however many interfaces it then asks about. */
        struct nl_sock *sock;
        struct nl_cache *links;
        struct nl_cache *addrs;
        struct nl_cache *routes;

        /* The fake source. */
        bool fake;
        FakeInterface *interfaces;
        size_t n_interfaces;
};

static int nl_error_to_errno(int err) {
        switch (err < 0 ? -err : err) {
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_INVAL:
                return -EINVAL;
        default:
                return -EIO;
        }
}

Netdev *netdev_free(Netdev *n) {
        if (!n)
                return NULL;
        if (n->routes)
                nl_cache_free(n->routes);
        if (n->addrs)
                nl_cache_free(n->addrs);
        if (n->links)
                nl_cache_free(n->links);
        if (n->sock)
                nl_socket_free(n->sock);
        free(n->interfaces);
        free(n);
        return NULL;
}

static void netdev_freep(Netdev **n) {
        netdev_free(*n);
}

int netdev_new(Netdev **ret) {
        _cleanup_(netdev_freep) Netdev *n = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        n = calloc(1, sizeof(Netdev));
        if (!n)
                return -ENOMEM;

        n->sock = nl_socket_alloc();
        if (!n->sock)
                return -ENOMEM;
        r = nl_connect(n->sock, NETLINK_ROUTE);
        if (r < 0)
                return nl_error_to_errno(r);

        r = rtnl_link_alloc_cache(n->sock, AF_UNSPEC, &n->links);
        if (r < 0)
                return nl_error_to_errno(r);
        r = rtnl_addr_alloc_cache(n->sock, &n->addrs);
        if (r < 0)
                return nl_error_to_errno(r);
        r = rtnl_route_alloc_cache(n->sock, AF_UNSPEC, 0, &n->routes);
        if (r < 0)
                return nl_error_to_errno(r);

        *ret = TAKE_PTR(n);
        return 0;
}

/* "NAME [up] [address] [default-route]" per line; blank lines and lines starting with '#' are skipped. */
static int parse_fake_line(char *line, FakeInterface *ret) {
        FakeInterface iface = {};
        char *saveptr = NULL;
        const char *word = strtok_r(line, " \t\r\n", &saveptr);

        if (!word || word[0] == '#')
                return 0;
        if (!ifname_is_valid(word))
                return -EINVAL;
        strcpy(iface.name, word);

        while ((word = strtok_r(NULL, " \t\r\n", &saveptr))) {
                if (strcmp(word, "up") == 0)
                        iface.up = true;
                else if (strcmp(word, "address") == 0)
                        iface.has_address = true;
                else if (strcmp(word, "default-route") == 0)
                        iface.default_route = true;
                else
                        return -EINVAL;
        }
        *ret = iface;
        return 1;
}

int netdev_new_fake(const char *state_file, Netdev **ret) {
        _cleanup_(netdev_freep) Netdev *n = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t line_size = 0, allocated = 0;
        int r;

        if (!state_file || !ret)
                return -EINVAL;
        n = calloc(1, sizeof(Netdev));
        if (!n)
                return -ENOMEM;
        n->fake = true;

        f = fopen(state_file, "re");
        if (!f)
                return -errno;

        while (getline(&line, &line_size, f) >= 0) {
                FakeInterface iface;

                r = parse_fake_line(line, &iface);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;

                /* A later line for the same name replaces the earlier one. */
                FakeInterface *slot = NULL;
                for (size_t i = 0; i < n->n_interfaces; i++)
                        if (strcmp(n->interfaces[i].name, iface.name) == 0)
                                slot = &n->interfaces[i];
                if (!slot) {
                        if (n->n_interfaces == allocated) {
                                size_t want = allocated ? allocated * 2 : 8;
                                FakeInterface *p = reallocarray(n->interfaces, want, sizeof(FakeInterface));
                                if (!p)
                                        return -ENOMEM;
                                n->interfaces = p;
                                allocated = want;
                        }
                        slot = &n->interfaces[n->n_interfaces++];
                }
                *slot = iface;
        }
        if (ferror(f))
                return -EIO;

        *ret = TAKE_PTR(n);
        return 0;
}

static bool addr_on_ifindex(struct nl_cache *addrs, int ifindex) {
        for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o))
                if (rtnl_addr_get_ifindex((struct rtnl_addr *) o) == ifindex)
                        return true;
        return false;
}

/* A default route (0.0.0.0/0 or ::/0, unicast, any table) leaving through this interface. */
static bool default_route_via(struct nl_cache *routes, int ifindex) {
        for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *route = (struct rtnl_route *) o;
                int family = rtnl_route_get_family(route);
                struct nl_addr *dst = rtnl_route_get_dst(route);

                if (family != AF_INET && family != AF_INET6)
                        continue;
                if (rtnl_route_get_type(route) != RTN_UNICAST)
                        continue;
                if (dst && nl_addr_get_prefixlen(dst) != 0)
                        continue;

                int n = rtnl_route_get_nnexthops(route);
                for (int i = 0; i < n; i++) {
                        struct rtnl_nexthop *nh = rtnl_route_nexthop_n(route, i);
                        if (nh && rtnl_route_nh_get_ifindex(nh) == ifindex)
                                return true;
                }
        }
        return false;
}

int netdev_refresh(Netdev *n) {
        int r;

        if (!n)
                return -EINVAL;
        if (n->fake)
                return 0;

        r = nl_cache_refill(n->sock, n->links);
        if (r < 0)
                return nl_error_to_errno(r);
        r = nl_cache_refill(n->sock, n->addrs);
        if (r < 0)
                return nl_error_to_errno(r);
        r = nl_cache_refill(n->sock, n->routes);
        if (r < 0)
                return nl_error_to_errno(r);
        return 0;
}

int netdev_link_up(Netdev *n, const char *name, bool *ret_up) {
        struct rtnl_link *link = NULL;
        int r;

        if (!n || !name || !ret_up)
                return -EINVAL;
        if (!ifname_is_valid(name)) {
                *ret_up = false; /* no such interface can exist */
                return 0;
        }

        if (n->fake) {
                bool up = false;

                /* The fake can describe a default route on a down link, which the kernel cannot (taking a link down
                 * flushes its routes): such a line counts as up, so that it is looked at in full. */
                for (size_t i = 0; i < n->n_interfaces; i++)
                        if (strcmp(n->interfaces[i].name, name) == 0)
                                up = n->interfaces[i].up || n->interfaces[i].default_route;
                *ret_up = up;
                return 0;
        }

        r = rtnl_link_get_kernel(n->sock, 0, name, &link);
        if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
                *ret_up = false;
                return 0;
        }
        if (r < 0)
                return nl_error_to_errno(r);
        *ret_up = rtnl_link_get_flags(link) & IFF_UP;
        rtnl_link_put(link);
        return 0;
}

int netdev_query(Netdev *n, NetInterface *iface) {
        if (!n || !iface)
                return -EINVAL;

        iface->up = iface->has_address = iface->default_route = false;
        if (!ifname_is_valid(iface->name))
                return 0; /* no such interface can exist */

        if (n->fake) {
                for (size_t i = 0; i < n->n_interfaces; i++)
                        if (strcmp(n->interfaces[i].name, iface->name) == 0) {
                                iface->up = n->interfaces[i].up;
                                iface->has_address = n->interfaces[i].has_address;
                                iface->default_route = n->interfaces[i].default_route;
                                break;
                        }
                return 0;
        }

        struct rtnl_link *link = rtnl_link_get_by_name(n->links, iface->name);
        if (!link)
                return 0;
        int ifindex = rtnl_link_get_ifindex(link);
        bool up = rtnl_link_get_flags(link) & IFF_UP;
        rtnl_link_put(link);

        iface->up = up;
        iface->has_address = addr_on_ifindex(n->addrs, ifindex);
        iface->default_route = default_route_via(n->routes, ifindex);
        return 0;
}
