/* SPDX-License-Identifier: ISC */
/*
 * TLS client over a stream through GnuTLS; see tls.h.
 *
 * Does: translate Postfix protocol lists into a GnuTLS priority string,
 * load trust (system store, or only CAfile / CApath) for the verifying
 * levels, present a client certificate, send SNI, handshake without
 * blocking under the stream's deadline, verify by level (CA chain + name,
 * or a pinned digest of the certificate or of its public key), describe
 * the session in struct tls_info, then swap the stream's read/write ops.
 * Does not: DANE (no TLSA lookups yet), session resumption, OCSP or CRL
 * checks, SSL 2.0/3.0 (GnuTLS no longer speaks them: a list that allows
 * nothing else is a configuration error), renegotiation (refused).
 * Limits: failures are reported in plain words built from GnuTLS status
 * bits; nothing here holds a secret, so error texts may name files.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "buf.h"
#include "err.h"
#include "stream.h"
#include "tls.h"
#include "xmalloc.h"

/* Postfix's default floor for mandatory TLS since 3.6. */
#define TLS_PROTOCOLS_DEFAULT	">=TLSv1.2"
#define TLS_PROTOCOL_SEPARATORS	", \t\r\n:"
#define TLS_LIST_SEPARATORS	", \t\r\n|"
/* Largest digest we pin (SHA-512). */
#define TLS_DIGEST_MAX		64
#define TLS_ERROR_MAX		256
#define TLS_NITEMS(a)		(sizeof(a) / sizeof((a)[0]))

struct tls {
	gnutls_session_t			 session;
	gnutls_certificate_credentials_t	 cred;
	char					 error[TLS_ERROR_MAX];
};

/* Oldest first: ">=" and "<=" bounds compare positions in this table. */
static const struct {
	const char	*name;
	const char	*gnutls;	/* NULL: GnuTLS cannot speak it */
} tls_protocols[] = {
	{ "SSLv2", NULL },
	{ "SSLv3", NULL },
	{ "TLSv1", "VERS-TLS1.0" },
	{ "TLSv1.1", "VERS-TLS1.1" },
	{ "TLSv1.2", "VERS-TLS1.2" },
	{ "TLSv1.3", "VERS-TLS1.3" },
};
#define TLS_PROTOCOL_COUNT	TLS_NITEMS(tls_protocols)

static const char *tls_level_names[] = {
	[TLS_LEVEL_NONE] = "none",
	[TLS_LEVEL_MAY] = "may",
	[TLS_LEVEL_ENCRYPT] = "encrypt",
	[TLS_LEVEL_FINGERPRINT] = "fingerprint",
	[TLS_LEVEL_VERIFY] = "verify",
	[TLS_LEVEL_SECURE] = "secure",
};
#define TLS_LEVEL_COUNT		TLS_NITEMS(tls_level_names)

static int	 tls_protocol_index(const char *);
static int	 tls_protocol_token(const char *, unsigned *, unsigned *, int *,
		    int *);
static int	 tls_priority(const char *, char **, struct err *);
static int	 tls_digest(const char *, gnutls_digest_algorithm_t *,
		    const char **, struct err *);
static int	 tls_hex_decode(const char *, unsigned char *, size_t *);
static int	 tls_fingerprint_scan(const char *, const unsigned char *,
		    const unsigned char *, size_t, struct err *);
static bool	 tls_verifies(enum tls_level);
static const char *tls_peer(const struct stream *, const struct tls_params *);
static void	 tls_error_text(gnutls_session_t, int, int, char *, size_t);
static int	 tls_check_params(const struct tls_params *, char **,
		    struct err *);
static int	 tls_trust_loaded(int, int, const char *, const char *,
		    struct err *);
static int	 tls_load_trust(struct tls *, const struct tls_params *,
		    struct err *);
static int	 tls_load_credentials(struct tls *, const struct tls_params *,
		    struct err *);
static int	 tls_session_new(struct tls *, struct stream *,
		    const struct tls_params *, const char *, struct err *);
