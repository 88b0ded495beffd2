/* SPDX-License-Identifier: ISC */
/*
 * TCP connect with a timeout, trying every address of a host in turn
 * (getaddrinfo order, filtered by inet_protocols). TCP_NODELAY is set:
 * stream.c already coalesces writes, so Nagle would only add stalls.
 */
#ifndef SENDRELAY_NET_H
#define SENDRELAY_NET_H

#include "err.h"

#define NET_IPV4	0x1
#define NET_IPV6	0x2

struct net_peer {
	char	 host[256];	/* the name we connected to */
	char	 addr[64];	/* numeric address */
	int	 port;
	char	 label[340];	/* "host[addr]:port", for logs */
};

/* Parses inet_protocols ("all", "ipv4", "ipv6", "ipv4, ipv6"). */
int	 net_parse_families(const char *, int *families);
/*
 * Connects to host:port within timeout seconds per address. Returns the
 * connected fd, or -1 with ERR_TEMP naming the host and the last reason
 * (ERR_PERM only when the name does not exist).
 */
int	 net_connect(const char *host, int port, int families, long timeout,
	    struct net_peer *, struct err *);

#endif
