/* SPDX-License-Identifier: ISC */
/*
 * TLS client through GnuTLS: trust (system store or CAfile/CApath),
 * protocol floor, SNI, certificate verification by security level
 * (Postfix's smtp_tls_security_level names), fingerprint pinning of the
 * certificate or its public key, client certificate. On success the
 * stream's operations are swapped for TLS ones (Postfix tls_stream.c
 * style), so the SMTP code above never sees TLS.
 */
#ifndef SENDRELAY_TLS_H
#define SENDRELAY_TLS_H

#include <stdbool.h>
#include <time.h>

#include "err.h"
#include "stream.h"

enum tls_level {
	TLS_LEVEL_NONE,		/* no TLS */
	TLS_LEVEL_MAY,		/* STARTTLS if offered, no verification */
	TLS_LEVEL_ENCRYPT,	/* TLS required, no verification */
	TLS_LEVEL_FINGERPRINT,	/* TLS required, pinned fingerprint */
	TLS_LEVEL_VERIFY,	/* TLS required, CA + name verified */
	TLS_LEVEL_SECURE,	/* as verify (no MX lookups by us anyway) */
};

/* "none", "may", "encrypt", "fingerprint", "verify", "secure". */
int	 tls_level_parse(const char *, enum tls_level *);
const char *tls_level_name(enum tls_level);

struct tls_params {
	enum tls_level	 level;
	const char	*servername;	/* SNI and the name to verify */
	const char	*ca_file;	/* NULL: system trust store */
	const char	*ca_path;
	const char	*cert_file;	/* client certificate, or NULL */
	const char	*key_file;
	const char	*fingerprint_digest;	/* "sha256" (or "sha1", "sha512") */
	const char	*fingerprints;	/* list of hex digests, ':' optional */
	const char	*protocols;	/* Postfix syntax: ">=TLSv1.2", "!TLSv1, !TLSv1.1" */
	long		 timeout;	/* handshake, seconds */
};

struct tls_info {
	char	 version[32];
	char	 cipher[128];
	char	 subject[256];
	char	 issuer[256];
	time_t	 expires;
	bool	 verified;	/* chain + name (or fingerprint) checked */
	char	 verify_text[256];	/* plain words: "trusted", "expired"... */
};

struct tls;

/*
 * Handshakes over the stream's fd (which must hold no buffered input),
 * verifies per level, and swaps the stream's ops. A failed check fails
 * with ERR_TEMP (ERR_PERM for config-caused failures such as an unreadable
 * CAfile: ERR_CONFIG) and a plain-words reason; nothing more may be sent.
 */
int	 tls_start(struct stream *, const struct tls_params *, struct tls **,
	    struct tls_info *, struct err *);
/* Sends close_notify (best effort) and frees; the stream keeps its fd. */
void	 tls_end(struct tls *, struct stream *);

#endif