static int	 tls_handshake(struct tls *, struct stream *,
		    const struct tls_params *, const char *, struct err *);
static void	 tls_copy_dn(gnutls_x509_crt_t, bool, char *, size_t);
static void	 tls_fill_info(struct tls *, struct tls_info *);
static void	 tls_status_words(unsigned, const char *, struct buf *);
static int	 tls_verify_chain(struct tls *, const struct tls_params *,
		    const char *, struct tls_info *, struct err *);
static int	 tls_leaf_digests(struct tls *, gnutls_digest_algorithm_t,
		    unsigned char *, unsigned char *, size_t *, struct err *,
		    const char *);
static int	 tls_verify_fingerprint(struct tls *, const struct tls_params *,
		    const char *, struct tls_info *, struct err *);
static void	 tls_free(struct tls *);
static ssize_t	 tls_op_result(struct tls *, ssize_t);
static ssize_t	 tls_op_read(void *, void *, size_t);
static ssize_t	 tls_op_write(void *, const void *, size_t);
static size_t	 tls_op_pending(void *);
static const char *tls_op_error(void *);

int
tls_level_parse(const char *name, enum tls_level *level)
{
	size_t	 i;

	if (name == NULL)
		return -1;
	for (i = 0; i < TLS_LEVEL_COUNT; i++) {
		if (strcasecmp(name, tls_level_names[i]) == 0) {
			*level = (enum tls_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
tls_level_name(enum tls_level level)
{
	if ((size_t)level >= TLS_LEVEL_COUNT)
		return "unknown";
	return tls_level_names[level];
}

static int
tls_protocol_index(const char *name)
{
	size_t	 i;

	for (i = 0; i < TLS_PROTOCOL_COUNT; i++)
		if (strcasecmp(name, tls_protocols[i].name) == 0)
			return (int)i;
	return -1;
}

/* One element of a Postfix protocol list: name, !name, >=name, <=name. */
static int
tls_protocol_token(const char *token, unsigned *include, unsigned *exclude,
    int *low, int *high)
{
	bool	 bound = strncmp(token, ">=", 2) == 0 ||
		    strncmp(token, "<=", 2) == 0;
	int	 i;

	if ((i = tls_protocol_index(token + (bound ? 2 : token[0] == '!'))) ==
	    -1)
		return -1;
	if (token[0] == '!')
		*exclude |= 1U << i;
	else if (!bound)
		*include |= 1U << i;
	else if (token[0] == '>' && i > *low)
		*low = i;
	else if (token[0] == '<' && i < *high)
		*high = i;
	return 0;
}

/*
 * Postfix semantics: listed names are the set (all when only exclusions
 * or bounds are given), minus "!" exclusions, within the bounds.
 */
static int
tls_priority(const char *protocols, char **out, struct err *e)
{
	struct buf prio;
	const char *value;
	char	*copy, *token, *save = NULL;
	unsigned include = 0, exclude = 0, allowed;
	int	 low = 0, high = (int)TLS_PROTOCOL_COUNT - 1;
	size_t	 i;

	value = protocols;
	if (value == NULL || value[strspn(value, TLS_PROTOCOL_SEPARATORS)] ==
	    '\0')
		value = TLS_PROTOCOLS_DEFAULT;
	copy = xstrdup(value);
	for (token = strtok_r(copy, TLS_PROTOCOL_SEPARATORS, &save);
	    token != NULL;
	    token = strtok_r(NULL, TLS_PROTOCOL_SEPARATORS, &save))
		if (tls_protocol_token(token, &include, &exclude, &low,
		    &high) == -1)
			break;
	if (token != NULL)
		(void)err_set(e, ERR_CONFIG, "TLS protocols \"%s\": syntax "
		    "error at \"%s\" (expected SSLv2, SSLv3, TLSv1, TLSv1.1, "
		    "TLSv1.2 or TLSv1.3, optionally after !, >= or <=)", value,
		    token);
	free(copy);
	if (token != NULL)
		return -1;
	allowed = include != 0 ? include : (1U << TLS_PROTOCOL_COUNT) - 1;
	allowed &= ~exclude;
	buf_init(&prio, 256);
	(void)buf_append_str(&prio, "NORMAL:-VERS-ALL");
	for (i = 0; i < TLS_PROTOCOL_COUNT; i++)
		if ((allowed & (1U << i)) != 0 && (int)i >= low &&
		    (int)i <= high && tls_protocols[i].gnutls != NULL)
			(void)buf_printf(&prio, ":+%s",
			    tls_protocols[i].gnutls);
	if (strchr(buf_cstr(&prio), '+') == NULL) {
		buf_free(&prio);
		return err_set(e, ERR_CONFIG, "TLS protocols \"%s\" allow no "
		    "protocol this build can speak (TLSv1 to TLSv1.3)", value);
	}
	*out = buf_release(&prio);
	return 0;
}

/* The first entry is the default. */
static int
tls_digest(const char *name, gnutls_digest_algorithm_t *alg,
    const char **label, struct err *e)
{
	static const struct {
		const char			*name;
		gnutls_digest_algorithm_t	 alg;
	} digests[] = {
		{ "SHA256", GNUTLS_DIG_SHA256 },
		{ "SHA1", GNUTLS_DIG_SHA1 },
		{ "SHA512", GNUTLS_DIG_SHA512 },
	};
	size_t	 i;

	for (i = 0; i < TLS_NITEMS(digests); i++) {
		if (name == NULL || *name == '\0' ||
		    strcasecmp(name, digests[i].name) == 0) {
			*alg = digests[i].alg;
			*label = digests[i].name;
			return 0;
		}
	}
	return err_set(e, ERR_CONFIG, "unsupported TLS fingerprint digest "
	    "\"%s\" (use sha256, sha1 or sha512)", name);
}

/* Hex with optional ':' separators, any case, into at most TLS_DIGEST_MAX. */
static int
tls_hex_decode(const char *text, unsigned char *out, size_t *len)
{
	size_t	 digits = 0;
	int	 nibble;

	*len = 0;
	for (; *text != '\0'; text++) {
		if (*text == ':')
			continue;
		if (!isxdigit((unsigned char)*text))
			return -1;
		nibble = isdigit((unsigned char)*text) ? *text - '0' :
		    tolower((unsigned char)*text) - 'a' + 10;
		if (digits % 2 == 0) {
			if (*len == TLS_DIGEST_MAX)
				return -1;
			out[(*len)++] = (unsigned char)(nibble << 4);
		} else
			out[*len - 1] |= (unsigned char)nibble;
		digits++;
	}
	return digits > 0 && digits % 2 == 0 ? 0 : -1;
}

/*
 * Checks the pin list (digests NULL) or looks for either digest in it.
 * A typo in a pin must say so, not look like a server with a new key.
 */
static int
tls_fingerprint_scan(const char *list, const unsigned char *cert_digest,
    const unsigned char *key_digest, size_t size, struct err *e)
{
	unsigned char bytes[TLS_DIGEST_MAX];
	char	*copy, *token, *save = NULL;
	size_t	 len, count = 0;
	int	 rc = -1;

	copy = xstrdup(list != NULL ? list : "");
	for (token = strtok_r(copy, TLS_LIST_SEPARATORS, &save);
	    token != NULL && rc == -1;
	    token = strtok_r(NULL, TLS_LIST_SEPARATORS, &save), count++) {
		if (tls_hex_decode(token, bytes, &len) == -1) {
			(void)err_set(e, ERR_CONFIG, "bad TLS fingerprint "
			    "\"%s\": expected hex digits, ':' optional", token);
			break;
		}
		if (cert_digest != NULL && len == size &&
		    (memcmp(bytes, cert_digest, size) == 0 ||
		    memcmp(bytes, key_digest, size) == 0))
			rc = 0;
	}
	free(copy);
	if (token == NULL && count == 0)
		(void)err_set(e, ERR_CONFIG, "TLS security level fingerprint "
		    "needs at least one fingerprint to match");
	else if (token == NULL && cert_digest == NULL)
		rc = 0;
	return rc;
}

static bool
tls_verifies(enum tls_level level)
{
	return level == TLS_LEVEL_VERIFY || level == TLS_LEVEL_SECURE;
}

static const char *
tls_peer(const struct stream *s, const struct tls_params *p)
{
	if (s->peer != NULL)
		return s->peer;
	return p->servername != NULL ? p->servername : "peer";
}

/*
 * GnuTLS says "Error in the push function." where errno says why, and
 * "A TLS fatal alert has been received." where the alert says why (a
 * server wanting a client certificate, say).
 */
static void
tls_error_text(gnutls_session_t session, int rc, int saved_errno,
    char *out, size_t len)
{
	if ((rc == GNUTLS_E_PUSH_ERROR || rc == GNUTLS_E_PULL_ERROR ||
	    rc == GNUTLS_E_FILE_ERROR) && saved_errno != 0)
		(void)snprintf(out, len, "%s", strerror(saved_errno));
	else if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED && session != NULL)
		(void)snprintf(out, len, "%s (%s)", gnutls_strerror(rc),
		    gnutls_alert_get_name(gnutls_alert_get(session)));
	else
		(void)snprintf(out, len, "%s", gnutls_strerror(rc));
}

/* Everything the configuration alone can get wrong, before any I/O. */
static int
tls_check_params(const struct tls_params *p, char **priority, struct err *e)
{
	gnutls_digest_algorithm_t alg;
	const char *label;

	if (p->level == TLS_LEVEL_FINGERPRINT &&
	    (tls_digest(p->fingerprint_digest, &alg, &label, e) == -1 ||
	    tls_fingerprint_scan(p->fingerprints, NULL, NULL, 0, e) == -1))
		return -1;
	if (tls_verifies(p->level) &&
	    (p->servername == NULL || *p->servername == '\0'))
		return err_set(e, ERR_CONFIG, "TLS security level %s needs a "
		    "server name to verify", tls_level_name(p->level));
	return tls_priority(p->protocols, priority, e);
}

/* rc: certificates loaded, or a GnuTLS error. */
static int
tls_trust_loaded(int rc, int saved_errno, const char *what, const char *name,
    struct err *e)
{
	char	 why[TLS_ERROR_MAX];

	if (rc > 0)
		return 0;
	if (rc == 0)
		return err_set(e, ERR_CONFIG, "%s %s holds no PEM certificate",
		    what, name);
	tls_error_text(NULL, rc, saved_errno, why, sizeof(why));
	return err_set(e, ERR_CONFIG, "cannot load %s %s: %s", what, name, why);
}

/* Given CAfile or CApath, only those: the admin narrowed trust on purpose. */
static int
tls_load_trust(struct tls *t, const struct tls_params *p, struct err *e)
{
	const char *file = p->ca_file, *dir = p->ca_path;
	DIR	*d;
	int	 rc;

	if (file != NULL && *file == '\0')
		file = NULL;
	if (dir != NULL && *dir == '\0')
		dir = NULL;
	if (file == NULL && dir == NULL) {
		rc = gnutls_certificate_set_x509_system_trust(t->cred);
		if (rc < 0)
			return err_set(e, ERR_CONFIG, "cannot load the system "
			    "trust store: %s", gnutls_strerror(rc));
		return 0;
	}
	if (file != NULL) {
		errno = 0;
		rc = gnutls_certificate_set_x509_trust_file(t->cred, file,
		    GNUTLS_X509_FMT_PEM);
		if (tls_trust_loaded(rc, errno, "CAfile", file, e) == -1)
			return -1;
	}
	if (dir != NULL) {
		/* GnuTLS counts a missing directory as an empty one. */
		if ((d = opendir(dir)) == NULL)
			return err_set(e, ERR_CONFIG, "cannot load CApath %s: "
			    "%s", dir, strerror(errno));
		(void)closedir(d);
		errno = 0;
		rc = gnutls_certificate_set_x509_trust_dir(t->cred, dir,
		    GNUTLS_X509_FMT_PEM);
		if (tls_trust_loaded(rc, errno, "CApath", dir, e) == -1)
			return -1;
	}
	return 0;
}

static int
tls_load_credentials(struct tls *t, const struct tls_params *p,
    struct err *e)
{
	const char *key;
	char	 why[TLS_ERROR_MAX];
	int	 rc;

	if ((rc = gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
		t->cred = NULL;
		return err_set(e, ERR_SOFTWARE, "GnuTLS credentials: %s",
		    gnutls_strerror(rc));
	}
	if (tls_verifies(p->level) && tls_load_trust(t, p, e) == -1)
		return -1;
	if (p->cert_file == NULL || *p->cert_file == '\0')
		return 0;
	key = p->key_file != NULL && *p->key_file != '\0' ? p->key_file :
	    p->cert_file;
	errno = 0;
	rc = gnutls_certificate_set_x509_key_file(t->cred, p->cert_file, key,
	    GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		tls_error_text(NULL, rc, errno, why, sizeof(why));
		return err_set(e, ERR_CONFIG, "cannot load TLS client "
		    "certificate %s with key %s: %s", p->cert_file, key, why);
	}
	return 0;
}

static int
tls_session_new(struct tls *t, struct stream *s, const struct tls_params *p,
    const char *priority, struct err *e)
{
	const char *where = NULL;
	unsigned char ip[16];
	int	 rc;

	if ((rc = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
	    GNUTLS_NO_SIGNAL)) < 0) {
		t->session = NULL;
		return err_set(e, ERR_SOFTWARE, "GnuTLS session: %s",
		    gnutls_strerror(rc));
	}
	if ((rc = gnutls_priority_set_direct(t->session, priority,
	    &where)) < 0)
		return err_set(e, ERR_CONFIG, "TLS protocols \"%s\" rejected "
		    "by GnuTLS (%s): %s", p->protocols != NULL ? p->protocols :
		    TLS_PROTOCOLS_DEFAULT, priority, gnutls_strerror(rc));
	if (tls_load_credentials(t, p, e) == -1)
		return -1;
	if ((rc = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE,
	    t->cred)) < 0)
		return err_set(e, ERR_SOFTWARE, "GnuTLS credentials: %s",
		    gnutls_strerror(rc));
	/* RFC 6066 3: literal IPv4 and IPv6 addresses are not permitted. */
	if (p->servername != NULL && *p->servername != '\0' &&
	    p->servername[0] != '[' &&
	    inet_pton(AF_INET, p->servername, ip) != 1 &&
	    inet_pton(AF_INET6, p->servername, ip) != 1 &&
	    (rc = gnutls_server_name_set(t->session, GNUTLS_NAME_DNS,
	    p->servername, strlen(p->servername))) < 0)
		return err_set(e, ERR_CONFIG, "TLS server name %s: %s",
		    p->servername, gnutls_strerror(rc));
	/* Our stream deadline is the only clock; GnuTLS's own is 40 s. */
	gnutls_handshake_set_timeout(t->session, 0);
	gnutls_transport_set_int(t->session, s->fd);
	return 0;
}

static int
tls_handshake(struct tls *t, struct stream *s, const struct tls_params *p,
    const char *peer, struct err *e)
{
	int	 rc;

	/* The caller's deadline wins; ours only when it armed none. */
	if (p->timeout > 0 && s->deadline.tv_sec == 0 &&
	    s->deadline.tv_nsec == 0)
		stream_set_timeout(s, p->timeout, s->phase != NULL ? s->phase :
		    "while performing the TLS handshake");
	for (;;) {
		errno = 0;
		if ((rc = gnutls_handshake(t->session)) == 0)
			return 0;
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
			if (stream_wait(s, gnutls_record_get_direction(
			    t->session) == 0, e) == -1)
				return -1;
			continue;
		}
		if (!gnutls_error_is_fatal(rc))
			continue;
		tls_error_text(t->session, rc, errno, t->error,
		    sizeof(t->error));
		return err_set(e, ERR_TEMP, "TLS handshake with %s failed: %s",
		    peer, t->error);
	}
}

static void
tls_copy_dn(gnutls_x509_crt_t crt, bool issuer, char *out, size_t outlen)
{
	gnutls_datum_t dn = { NULL, 0 };
	int	 rc;

	rc = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) :
	    gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (rc >= 0 && dn.data != NULL)
		(void)snprintf(out, outlen, "%.*s", (int)dn.size,
		    (const char *)dn.data);
	gnutls_free(dn.data);
}

