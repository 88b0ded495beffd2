/* SPDX-License-Identifier: ISC */
/*
 * Routing: recipient -> next hop, TLS policy and SASL credentials.
 *
 * For now every recipient goes to relayhost. An unbracketed relayhost is
 * connected to by its address records (Postfix would look up its MX first;
 * MX lookups arrive with the routing work). Without a relayhost there is
 * no route yet, which is a configuration error.
 *
 * Credentials come from smtp_sasl_password_maps, searched with Postfix's
 * keys in Postfix's order (smtp_sasl_glue.c): "[host]:port", "[host]",
 * "host:port", "host", then the recipient's domain. The value is
 * "user:password", split at the first colon.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "map.h"
#include "route.h"
#include "xmalloc.h"

#define ROUTE_DEFAULT_PORT	25
#define ROUTE_SMTPS_PORT	465

static int	 route_parse_port(const char *, int *);
static int	 route_credentials(const struct conf *, const char *,
		    struct route *, struct err *);
static const char *route_default_level(const struct conf *);

static int
route_parse_port(const char *s, int *port)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

int
route_parse_nexthop(const char *spec, struct route *r, struct err *e)
{
	const char	*host = spec, *port = NULL, *close;
	size_t		 host_len;

	r->port = ROUTE_DEFAULT_PORT;
	r->mx_lookup = true;
	if (*spec == '[') {
		if ((close = strchr(spec, ']')) == NULL)
			return err_set(e, ERR_CONFIG,
			    "next hop '%s': missing ']'", spec);
		host = spec + 1;
		host_len = (size_t)(close - host);
		r->mx_lookup = false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return err_set(e, ERR_CONFIG,
			    "next hop '%s': expected ':port' after ']'", spec);
	} else {
		/* An unbracketed IPv6 literal cannot carry a port. */
		port = strrchr(spec, ':');
		if (port != NULL && strchr(spec, ':') != port)
			port = NULL;
		host_len = port != NULL ? (size_t)(port - spec) : strlen(spec);
		if (port != NULL)
			port++;
	}
	if (host_len == 0)
		return err_set(e, ERR_CONFIG, "next hop '%s': empty host name",
		    spec);
	if (port != NULL && route_parse_port(port, &r->port) == -1)
		return err_set(e, ERR_CONFIG,
		    "next hop '%s': bad port '%s'", spec, port);
	free(r->host);
	r->host = xstrndup(host, host_len);
	/* RFC 5321 address literal syntax, as Postfix accepts it. */
	if (strncasecmp(r->host, "ipv6:", 5) == 0)
		memmove(r->host, r->host + 5, strlen(r->host + 5) + 1);
	free(r->nexthop);
	r->nexthop = xstrdup(spec);
	return 0;
}

/*
 * A relayhost is a fixed, named provider: verifying its certificate
 * against the system trust store and its name is possible and is the only
 * level that protects the password, so it is our default (Postfix's is
 * "none"; the man page says so).
 */
static const char *
route_default_level(const struct conf *conf)
{
	if (conf->smtp_tls_security_level != NULL &&
	    *conf->smtp_tls_security_level != '\0')
		return conf->smtp_tls_security_level;
	return "verify";
}

int
route_check(const struct conf *conf, struct err *e)
{
	struct map_list	*maps;

	if (!conf->smtp_sasl_auth_enable ||
	    conf->smtp_sasl_password_maps == NULL ||
	    *conf->smtp_sasl_password_maps == '\0')
		return 0;
	if ((maps = map_list_open(conf->smtp_sasl_password_maps, MAP_SECRET,
	    e)) == NULL)
		return -1;
	map_list_free(maps);
	return 0;
}

static int
route_credentials(const struct conf *conf, const char *rcpt, struct route *r,
    struct err *e)
{
	struct map_list	*maps;
	const char	*value = NULL, *colon, *domain;
	char		*keys[5];
	size_t		 i, nkeys = 0;
	int		 found = 0;

	if (!conf->smtp_sasl_auth_enable ||
	    conf->smtp_sasl_password_maps == NULL ||
	    *conf->smtp_sasl_password_maps == '\0')
		return 0;
	if ((maps = map_list_open(conf->smtp_sasl_password_maps, MAP_SECRET,
	    e)) == NULL)
		return -1;
	keys[nkeys++] = xasprintf("[%s]:%d", r->host, r->port);
	keys[nkeys++] = xasprintf("[%s]", r->host);
	keys[nkeys++] = xasprintf("%s:%d", r->host, r->port);
	keys[nkeys++] = xstrdup(r->host);
	domain = addr_domain(rcpt);
	if (domain != NULL)
		keys[nkeys++] = xstrdup(domain);
	for (i = 0; i < nkeys && found == 0; i++) {
		found = map_list_lookup(maps, keys[i], &value);
		if (found == 1)
			r->sasl_key = xstrdup(keys[i]);
	}
	for (i = 0; i < nkeys; i++)
		free(keys[i]);
	if (found == 1) {
		if ((colon = strchr(value, ':')) == NULL) {
			err_set(e, ERR_CONFIG, "%s: entry for '%s' is not "
			    "'user:password'", conf->smtp_sasl_password_maps,
			    r->sasl_key);
			map_list_free(maps);
			return -1;
		}
		r->sasl_user = xstrndup(value, (size_t)(colon - value));
		r->sasl_password = xstrdup(colon + 1);
	}
	map_list_free(maps);
	if (found == -1)
		return err_set(e, ERR_CONFIG, "%s: lookup failed",
		    conf->smtp_sasl_password_maps);
	return 0;
}

int
route_recipient(const struct conf *conf, const char *rcpt, const char *sender,
    struct route *r, struct err *e)
{
	(void)sender;
	memset(r, 0, sizeof(*r));
	if (conf->relayhost == NULL || *conf->relayhost == '\0') {
		return err_set(e, ERR_CONFIG, "no route to <%s>: relayhost is "
		    "not set, and delivery by MX lookup is not supported yet",
		    rcpt);
	}
	if (route_parse_nexthop(conf->relayhost, r, e) == -1)
		goto fail;
	/* Port 465 is implicit TLS (RFC 8314) unless the admin says otherwise. */
	if (conf->smtp_tls_wrappermode == -1)
		r->implicit_tls = r->port == ROUTE_SMTPS_PORT;
	else
		r->implicit_tls = conf->smtp_tls_wrappermode == 1;
	r->tls_level = xstrdup(route_default_level(conf));
	if (route_credentials(conf, rcpt, r, e) == -1)
		goto fail;
	return 0;
fail:
	route_free(r);
	return -1;
}

bool
route_same_nexthop(const struct route *a, const struct route *b)
{
	return strcasecmp(a->host, b->host) == 0 && a->port == b->port &&
	    a->implicit_tls == b->implicit_tls &&
	    strcmp(a->tls_level, b->tls_level) == 0 &&
	    (a->sasl_key == NULL) == (b->sasl_key == NULL) &&
	    (a->sasl_key == NULL || strcmp(a->sasl_key, b->sasl_key) == 0);
}

void
route_free(struct route *r)
{
	free(r->nexthop);
	free(r->host);
	free(r->tls_level);
	free(r->sasl_user);
	xfree_secret(r->sasl_password);
	free(r->sasl_key);
	memset(r, 0, sizeof(*r));
}
