/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Is a network interface carrying traffic? Asked through libnl-route (links, addresses, routes) before a device is
 * detached from its host driver. Tests substitute a fake source: a text file with one line per interface,
 * "NAME [up] [address] [default-route]". */

#include <stdbool.h>

#include "model.h"

typedef struct Netdev Netdev;

int netdev_new(Netdev **ret);                              /* libnl-route on the host's netlink */
int netdev_new_fake(const char *state_file, Netdev **ret); /* the test seam */
Netdev *netdev_free(Netdev *n);

/* Take a fresh snapshot of links, addresses and routes (three netlink dumps; the fake source has nothing to do).
 * Called once before the queries of one decision, so that they all see the state of the moment. */
int netdev_refresh(Netdev *n);

/* Whether the interface is administratively up, asked of the kernel for that one link (one request, no dump).
 * An interface the source does not know is down. A link that is down holds no route, so it cannot be in use, and
 * the three dumps of netdev_refresh() can be skipped when every interface in question is down. */
int netdev_link_up(Netdev *n, const char *name, bool *ret_up);

/* Fill iface->up/has_address/default_route for iface->name from the last snapshot. An interface the source does not
 * know reads all false. */
int netdev_query(Netdev *n, NetInterface *iface);

/* An interface is in use when it is up and holds an address, or carries a default route. */
static inline bool net_interface_in_use(const NetInterface *i) {
        return (i->up && i->has_address) || i->default_route;
}