static void
tls_fill_info(struct tls *t, struct tls_info *info)
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	const char *name;
#if GNUTLS_VERSION_NUMBER < 0x030703
	char	*desc;
#endif
	unsigned count = 0;

	name = gnutls_protocol_get_name(gnutls_protocol_get_version(
	    t->session));
	(void)snprintf(info->version, sizeof(info->version), "%s",
	    name != NULL ? name : "unknown");
#if GNUTLS_VERSION_NUMBER >= 0x030703
	name = gnutls_ciphersuite_get(t->session);
	(void)snprintf(info->cipher, sizeof(info->cipher), "%s",
	    name != NULL ? name : "unknown");
#else
	desc = gnutls_session_get_desc(t->session);
	(void)snprintf(info->cipher, sizeof(info->cipher), "%s",
	    desc != NULL ? desc : "unknown");
	gnutls_free(desc);
#endif
	certs = gnutls_certificate_get_peers(t->session, &count);
	if (certs == NULL || count == 0 || gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0) {
		tls_copy_dn(crt, false, info->subject, sizeof(info->subject));
		tls_copy_dn(crt, true, info->issuer, sizeof(info->issuer));
		info->expires = gnutls_x509_crt_get_expiration_time(crt);
	}
	gnutls_x509_crt_deinit(crt);
}

