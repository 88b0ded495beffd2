/* SPDX-License-Identifier: ISC */
/*
 * TCP connect with a timeout; see net.h.
 *
 * Does: resolve a host with getaddrinfo(3) (names or numeric literals,
 * without brackets), try each address in order with a non-blocking
 * connect bounded by poll(2), report the last address and reason.
 * Does not: MX lookups (route/dns do), TLS, or any reading and writing.
 * Limits: the timeout applies to each address in turn, so a host with n
 * unreachable addresses may take n times the timeout.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "net.h"

static int	 net_resolve(const char *, int, int, struct addrinfo **,
		    struct err *);
static int	 net_wait_connected(int, long, char *, size_t);
static int	 net_try(const struct addrinfo *, long, char *, size_t);

int
net_parse_families(const char *text, int *families)
{
	const char *p = text, *word;
	size_t	 len;
	int	 found = 0;

	/* Postfix inet_protocols: a list separated by commas or spaces. */
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		word = p;
		len = strcspn(p, ", \t");
		p += len;
		if (len == 3 && strncasecmp(word, "all", 3) == 0)
			found |= NET_IPV4 | NET_IPV6;
		else if (len == 4 && strncasecmp(word, "ipv4", 4) == 0)
			found |= NET_IPV4;
		else if (len == 4 && strncasecmp(word, "ipv6", 4) == 0)
			found |= NET_IPV6;
		else
			return -1;
	}
	if (found == 0)
		return -1;
	*families = found;
	return 0;
}

static int
net_resolve(const char *host, int port, int families, struct addrinfo **res,
    struct err *e)
{
	struct addrinfo hints;
	char	 service[16];
	int	 rc;

	memset(&hints, 0, sizeof(hints));
	if (families == NET_IPV4)
		hints.ai_family = AF_INET;
	else if (families == NET_IPV6)
		hints.ai_family = AF_INET6;
	else
		hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/*
	 * No AI_ADDRCONFIG: glibc ignores loopback when deciding, so it
	 * would hide "localhost" on a host with no other address. An
	 * unreachable family just fails fast and the next address is tried.
	 */
	hints.ai_flags = AI_NUMERICSERV;
	(void)snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, res);
	if (rc == 0)
		return 0;
	if (rc == EAI_NONAME
#ifdef EAI_NODATA
	    || rc == EAI_NODATA
#endif
	    )
		return err_set(e, ERR_PERM, "host '%s' not found", host);
#ifdef EAI_ADDRFAMILY
	/* A literal of a family that inet_protocols leaves out. */
	if (rc == EAI_ADDRFAMILY)
		return err_set(e, ERR_PERM, "host '%s' has no address of the "
		    "protocols allowed by inet_protocols", host);
#endif
	if (rc == EAI_SYSTEM)
		return err_set(e, ERR_TEMP, "cannot resolve '%s': %s", host,
		    strerror(errno));
	return err_set(e, ERR_TEMP, "cannot resolve '%s': %s", host,
	    gai_strerror(rc));
}

/*
 * Waits for a non-blocking connect to finish within timeout seconds
 * (<= 0: as long as the kernel tries). Returns 0, or -1 with the reason.
 */
static int
net_wait_connected(int fd, long timeout, char *why, size_t whylen)
{
	struct pollfd pfd;
	struct timespec now, deadline;
	long long left = -1;
	int	 rc, soerr = 0;
	socklen_t soerr_len = sizeof(soerr);

	/* poll(2) takes an int of milliseconds. */
	if (timeout > INT_MAX / 1000)
		timeout = INT_MAX / 1000;
	(void)clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout > 0)
		deadline.tv_sec += timeout;
	for (;;) {
		if (timeout > 0) {
			(void)clock_gettime(CLOCK_MONOTONIC, &now);
			left = ((long long)deadline.tv_sec - now.tv_sec) * 1000 +
			    (deadline.tv_nsec - now.tv_nsec) / 1000000;
			if (left <= 0) {
				(void)snprintf(why, whylen, "timed out");
				return -1;
			}
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			break;
		if (rc == -1 && errno != EINTR) {
			(void)snprintf(why, whylen, "poll: %s", strerror(errno));
			return -1;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) == -1)
		soerr = errno;
	if (soerr != 0) {
		(void)snprintf(why, whylen, "%s", strerror(soerr));
		return -1;
	}
	return 0;
}

/* One address: a connected fd, or -1 with the reason in why. */
static int
net_try(const struct addrinfo *ai, long timeout, char *why, size_t whylen)
{
	int	 fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1) {
		(void)snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			(void)snprintf(why, whylen, "%s", strerror(errno));
			(void)close(fd);
			return -1;
		}
		if (net_wait_connected(fd, timeout, why, whylen) == -1) {
			(void)close(fd);
			return -1;
		}
	}
	/* stream.c coalesces writes already; Nagle would only add stalls. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
net_connect(const char *host, int port, int families, long timeout,
    struct net_peer *peer, struct err *e)
{
	struct addrinfo *res, *ai;
	char	 addr[sizeof(peer->addr)], why[128];
	int	 fd = -1;

	if (port < 1 || port > 65535)
		return err_set(e, ERR_CONFIG, "invalid port %d for host '%s'",
		    port, host);
	if (net_resolve(host, port, families, &res, e) == -1)
		return -1;
	(void)snprintf(addr, sizeof(addr), "?");
	(void)snprintf(why, sizeof(why), "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
		    NULL, 0, NI_NUMERICHOST) != 0)
			(void)snprintf(addr, sizeof(addr), "?");
		if ((fd = net_try(ai, timeout, why, sizeof(why))) != -1)
			break;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return err_set(e, ERR_TEMP, "cannot connect to %s[%s]:%d: %s",
		    host, addr, port, why);
	(void)snprintf(peer->host, sizeof(peer->host), "%s", host);
	(void)snprintf(peer->addr, sizeof(peer->addr), "%s", addr);
	peer->port = port;
	(void)snprintf(peer->label, sizeof(peer->label), "%s[%s]:%d",
	    peer->host, peer->addr, port);
	return fd;
}
