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
	/* Trust, loaded for verify/secure only. Both NULL: system store. */
	const char	*ca_file;	/* PEM bundle */
	const char	*ca_path;	/* directory of PEM files */
	const char	*cert_file;	/* client certificate (PEM), or NULL */
	const char	*key_file;	/* NULL: in cert_file */
	const char	*fingerprint_digest;	/* "sha256" (or "sha1", "sha512") */
	/* Digests of the certificate or of its public key (SPKI), separated
	 * by commas, blanks or '|'; hex in any case, ':' optional. */
	const char	*fingerprints;
	/* Postfix syntax: ">=TLSv1.2", "TLSv1.2 TLSv1.3", "!TLSv1, !TLSv1.1";
	 * NULL or empty: ">=TLSv1.2". */
	const char	*protocols;
	/* Handshake, seconds; used only when the stream has no deadline. */
	long		 timeout;
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
 * verifies per level, and swaps the stream's ops; info is filled as far
 * as the handshake got. Fails with ERR_CONFIG, before any I/O, for what
 * the parameters alone get wrong (protocol list, unreadable CAfile, client
 * certificate, fingerprint list); ERR_PROTOCOL if input was pending (RFC
 * 3207 6); ERR_TEMP with a plain-words reason for a failed handshake,
 * timeout or check. After a failure nothing more may be sent.
 */
int	 tls_start(struct stream *, const struct tls_params *, struct tls **,
	    struct tls_info *, struct err *);
/*
 * Restores the plain ops, sends close_notify (one non-blocking try) and
 * frees; the stream keeps its fd. Safe after an I/O error; NULL is a no-op.
 */
void	 tls_end(struct tls *, struct stream *);

#endif