/* GnuTLS's own print for whatever we have no plain words for. */
static void
tls_status_words(unsigned status, const char *name, struct buf *words)
{
	static const struct {
		unsigned	 bit;
		const char	*text;
	} bits[] = {
		{ GNUTLS_CERT_EXPIRED, "certificate has expired" },
		{ GNUTLS_CERT_NOT_ACTIVATED, "certificate is not yet valid" },
		{ GNUTLS_CERT_SIGNER_NOT_FOUND,
		    "certificate issuer is unknown" },
		{ GNUTLS_CERT_UNEXPECTED_OWNER, "certificate name does not "
		    "match " },
		{ GNUTLS_CERT_REVOKED, "certificate was revoked" },
		{ GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm" },
	};
	gnutls_datum_t text = { NULL, 0 };
	size_t	 i;

	for (i = 0; i < TLS_NITEMS(bits); i++) {
		if ((status & bits[i].bit) == 0)
			continue;
		(void)buf_printf(words, "%s%s%s", words->len > 0 ? "; " : "",
		    bits[i].text, bits[i].bit == GNUTLS_CERT_UNEXPECTED_OWNER ?
		    name : "");
	}
	if (words->len > 0)
		return;
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &text, 0) >= 0 && text.data != NULL)
		(void)buf_printf(words, "%s", (const char *)text.data);
	else
		(void)buf_printf(words, "status 0x%x", status);
	gnutls_free(text.data);
}

