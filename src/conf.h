/* SPDX-License-Identifier: ISC */
/*
 * main.cf: Postfix syntax (name = value, continuation lines starting with
 * white space, # comments, $name / ${name} / $(name) expansion at use),
 * a typed table of the parameters sendrelay uses with Postfix's defaults,
 * one warning naming the Postfix parameters we ignore, and a warning with
 * the nearest known name for anything else unknown. Errors name file:line.
 */
#ifndef SENDRELAY_CONF_H
#define SENDRELAY_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CONF_DEFAULT_SUBMIT_DEADLINE	60
#define CONF_FILE_MAX		(1024 * 1024)	/* bytes of main.cf */
#define CONF_ENTRIES_MAX	4096	/* distinct parameter names */
#define CONF_EXPAND_DEPTH_MAX	100	/* $name nesting, as Postfix */
#define CONF_VALUE_MAX		(64 * 1024)	/* one value, expanded */
#define CONF_EXPANDED_MAX	(4 * 1024 * 1024)	/* all values, expanded */

struct conf {
	char	*path;			/* file read, or NULL when none */

	char	*myhostname;		/* default: the host's FQDN */
	char	*mydomain;		/* default: myhostname minus first label */
	char	*myorigin;		/* default: $myhostname */
	char	*relayhost;		/* "" when unset */
	char	*mydestination;		/* local domains, for aliases */
	char	*alias_maps;		/* hash:/etc/aliases, used if it exists */
	char	*smtp_generic_maps;	/* "" */
	char	*smtp_helo_name;	/* default: $myhostname */
	char	*inet_protocols;	/* "all", "ipv4", "ipv6", "ipv4, ipv6" */

	bool	 smtp_sasl_auth_enable;
	char	*smtp_sasl_password_maps;
	char	*smtp_sasl_mechanism_filter;

	/* Validated against tls_level_parse()'s names; "" means default. */
	char	*smtp_tls_security_level;
	int	 smtp_tls_wrappermode;	/* -1 unset, 0 no, 1 yes */
	char	*smtp_tls_CAfile;
	char	*smtp_tls_CApath;
	char	*smtp_tls_cert_file;
	char	*smtp_tls_key_file;
	char	*smtp_tls_fingerprint_digest;	/* default "sha256" */
	char	*smtp_tls_fingerprint_cert_match;
	char	*smtp_tls_mandatory_protocols;	/* default ">=TLSv1.2" */

	/* Seconds. Postfix defaults. */
	long	 smtp_connect_timeout;		/* 30s */
	long	 smtp_helo_timeout;		/* 300s */
	long	 smtp_mail_timeout;		/* 300s */
	long	 smtp_rcpt_timeout;		/* 300s */
	long	 smtp_data_init_timeout;	/* 120s */
	long	 smtp_data_xfer_timeout;	/* 180s */
	long	 smtp_data_done_timeout;	/* 600s */
	long	 smtp_quit_timeout;		/* 300s */
	long	 smtp_starttls_timeout;		/* 300s */
	/* Ours: cap on one whole synchronous attempt. */
	long	 sendrelay_submit_deadline;	/* 60s */

	long	 message_size_limit;		/* bytes, 10240000; 0 = none */

	/*
	 * Ours, not Postfix's queue_directory: a copied Postfix main.cf
	 * names Postfix's own queue there.
	 */
	char	*sendrelay_queue_directory;	/* SPOOLDIR */
	long	 minimal_backoff_time;		/* 300s */
	long	 maximal_backoff_time;		/* 4000s */
	long	 maximal_queue_lifetime;	/* 5d */
	long	 bounce_queue_lifetime;		/* 5d */
	long	 delay_warning_time;		/* 0h: no delay notices */
	/* Ours: where bounces for local senders (root@$myhostname) go. */
	char	*sendrelay_local_bounce_recipient;	/* "": the sender */

	char	*syslog_name;		/* "sendrelay" */
	char	*syslog_facility;	/* "mail" */
	char	*maillog_file;		/* "" */

	/*
	 * Every name = value read, in file order (a later definition
	 * replaces an earlier one in place), then the defaults of the
	 * parameters above that the file did not set. The string fields
	 * above point into these; all stay valid until conf_free().
	 */
	struct conf_entry *entries;
	unsigned	 entry_count;

	/* Each warning issued while reading (also sent to log_warn()). */
	char		**warnings;
	unsigned	 warning_count;
};

/*
 * Reads path (a file, or a directory holding main.cf); NULL means the
 * default $(sysconfdir)/sendrelay/main.cf, which may be missing (defaults
 * then apply). A missing file named with -C is an error (ERR_CONFIG).
 * Warnings go through log_warn(). On error the conf holds nothing to free.
 */
int	 conf_load(struct conf *, const char *path, struct err *);
/*
 * Parses main.cf text (for conf_load and the fuzz target); origin names it
 * in messages and becomes conf->path (NULL: none, messages say "main.cf").
 * Needs no file system; only an unset myhostname asks the resolver.
 */
int	 conf_parse_text(struct conf *, const char *text, size_t len,
	    const char *origin, struct err *);
/*
 * The expanded value of any parameter read or known (NULL when neither),
 * for parameters that later modules read by name.
 */
const char *conf_get(const struct conf *, const char *name);
void	 conf_free(struct conf *);
/*
 * Parses a Postfix time value ("30s", "5m", "1h", "2d", "1w", bare number =
 * seconds). Returns 0 or -1.
 */
int	 conf_parse_time(const char *, long *seconds);
/* Parses a size in bytes (digits only). */
int	 conf_parse_size(const char *, long *bytes);
/* yes/no/true/false/1/0, case-insensitive. */
int	 conf_parse_bool(const char *, bool *);

#endif