static int
tls_verify_chain(struct tls *t, const struct tls_params *p, const char *peer,
    struct tls_info *info, struct err *e)
{
	struct buf words;
	unsigned status = 0;
	int	 rc;

	rc = gnutls_certificate_verify_peers3(t->session, p->servername,
	    &status);
	if (rc < 0)
		return err_set(e, ERR_TEMP, "TLS certificate verification "
		    "failed for %s: %s", peer,
		    rc == GNUTLS_E_NO_CERTIFICATE_FOUND ?
		    "no certificate presented" : gnutls_strerror(rc));
	if (status != 0) {
		buf_init(&words, ERR_TEXT_MAX);
		tls_status_words(status, p->servername, &words);
		(void)snprintf(info->verify_text, sizeof(info->verify_text),
		    "%s", buf_cstr(&words));
		(void)err_set(e, ERR_TEMP, "TLS certificate verification "
		    "failed for %s: %s", peer, buf_cstr(&words));
		buf_free(&words);
		return -1;
	}
	info->verified = true;
	(void)snprintf(info->verify_text, sizeof(info->verify_text),
	    "trusted");
	return 0;
}

/* Digests of the leaf certificate and of its SubjectPublicKeyInfo (DER). */
static int
tls_leaf_digests(struct tls *t, gnutls_digest_algorithm_t alg,
    unsigned char *cert_digest, unsigned char *key_digest, size_t *size,
    struct err *e, const char *peer)
{
	const gnutls_datum_t *certs;
	gnutls_pubkey_t key = NULL;
	gnutls_datum_t spki = { NULL, 0 };
	unsigned count = 0;
	int	 rc;

	certs = gnutls_certificate_get_peers(t->session, &count);
	if (certs == NULL || count == 0)
		return err_set(e, ERR_TEMP, "TLS fingerprint check failed for "
		    "%s: no certificate presented", peer);
	*size = gnutls_hash_get_len(alg);
	if ((rc = gnutls_hash_fast(alg, certs[0].data, certs[0].size,
	    cert_digest)) >= 0 && (rc = gnutls_pubkey_init(&key)) >= 0 &&
	    (rc = gnutls_pubkey_import_x509_raw(key, &certs[0],
	    GNUTLS_X509_FMT_DER, 0)) >= 0 &&
	    (rc = gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki)) >= 0)
		rc = gnutls_hash_fast(alg, spki.data, spki.size, key_digest);
	gnutls_free(spki.data);
	if (key != NULL)
		gnutls_pubkey_deinit(key);
	if (rc < 0)
		return err_set(e, ERR_TEMP, "TLS fingerprint check failed for "
		    "%s: %s", peer, gnutls_strerror(rc));
	return 0;
}

static int
tls_verify_fingerprint(struct tls *t, const struct tls_params *p,
    const char *peer, struct tls_info *info, struct err *e)
{
	gnutls_digest_algorithm_t alg;
	unsigned char cert_digest[TLS_DIGEST_MAX], key_digest[TLS_DIGEST_MAX];
	struct buf hex;
	const char *label;
	size_t	 size = 0, i;

	/* Checked by tls_check_params already. */
	if (tls_digest(p->fingerprint_digest, &alg, &label, e) == -1 ||
	    tls_leaf_digests(t, alg, cert_digest, key_digest, &size, e,
	    peer) == -1)
		return -1;
	if (tls_fingerprint_scan(p->fingerprints, cert_digest, key_digest, size,
	    e) == 0) {
		info->verified = true;
		(void)snprintf(info->verify_text, sizeof(info->verify_text),
		    "fingerprint matched");
		return 0;
	}
	/* Postfix's form, so the admin can paste it into the policy. */
	buf_init(&hex, 3 * TLS_DIGEST_MAX);
	for (i = 0; i < size; i++)
		(void)buf_printf(&hex, "%s%02X", i > 0 ? ":" : "",
		    cert_digest[i]);
	(void)snprintf(info->verify_text, sizeof(info->verify_text),
	    "fingerprint mismatch");
	(void)err_set(e, ERR_TEMP, "TLS fingerprint mismatch for %s: got %s "
	    "%s", peer, label, buf_cstr(&hex));
	buf_free(&hex);
	return -1;
}

static void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->session != NULL)
		gnutls_deinit(t->session);
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

int
tls_start(struct stream *s, const struct tls_params *p, struct tls **tp,
    struct tls_info *info, struct err *e)
{
	static const struct stream_ops ops = {
		tls_op_read, tls_op_write, tls_op_pending, tls_op_error, NULL
	};
	struct stream_ops swapped = ops;
	struct tls *t;
	const char *peer = tls_peer(s, p);
	char	*priority = NULL;
	int	 rc;

	*tp = NULL;
	memset(info, 0, sizeof(*info));
	(void)snprintf(info->verify_text, sizeof(info->verify_text),
	    "not verified (smtp_tls_security_level = %s)",
	    tls_level_name(p->level));
	/* RFC 3207 6: bytes read in clear must not pass as protected. */
	if (stream_pending_input(s) > 0)
		return err_set(e, ERR_PROTOCOL, "%s sent data before the TLS "
		    "handshake (possible response injection, RFC 3207 section "
		    "6); refusing to start TLS", peer);
	if (s->fd < 0)
		return err_set(e, ERR_SOFTWARE, "TLS: stream has no "
		    "connection");
	if (tls_check_params(p, &priority, e) == -1)
		return -1;
	t = xcalloc(1, sizeof(*t));
	rc = tls_session_new(t, s, p, priority, e);
	free(priority);
	if (rc == 0)
		rc = tls_handshake(t, s, p, peer, e);
	if (rc == 0) {
		tls_fill_info(t, info);
		if (tls_verifies(p->level))
			rc = tls_verify_chain(t, p, peer, info, e);
		else if (p->level == TLS_LEVEL_FINGERPRINT)
			rc = tls_verify_fingerprint(t, p, peer, info, e);
	}
	if (rc == -1) {
		tls_free(t);
		return -1;
	}
	swapped.ctx = t;
	stream_set_ops(s, &swapped);
	*tp = t;
	return 0;
}

void
tls_end(struct tls *t, struct stream *s)
{
	int	 rc;

	if (t == NULL)
		return;
	if (s != NULL && s->ops.ctx == t)
		stream_set_ops(s, NULL);
	/*
	 * One non-blocking try: close_notify is a courtesy, and after an I/O
	 * error GnuTLS just reports the session as unusable.
	 */
	if (s != NULL && s->fd >= 0)
		do
			rc = gnutls_bye(t->session, GNUTLS_SHUT_WR);
		while (rc == GNUTLS_E_INTERRUPTED);
	tls_free(t);
}

/* Maps a GnuTLS record result to what stream.c expects. */
static ssize_t
tls_op_result(struct tls *t, ssize_t n)
{
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN)
		return gnutls_record_get_direction(t->session) == 0 ?
		    STREAM_WANT_READ : STREAM_WANT_WRITE;
	if (n == GNUTLS_E_REHANDSHAKE)
		(void)snprintf(t->error, sizeof(t->error), "server asked for "
		    "TLS renegotiation, which we refuse");
	else
		tls_error_text(t->session, (int)n, errno, t->error,
		    sizeof(t->error));
	return STREAM_FAIL;
}

/* Without close_notify, EOF could be a truncation attack: a failure. */
static ssize_t
tls_op_read(void *ctx, void *p, size_t len)
{
	struct tls *t = ctx;
	ssize_t	 n;

	for (;;) {
		errno = 0;
		n = gnutls_record_recv(t->session, p, len);
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		/* Warning alerts and the like: the record layer goes on. */
		if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_REHANDSHAKE &&
		    !gnutls_error_is_fatal((int)n))
			continue;
		return tls_op_result(t, n);
	}
}

/*
 * After GNUTLS_E_AGAIN GnuTLS must be called again with the same data;
 * stream_flush() does so, as it only advances on bytes written.
 */
static ssize_t
tls_op_write(void *ctx, const void *p, size_t len)
{
	struct tls *t = ctx;
	ssize_t	 n;

	do {
		errno = 0;
		n = gnutls_record_send(t->session, p, len);
	} while (n == GNUTLS_E_INTERRUPTED);
	if (n == 0 && len > 0)
		n = GNUTLS_E_PUSH_ERROR;
	return tls_op_result(t, n);
}

static size_t
tls_op_pending(void *ctx)
{
	struct tls *t = ctx;

	return gnutls_record_check_pending(t->session);
}

static const char *
tls_op_error(void *ctx)
{
	struct tls *t = ctx;

	return t->error[0] != '\0' ? t->error : "TLS error";
}
