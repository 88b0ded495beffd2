/* SPDX-License-Identifier: ISC */
/*
 * tls against a GnuTLS server forked on a socketpair, with a throw-away CA
 * and certificates made by certtool(1) in a temporary directory: CA and
 * name verification, expiry, unknown issuer, fingerprint pins (certificate
 * and public key), protocol lists, client certificates, SNI, handshake
 * timeout, refused pending input, a 1 MiB transfer each way through the
 * swapped ops (socket buffers fill up: WANT_WRITE), and EOF with and
 * without close_notify.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "stream.h"
#include "tls.h"

#define TEST_MAX_LINE	1000
#define BIG_LINE	64
#define BIG_LINES	16384	/* 1 MiB */

enum server_mode {
	SERVER_ECHO,		/* one line back with what it saw */
	SERVER_BIG,		/* BIG_LINES in, checked, then the same out */
	SERVER_BYE,		/* close_notify, then close */
	SERVER_ABRUPT,		/* close without close_notify */
};

struct server {
	const char	*cert;		/* file in the temporary dir */
	bool		 require_client;
	enum server_mode mode;
};

enum pin {
	PIN_NONE,
	PIN_CERT,		/* upper case, ':' separated */
	PIN_SPKI,		/* lower case, plain */
	PIN_WRONG,
	PIN_LIST,		/* wrong one, then the certificate's */
};

struct tls_case {
	const char	*name;
	struct server	 server;
	enum tls_level	 level;
	const char	*servername;
	const char	*ca_file;	/* in tmpdir; "dir/" is a CApath */
	enum pin	 pin;
	const char	*digest;
	const char	*protocols;
	const char	*client_cert;	/* cli.pem + cli.key, or both in one */
	/* expectations */
	enum err_kind	 kind;		/* ERR_OK: tls_start succeeds */
	const char	*text;		/* substring of the error */
	bool		 verified;
	const char	*verify_text;	/* prefix */
	const char	*version;
	const char	*reply;		/* echo reply, exactly */
};

static char	 tmpdir[64];
static char	 cert_sha256[65], spki_sha256[65], cert_sha1[41];

static void	 die(const char *);
static void	 path(char *, size_t, const char *);
static void	 write_file(const char *, const char *);
static void	 certtool(const char *, const char *, const char *);
static int	 setup_certs(void);
static void	 read_pins(void);
static void	 remove_tree(const char *, int);
static void	 remove_tmpdir(void);
static void	 colon_upper(const char *, char *);
static void	 big_line(size_t, char *);
static int	 server_read_line(gnutls_session_t, char *, size_t);
static int	 server_big(gnutls_session_t);
static int	 server_session(int, const struct server *);
static pid_t	 server_start(int [2], const struct server *);
static int	 server_status(pid_t);
static void	 params_for(const struct tls_case *, struct tls_params *,
		    char [4][256], char *);
static void	 test_levels(void);
static void	 test_cases(void);
static void	 test_config_errors(void);
static void	 test_timeout(void);
static void	 test_pending_input(void);
static void	 test_partial_read(void);
static void	 test_big(void);
static void	 test_eof(void);
static ssize_t	 count_write(void *, const void *, size_t);
static ssize_t	 count_read(void *, void *, size_t);
static size_t	 count_pending(void *);
static const char *count_error(void *);

static void
die(const char *what)
{
	perror(what);
	remove_tmpdir();
	exit(1);
}

static void
path(char *out, size_t len, const char *name)
{
	(void)snprintf(out, len, "%s/%s", tmpdir, name);
}

static void
write_file(const char *name, const char *text)
{
	char	 p[256];
	FILE	*f;

	path(p, sizeof(p), name);
	if ((f = fopen(p, "w")) == NULL)
		die(p);
	(void)fputs(text, f);
	if (fclose(f) != 0)
		die(p);
}

/* Signs name.pem with the test CA (self-signed when ca is NULL). */
static void
certtool(const char *name, const char *key, const char *template)
{
	char	 cmd[1024];

	write_file("t.tmpl", template);
	if (strcmp(name, "ca") == 0)
		(void)snprintf(cmd, sizeof(cmd), "cd %s && certtool "
		    "--generate-self-signed --load-privkey %s.key "
		    "--template t.tmpl --outfile %s.pem >/dev/null 2>&1",
		    tmpdir, key, name);
	else
		(void)snprintf(cmd, sizeof(cmd), "cd %s && certtool "
		    "--generate-certificate --load-privkey %s.key "
		    "--load-ca-certificate ca.pem --load-ca-privkey ca.key "
		    "--template t.tmpl --outfile %s.pem >/dev/null 2>&1",
		    tmpdir, key, name);
	if (system(cmd) != 0)
		die(cmd);
}

static int
setup_certs(void)
{
	char	 cmd[512];
	const char *keys[] = { "ca", "srv", "cli" };
	size_t	 i;

	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tls.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		(void)snprintf(cmd, sizeof(cmd), "certtool --generate-privkey "
		    "--key-type=ecdsa --outfile %s/%s.key >/dev/null 2>&1",
		    tmpdir, keys[i]);
		if (system(cmd) != 0)
			return -1;
	}
	certtool("ca", "ca", "cn = \"sendrelay test CA\"\nca\n"
	    "cert_signing_key\nexpiration_days = 2\n");
	certtool("srv", "srv", "cn = \"mail.test\"\ndns_name = \"mail.test\"\n"
	    "tls_www_server\nsigning_key\nexpiration_days = 2\n");
	certtool("other", "srv", "cn = \"other.test\"\n"
	    "dns_name = \"other.test\"\ntls_www_server\nsigning_key\n"
	    "expiration_days = 2\n");
	certtool("old", "srv", "cn = \"mail.test\"\ndns_name = \"mail.test\"\n"
	    "tls_www_server\nsigning_key\n"
	    "activation_date = \"2001-01-01 00:00:00\"\n"
	    "expiration_date = \"2001-02-01 00:00:00\"\n");
	certtool("cli", "cli", "cn = \"client.test\"\ntls_www_client\n"
	    "signing_key\nexpiration_days = 2\n");
	write_file("empty.pem", "");
	(void)snprintf(cmd, sizeof(cmd), "cd %s && mkdir capath othercapath "
	    "empty && cp ca.pem capath/ && cp other.pem othercapath/ && "
	    "cat cli.pem cli.key >both.pem", tmpdir);
	if (system(cmd) != 0)
		return -1;
	read_pins();
	return 0;
}

/* certtool's own digests, so the test does not share tls.c's code. */
static void
read_pins(void)
{
	char	 cmd[256], line[512], *p;
	int	 section = 0;
	FILE	*f;

	(void)snprintf(cmd, sizeof(cmd), "certtool -i --infile %s/srv.pem",
	    tmpdir);
	if ((f = popen(cmd, "r")) == NULL)
		die("popen");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "Fingerprint:") != NULL)
			section = 1;
		else if (strstr(line, "Public Key ID:") != NULL)
			section = 2;
		else if (strstr(line, ":") != NULL &&
		    strstr(line, "sha") == NULL)
			section = 0;
		if ((p = strstr(line, "sha256:")) != NULL && section == 1)
			(void)sscanf(p + 7, "%64s", cert_sha256);
		if ((p = strstr(line, "sha1:")) != NULL && section == 1)
			(void)sscanf(p + 5, "%40s", cert_sha1);
		if ((p = strstr(line, "sha256:")) != NULL && section == 2)
			(void)sscanf(p + 7, "%64s", spki_sha256);
	}
	(void)pclose(f);
	if (strlen(cert_sha256) != 64 || strlen(spki_sha256) != 64 ||
	    strlen(cert_sha1) != 40) {
		fprintf(stderr, "cannot read digests from certtool -i\n");
		remove_tmpdir();
		exit(1);
	}
}

/* One level of subdirectories is all setup_certs makes. */
static void
remove_tree(const char *top, int depth)
{
	char	 p[512];
	struct dirent *d;
	DIR	*dir;

	if ((dir = opendir(top)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", top, d->d_name);
		if (unlink(p) == -1 && depth > 0)
			remove_tree(p, depth - 1);
	}
	(void)closedir(dir);
	(void)rmdir(top);
}

static void
remove_tmpdir(void)
{
	if (tmpdir[0] == '\0')
		return;
	remove_tree(tmpdir, 1);
	tmpdir[0] = '\0';
}

/* "abcd..." to "AB:CD:..." (out holds 3 * 32 bytes). */
static void
colon_upper(const char *hex, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; hex[i] != '\0'; i++) {
		if (i > 0 && i % 2 == 0)
			out[o++] = ':';
		out[o++] = (char)(hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i]);
	}
	out[o] = '\0';
}

/* Line i of the big transfer: BIG_LINE bytes ending in CR LF. */
static void
big_line(size_t i, char *out)
{
	size_t	 j;

	(void)snprintf(out, BIG_LINE, "%08zu-", i);
	for (j = 9; j < BIG_LINE - 2; j++)
		out[j] = (char)('a' + (i + j) % 26);
	out[BIG_LINE - 2] = '\r';
	out[BIG_LINE - 1] = '\n';
}

static int
server_read_line(gnutls_session_t s, char *line, size_t len)
{
	size_t	 n = 0;
	ssize_t	 r;

	while (n + 1 < len) {
		if ((r = gnutls_record_recv(s, line + n, 1)) <= 0)
			return -1;
		if (line[n] == '\n')
			break;
		n++;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* Sleeps first, so the client's writes meet a full socket buffer. */
static int
server_big(gnutls_session_t s)
{
	char	*in, want[BIG_LINE];
	size_t	 got = 0, i, total = (size_t)BIG_LINE * BIG_LINES;
	ssize_t	 r;
	int	 rc = 0;

	in = malloc(total);
	(void)usleep(300 * 1000);
	while (got < total) {
		r = gnutls_record_recv(s, in + got, total - got);
		if (r <= 0) {
			free(in);
			return 4;
		}
		got += (size_t)r;
	}
	for (i = 0; i < BIG_LINES; i++) {
		big_line(i, want);
		if (memcmp(in + i * BIG_LINE, want, BIG_LINE) != 0)
			rc = 5;
	}
	for (got = 0; got < total; got += (size_t)r)
		if ((r = gnutls_record_send(s, in + got, total - got)) <= 0) {
			rc = 6;
			break;
		}
	free(in);
	return rc;
}

/* The child's whole life: 0 when it saw what the case expects. */
static int
server_session(int fd, const struct server *srv)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	char	 cert[256], key[256], ca[256], line[512], reply[800];
	char	 sni[256] = "";
	size_t	 snilen = sizeof(sni);
	unsigned type, status = 1;
	int	 rc;

	path(cert, sizeof(cert), srv->cert);
	path(key, sizeof(key), "srv.key");
	path(ca, sizeof(ca), "ca.pem");
	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(cred, cert, key,
	    GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, ca,
	    GNUTLS_X509_FMT_PEM) <= 0 ||
	    gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) < 0 ||
	    gnutls_set_default_priority(s) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		return 10;
	if (srv->require_client)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		return 11;
	if (gnutls_server_name_get(s, sni, &snilen, &type, 0) < 0)
		sni[0] = '\0';
	if (srv->require_client)
		(void)gnutls_certificate_verify_peers2(s, &status);
	switch (srv->mode) {
	case SERVER_ECHO:
		if (server_read_line(s, line, sizeof(line)) == -1)
			return 12;
		(void)snprintf(reply, sizeof(reply), "%s sni=%s%s\r\n", line,
		    sni, !srv->require_client ? "" : status == 0 ?
		    " client=ok" : " client=bad");
		if (gnutls_record_send(s, reply, strlen(reply)) < 0)
			return 13;
		break;
	case SERVER_BIG:
		if ((rc = server_big(s)) != 0)
			return rc;
		break;
	case SERVER_BYE:
		(void)gnutls_bye(s, GNUTLS_SHUT_WR);
		return 0;
	case SERVER_ABRUPT:
		return 0;
	}
	/* The client's close_notify (tls_end) ends the session. */
	return gnutls_record_recv(s, line, sizeof(line)) == 0 ? 0 : 14;
}

static pid_t
server_start(int sv[2], const struct server *srv)
{
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	(void)fflush(stdout);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		(void)close(sv[0]);
		(void)alarm(20);
		/* _exit: no atexit handlers, no leak report for the child. */
		_exit(server_session(sv[1], srv));
	}
	(void)close(sv[1]);
	return pid;
}

static int
server_status(pid_t pid)
{
	int	 status;

	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void
params_for(const struct tls_case *tc, struct tls_params *p,
    char files[4][256], char *pins)
{
	char	 colon[3 * 32 + 1];

	memset(p, 0, sizeof(*p));
	p->level = tc->level;
	p->servername = tc->servername;
	p->protocols = tc->protocols;
	p->fingerprint_digest = tc->digest;
	if (tc->ca_file != NULL) {
		path(files[0], 256, tc->ca_file);
		if (tc->ca_file[strlen(tc->ca_file) - 1] == '/')
			p->ca_path = files[0];
		else
			p->ca_file = files[0];
	}
	if (tc->client_cert != NULL) {
		path(files[1], 256, tc->client_cert);
		p->cert_file = files[1];
		/* Otherwise the key is in the certificate's file. */
		if (strcmp(tc->client_cert, "cli.pem") == 0) {
			path(files[2], 256, "cli.key");
			p->key_file = files[2];
		}
	}
	colon_upper(cert_sha256, colon);
	switch (tc->pin) {
	case PIN_NONE:
		pins[0] = '\0';
		break;
	case PIN_CERT:
		(void)sprintf(pins, "%s", colon);
		break;
	case PIN_SPKI:
		(void)sprintf(pins, "%s", spki_sha256);
		break;
	case PIN_WRONG:
		(void)sprintf(pins, "%s", spki_sha256 + 2);
		(void)strcat(pins, "00");
		break;
	case PIN_LIST:
		(void)sprintf(pins, "00:11:22,\n %s | %s", cert_sha1,
		    cert_sha256);
		break;
	}
	p->fingerprints = pins;
}

static void
test_levels(void)
{
	static const char *names[] = { "none", "may", "encrypt",
	    "fingerprint", "verify", "secure" };
	enum tls_level level;
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		level = TLS_LEVEL_NONE;
		CHECK(tls_level_parse(names[i], &level) == 0 &&
		    (size_t)level == i, "level %s parses", names[i]);
		CHECK_STR(tls_level_name(level), names[i], "level %s name",
		    names[i]);
	}
	CHECK(tls_level_parse("dane", &level) == -1, "level dane refused");
	CHECK(tls_level_parse("", &level) == -1, "empty level refused");
	CHECK(tls_level_parse(NULL, &level) == -1, "NULL level refused");
}

static const struct tls_case cases[] = {
	{ "verify ok", { "srv.pem", false, SERVER_ECHO }, TLS_LEVEL_VERIFY,
	    "mail.test", "ca.pem", PIN_NONE, NULL, NULL, NULL,
	    ERR_OK, NULL, true, "trusted", NULL, "hello sni=mail.test" },
	{ "verify ok with CApath", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_VERIFY, "mail.test", "capath/", PIN_NONE, NULL, NULL,
	    NULL, ERR_OK, NULL, true, "trusted", NULL, "hello sni=mail.test" },
	{ "CApath without our CA", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_VERIFY, "mail.test", "othercapath/", PIN_NONE, NULL,
	    NULL, NULL,
	    ERR_TEMP, "certificate issuer is unknown", false, NULL, NULL,
	    NULL },
	{ "secure ok, TLSv1.2 only", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_SECURE, "mail.test", "ca.pem", PIN_NONE, NULL,
	    "TLSv1.2", NULL, ERR_OK, NULL, true, "trusted", "TLS1.2",
	    "hello sni=mail.test" },
	{ "protocols >=TLSv1.3", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_VERIFY, "mail.test", "ca.pem", PIN_NONE, NULL,
	    ">=TLSv1.3", NULL, ERR_OK, NULL, true, "trusted", "TLS1.3",
	    "hello sni=mail.test" },
	{ "protocols exclusions", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_ENCRYPT, "mail.test", NULL, PIN_NONE, NULL,
	    "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1 !TLSv1.3", NULL, ERR_OK, NULL,
	    false, "not verified", "TLS1.2", "hello sni=mail.test" },
	{ "protocols bounds", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_ENCRYPT, "mail.test", NULL, PIN_NONE, NULL,
	    ">=TLSv1.1 <=TLSv1.2", NULL, ERR_OK, NULL, false,
	    "not verified", "TLS1.2", "hello sni=mail.test" },
	{ "name mismatch", { "other.pem", false, SERVER_ECHO },
	    TLS_LEVEL_VERIFY, "mail.test", "ca.pem", PIN_NONE, NULL, NULL,
	    NULL, ERR_TEMP, "TLS certificate verification failed for "
	    "mail.test: certificate name does not match mail.test", false,
	    "certificate name does not match", NULL, NULL },
	{ "unknown issuer", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_VERIFY, "mail.test", NULL, PIN_NONE, NULL, NULL, NULL,
	    ERR_TEMP, "certificate issuer is unknown", false, NULL, NULL,
	    NULL },
	{ "expired", { "old.pem", false, SERVER_ECHO }, TLS_LEVEL_SECURE,
	    "mail.test", "ca.pem", PIN_NONE, NULL, NULL, NULL, ERR_TEMP,
	    "certificate has expired", false, "certificate has expired",
	    NULL, NULL },
	{ "encrypt, wrong name", { "other.pem", false, SERVER_ECHO },
	    TLS_LEVEL_ENCRYPT, "mail.test", NULL, PIN_NONE, NULL, NULL, NULL,
	    ERR_OK, NULL, false, "not verified (smtp_tls_security_level = "
	    "encrypt)", NULL, "hello sni=mail.test" },
	{ "encrypt, IP literal: no SNI", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_ENCRYPT, "127.0.0.1", NULL, PIN_NONE, NULL, NULL, NULL,
	    ERR_OK, NULL, false, "not verified", NULL, "hello sni=" },
	{ "may, expired", { "old.pem", false, SERVER_ECHO }, TLS_LEVEL_MAY,
	    "mail.test", NULL, PIN_NONE, NULL, NULL, NULL, ERR_OK, NULL,
	    false, "not verified (smtp_tls_security_level = may)", NULL,
	    "hello sni=mail.test" },
	{ "fingerprint of cert", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_FINGERPRINT, "mail.test", NULL, PIN_CERT, NULL, NULL,
	    NULL, ERR_OK, NULL, true, "fingerprint matched", NULL,
	    "hello sni=mail.test" },
	{ "fingerprint of public key, expired", { "old.pem", false,
	    SERVER_ECHO }, TLS_LEVEL_FINGERPRINT, "mail.test", NULL, PIN_SPKI,
	    "SHA256", NULL, NULL, ERR_OK, NULL, true, "fingerprint matched",
	    NULL, "hello sni=mail.test" },
	{ "fingerprint sha1 in a list", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_FINGERPRINT, "mail.test", NULL, PIN_LIST, "sha1", NULL,
	    NULL, ERR_OK, NULL, true, "fingerprint matched", NULL,
	    "hello sni=mail.test" },
	{ "fingerprint mismatch", { "srv.pem", false, SERVER_ECHO },
	    TLS_LEVEL_FINGERPRINT, "mail.test", NULL, PIN_WRONG, NULL, NULL,
	    NULL, ERR_TEMP, "TLS fingerprint mismatch for mail.test: got "
	    "SHA256 ", false, "fingerprint mismatch", NULL, NULL },
	{ "client certificate", { "srv.pem", true, SERVER_ECHO },
	    TLS_LEVEL_VERIFY, "mail.test", "ca.pem", PIN_NONE, NULL, NULL,
	    "cli.pem", ERR_OK, NULL, true, "trusted", NULL,
	    "hello sni=mail.test client=ok" },
	{ "client certificate and key in one file", { "srv.pem", true,
	    SERVER_ECHO }, TLS_LEVEL_ENCRYPT, "mail.test", NULL, PIN_NONE,
	    NULL, NULL, "both.pem", ERR_OK, NULL, false, "not verified", NULL,
	    "hello sni=mail.test client=ok" },
	/* TLS 1.2: the server refuses before its Finished, so in the
	 * handshake (TLS 1.3 clients learn it only at the first read). */
	{ "client certificate missing", { "srv.pem", true, SERVER_ECHO },
	    TLS_LEVEL_ENCRYPT, "mail.test", NULL, PIN_NONE, NULL, "TLSv1.2",
	    NULL, ERR_TEMP, "TLS handshake with mail.test failed: ", false,
	    NULL, NULL, NULL },
};

static void
test_cases(void)
{
	const struct tls_case *tc;
	struct tls_params p;
	struct tls_info info;
	struct stream s;
	struct tls *t;
	struct buf line;
	struct err e;
	char	 files[4][256], pins[512], colon[3 * 32 + 1];
	int	 sv[2], rc;
	pid_t	 pid;
	size_t	 i;

	buf_init(&line, TEST_MAX_LINE);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tc = &cases[i];
		params_for(tc, &p, files, pins);
		pid = server_start(sv, &tc->server);
		stream_init(&s, sv[0], TEST_MAX_LINE);
		stream_set_timeout(&s, 10,
		    "while performing the TLS handshake");
		err_clear(&e);
		rc = tls_start(&s, &p, &t, &info, &e);
		if (tc->kind != ERR_OK) {
			CHECK(rc == -1 && e.kind == tc->kind && t == NULL,
			    "%s: fails (kind %d)", tc->name, e.kind);
			CHECK(strstr(e.text, tc->text) != NULL,
			    "%s: error text", tc->name);
			if (strstr(e.text, tc->text) == NULL)
				printf("#   got \"%s\"\n", e.text);
			CHECK(s.ops.ctx == &s, "%s: plain ops kept", tc->name);
		} else {
			CHECK(rc == 0 && t != NULL, "%s: starts", tc->name);
			if (rc == -1)
				printf("#   got \"%s\"\n", e.text);
		}
		if (tc->verify_text != NULL)
			CHECK(strncmp(info.verify_text, tc->verify_text,
			    strlen(tc->verify_text)) == 0 &&
			    info.verified == tc->verified,
			    "%s: verify text \"%s\"", tc->name,
			    info.verify_text);
		if (tc->pin == PIN_WRONG) {
			colon_upper(cert_sha256, colon);
			CHECK(strstr(e.text, colon) != NULL,
			    "%s: shows the real fingerprint", tc->name);
		}
		if (rc == 0) {
			if (tc->version != NULL)
				CHECK_STR(info.version, tc->version,
				    "%s: version", tc->name);
			CHECK(info.cipher[0] != '\0' &&
			    strstr(info.issuer, "sendrelay test CA") != NULL &&
			    strstr(info.subject, "CN=") != NULL &&
			    info.expires > 0, "%s: info (%s, %s, %s)",
			    tc->name, info.version, info.cipher, info.subject);
			rc = stream_puts(&s, "hello\r\n", &e) == 0 &&
			    stream_flush(&s, &e) == 0 &&
			    stream_read_line(&s, &line, &e) == 0 ? 0 : -1;
			CHECK(rc == 0, "%s: round trip", tc->name);
			CHECK_STR(rc == 0 ? buf_cstr(&line) : e.text,
			    tc->reply, "%s: reply", tc->name);
			tls_end(t, &s);
			CHECK(s.ops.ctx == &s, "%s: plain ops back", tc->name);
		}
		stream_close(&s);
		rc = server_status(pid);
		if (tc->kind == ERR_OK)
			CHECK(rc == 0, "%s: server content (%d)", tc->name, rc);
	}
	buf_free(&line);
}

static const struct {
	const char	*name;
	enum tls_level	 level;
	const char	*ca_file;
	const char	*cert_file;
	const char	*protocols;
	const char	*digest;
	const char	*fingerprints;
	const char	*servername;
	const char	*text;
} bad_configs[] = {
	{ "unknown protocol", TLS_LEVEL_ENCRYPT, NULL, NULL, "TLSv9",
	    NULL, NULL, "mail.test",
	    "TLS protocols \"TLSv9\": syntax error at \"TLSv9\"" },
	{ "dangling bound", TLS_LEVEL_ENCRYPT, NULL, NULL, "TLSv1.2 >=",
	    NULL, NULL, "mail.test", "\"TLSv1.2 >=\": syntax" },
	{ "double negation", TLS_LEVEL_ENCRYPT, NULL, NULL, "!!TLSv1",
	    NULL, NULL, "mail.test", "\"!!TLSv1\": syntax" },
	{ "bound and negation", TLS_LEVEL_ENCRYPT, NULL, NULL,
	    ">=!TLSv1", NULL, NULL, "mail.test", "syntax" },
	{ "nothing allowed", TLS_LEVEL_ENCRYPT, NULL, NULL,
	    "!TLSv1, !TLSv1.1, !TLSv1.2, !TLSv1.3", NULL, NULL,
	    "mail.test", "allow no protocol" },
	{ "SSLv3 only", TLS_LEVEL_ENCRYPT, NULL, NULL, "SSLv3", NULL,
	    NULL, "mail.test", "\"SSLv3\" allow no protocol" },
	{ "empty range", TLS_LEVEL_ENCRYPT, NULL, NULL,
	    ">=TLSv1.3 <=TLSv1.2", NULL, NULL, "mail.test",
	    "allow no protocol" },
	{ "missing CAfile", TLS_LEVEL_VERIFY, "/nonexistent/ca.pem",
	    NULL, NULL, NULL, NULL, "mail.test",
	    "cannot load CAfile /nonexistent/ca.pem" },
	{ "empty CAfile", TLS_LEVEL_VERIFY, "empty.pem", NULL, NULL,
	    NULL, NULL, "mail.test", "/empty.pem holds no PEM" },
	{ "empty CApath", TLS_LEVEL_VERIFY, "empty/", NULL, NULL,
	    NULL, NULL, "mail.test", "CApath " },
	{ "missing CApath", TLS_LEVEL_VERIFY, "/nonexistent/", NULL,
	    NULL, NULL, NULL, "mail.test",
	    "cannot load CApath /nonexistent/: No such file" },
	{ "missing client cert", TLS_LEVEL_ENCRYPT, NULL,
	    "/nonexistent/cli.pem", NULL, NULL, NULL, "mail.test",
	    "client certificate /nonexistent/cli.pem with key" },
	{ "bad digest", TLS_LEVEL_FINGERPRINT, NULL, NULL, NULL, "md5",
	    "00:11", "mail.test", "digest \"md5\"" },
	{ "bad fingerprint", TLS_LEVEL_FINGERPRINT, NULL, NULL, NULL,
	    NULL, "00:11 zz:yy", "mail.test", "\"zz:yy\"" },
	{ "no fingerprint", TLS_LEVEL_FINGERPRINT, NULL, NULL, NULL,
	    NULL, " ,", "mail.test", "at least one fingerprint" },
	{ "verify without name", TLS_LEVEL_VERIFY, NULL, NULL, NULL,
	    NULL, NULL, NULL, "needs a server name" },
};
/* Refused before any byte is sent: the peer is never read from. */
static void
test_config_errors(void)
{
	struct tls_params p;
	struct tls_info info;
	struct stream s;
	struct tls *t;
	struct err e;
	char	 file[256];
	int	 sv[2], rc;
	size_t	 i;

	for (i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]);
	    i++) {
		memset(&p, 0, sizeof(p));
		p.level = bad_configs[i].level;
		p.servername = bad_configs[i].servername;
		p.protocols = bad_configs[i].protocols;
		p.fingerprint_digest = bad_configs[i].digest;
		p.fingerprints = bad_configs[i].fingerprints;
		p.cert_file = bad_configs[i].cert_file;
		p.ca_file = bad_configs[i].ca_file;
		if (p.ca_file != NULL && p.ca_file[0] != '/') {
			path(file, sizeof(file), p.ca_file);
			p.ca_file = file;
		}
		if (p.ca_file != NULL && p.ca_file[strlen(p.ca_file) - 1] ==
		    '/') {
			p.ca_path = p.ca_file;
			p.ca_file = NULL;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			die("socketpair");
		stream_init(&s, sv[0], TEST_MAX_LINE);
		stream_set_timeout(&s, 2, "while performing the TLS handshake");
		rc = tls_start(&s, &p, &t, &info, &e);
		CHECK(rc == -1 && e.kind == ERR_CONFIG && t == NULL,
		    "config %s: ERR_CONFIG (kind %d)", bad_configs[i].name,
		    e.kind);
		CHECK(strstr(e.text, bad_configs[i].text) != NULL,
		    "config %s: text", bad_configs[i].name);
		if (strstr(e.text, bad_configs[i].text) == NULL)
			printf("#   got \"%s\"\n", e.text);
		stream_close(&s);
		(void)close(sv[1]);
	}
}

/*
 * The caller's deadline (pass 0), or params' timeout when none is armed.
 * The silent peer hangs up after 5 s, so a missed deadline fails, not hangs.
 */
static void
test_timeout(void)
{
	struct tls_params p;
	struct tls_info info;
	struct timespec t0, t1;
	struct stream s;
	struct tls *t;
	struct err e;
	double	 elapsed;
	int	 sv[2], rc, pass;
	pid_t	 pid;

	for (pass = 0; pass < 2; pass++) {
		memset(&p, 0, sizeof(p));
		p.level = TLS_LEVEL_ENCRYPT;
		p.servername = "mail.test";
		p.timeout = pass == 0 ? 30 : 1;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			die("socketpair");
		(void)fflush(stdout);
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			(void)close(sv[0]);
			(void)sleep(5);
			_exit(0);
		}
		(void)close(sv[1]);
		stream_init(&s, sv[0], TEST_MAX_LINE);
		s.peer = "mail.test[127.0.0.1]:25";
		(void)clock_gettime(CLOCK_MONOTONIC, &t0);
		if (pass == 0)
			stream_set_timeout(&s, 1,
			    "while performing the TLS handshake");
		rc = tls_start(&s, &p, &t, &info, &e);
		(void)clock_gettime(CLOCK_MONOTONIC, &t1);
		elapsed = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		CHECK(rc == -1 && e.kind == ERR_TEMP,
		    "silent server %d: ERR_TEMP", pass);
		CHECK_STR(e.text, "timed out while performing the TLS "
		    "handshake (mail.test[127.0.0.1]:25)",
		    "silent server %d: text", pass);
		CHECK(elapsed > 0.9 && elapsed < 3,
		    "silent server %d: after %.2f s", pass, elapsed);
		stream_close(&s);
		(void)kill(pid, SIGTERM);
		(void)waitpid(pid, NULL, 0);
	}
}

static void
test_pending_input(void)
{
	struct tls_params p;
	struct tls_info info;
	struct stream s;
	struct buf line;
	struct tls *t;
	struct err e;
	int	 sv[2], rc;

	memset(&p, 0, sizeof(p));
	p.level = TLS_LEVEL_ENCRYPT;
	p.servername = "mail.test";
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	if (write(sv[1], "220 go ahead\r\nINJECTED\r\n", 24) != 24)
		die("write");
	stream_init(&s, sv[0], TEST_MAX_LINE);
	s.peer = "mail.test[127.0.0.1]:25";
	stream_set_timeout(&s, 2, "reading STARTTLS reply");
	buf_init(&line, TEST_MAX_LINE);
	CHECK(stream_read_line(&s, &line, &e) == 0, "pending: reply read");
	rc = tls_start(&s, &p, &t, &info, &e);
	CHECK(rc == -1 && e.kind == ERR_PROTOCOL && t == NULL,
	    "pending: refused");
	CHECK(strstr(e.text, "mail.test[127.0.0.1]:25 sent data before the "
	    "TLS handshake") != NULL, "pending: text");
	buf_free(&line);
	stream_close(&s);
	(void)close(sv[1]);
}

/*
 * A read smaller than a record leaves decrypted bytes in GnuTLS, which
 * pending must report: stream.c would otherwise poll a quiet socket.
 */
static void
test_partial_read(void)
{
	static const struct server srv = { "srv.pem", false, SERVER_ECHO };
	struct tls_params p;
	struct tls_info info;
	struct stream s;
	struct tls *t;
	struct err e;
	char	 got[64];
	size_t	 len = 0, held = 0;
	ssize_t	 n;
	int	 sv[2], rc;
	pid_t	 pid;

	memset(&p, 0, sizeof(p));
	p.level = TLS_LEVEL_ENCRYPT;
	p.servername = "mail.test";
	pid = server_start(sv, &srv);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 10, "reading reply");
	rc = tls_start(&s, &p, &t, &info, &e);
	CHECK(rc == 0, "partial read: starts");
	if (rc == 0) {
		rc = stream_puts(&s, "hi\r\n", &e) == 0 &&
		    stream_flush(&s, &e) == 0 ? 0 : -1;
		while (rc == 0 && len < 5) {
			n = s.ops.read(s.ops.ctx, got + len, 5 - len);
			if (n > 0)
				len += (size_t)n;
			else if (n == STREAM_WANT_READ ||
			    n == STREAM_WANT_WRITE)
				rc = stream_wait(&s, n == STREAM_WANT_READ,
				    &e);
			else
				rc = -1;
		}
		held = stream_pending_input(&s);
		CHECK(rc == 0 && held == strlen("hi sni=mail.test\r\n") - 5,
		    "partial read: %zu bytes held decrypted", held);
		n = s.ops.read(s.ops.ctx, got + len, sizeof(got) - len - 1);
		len += n > 0 ? (size_t)n : 0;
		got[len] = '\0';
		CHECK_STR(got, "hi sni=mail.test\r\n",
		    "partial read: the rest without waiting");
		tls_end(t, &s);
	}
	stream_close(&s);
	CHECK(server_status(pid) == 0, "partial read: server done");
}

/* Wraps the TLS ops to see that the WANT_* paths really ran. */
struct counter {
	struct stream_ops inner;
	int	 want_write;
};

static ssize_t
count_write(void *ctx, const void *p, size_t len)
{
	struct counter *c = ctx;
	ssize_t	 n = c->inner.write(c->inner.ctx, p, len);

	c->want_write += n == STREAM_WANT_WRITE;
	return n;
}

static ssize_t
count_read(void *ctx, void *p, size_t len)
{
	struct counter *c = ctx;

	return c->inner.read(c->inner.ctx, p, len);
}

static size_t
count_pending(void *ctx)
{
	struct counter *c = ctx;

	return c->inner.pending(c->inner.ctx);
}

static const char *
count_error(void *ctx)
{
	struct counter *c = ctx;

	return c->inner.error(c->inner.ctx);
}

static void
test_big(void)
{
	static const struct server srv = { "srv.pem", false, SERVER_BIG };
	struct stream_ops wrap = { count_read, count_write, count_pending,
	    count_error, NULL };
	struct counter c;
	struct tls_params p;
	struct tls_info info;
	struct stream s;
	struct buf line;
	struct tls *t;
	struct err e;
	char	 want[BIG_LINE];
	size_t	 i, bad = 0;
	int	 sv[2], rc;
	pid_t	 pid;

	memset(&p, 0, sizeof(p));
	p.level = TLS_LEVEL_ENCRYPT;
	p.servername = "mail.test";
	pid = server_start(sv, &srv);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 20, "during the big transfer");
	buf_init(&line, TEST_MAX_LINE);
	rc = tls_start(&s, &p, &t, &info, &e);
	CHECK(rc == 0, "big: starts");
	if (rc == 0) {
		memset(&c, 0, sizeof(c));
		c.inner = s.ops;
		wrap.ctx = &c;
		stream_set_ops(&s, &wrap);
		for (i = 0; i < BIG_LINES && rc == 0; i++) {
			big_line(i, want);
			rc = stream_write(&s, want, BIG_LINE, &e);
		}
		if (rc == 0)
			rc = stream_flush(&s, &e);
		CHECK(rc == 0, "big: 1 MiB written");
		for (i = 0; i < BIG_LINES && rc == 0; i++) {
			if ((rc = stream_read_line(&s, &line, &e)) == -1)
				break;
			big_line(i, want);
			bad += line.len != BIG_LINE - 2 ||
			    memcmp(line.data, want, BIG_LINE - 2) != 0;
		}
		CHECK(rc == 0 && bad == 0, "big: 1 MiB read back intact "
		    "(%zu bad)", bad);
		CHECK(c.want_write > 0, "big: writes waited (%d)",
		    c.want_write);
		if (rc == -1)
			printf("#   %s\n", e.text);
		stream_set_ops(&s, &c.inner);
		tls_end(t, &s);
	}
	buf_free(&line);
	stream_close(&s);
	CHECK(server_status(pid) == 0, "big: server saw it intact");
}

/* close_notify is a clean EOF; a bare TCP close is a truncation. */
static void
test_eof(void)
{
	static const struct {
		const char	*name;
		enum server_mode mode;
		const char	*text;
	} eofs[] = {
		{ "close_notify", SERVER_BYE, "connection closed by "
		    "mail.test[127.0.0.1]:25 reading reply" },
		{ "abrupt close", SERVER_ABRUPT, "lost connection with "
		    "mail.test[127.0.0.1]:25 reading reply: " },
	};
	struct server srv = { "srv.pem", false, SERVER_BYE };
	struct tls_params p;
	struct tls_info info;
	struct stream s;
	struct buf line;
	struct tls *t;
	struct err e;
	int	 sv[2], rc;
	size_t	 i;
	pid_t	 pid;

	memset(&p, 0, sizeof(p));
	p.level = TLS_LEVEL_ENCRYPT;
	p.servername = "mail.test";
	buf_init(&line, TEST_MAX_LINE);
	for (i = 0; i < sizeof(eofs) / sizeof(eofs[0]); i++) {
		srv.mode = eofs[i].mode;
		pid = server_start(sv, &srv);
		stream_init(&s, sv[0], TEST_MAX_LINE);
		s.peer = "mail.test[127.0.0.1]:25";
		stream_set_timeout(&s, 10, "reading reply");
		rc = tls_start(&s, &p, &t, &info, &e);
		CHECK(rc == 0, "%s: starts", eofs[i].name);
		if (rc == 0) {
			rc = stream_read_line(&s, &line, &e);
			CHECK(rc == -1 && e.kind == ERR_TEMP &&
			    strncmp(e.text, eofs[i].text,
			    strlen(eofs[i].text)) == 0, "%s: \"%s\"",
			    eofs[i].name, e.text);
			/* Also after the failure: tls_end must be safe. */
			tls_end(t, &s);
		}
		stream_close(&s);
		CHECK(server_status(pid) == 0, "%s: server done",
		    eofs[i].name);
	}
	buf_free(&line);
}

int
main(void)
{
	if (system("certtool --version >/dev/null 2>&1") != 0) {
		/* 77: automake's "skipped". */
		printf("1..0 # SKIP certtool (gnutls-bin) not installed\n");
		return 77;
	}
	if (setup_certs() == -1) {
		remove_tmpdir();
		printf("not ok 1 - certificates made\n1..1\n");
		return 1;
	}
	test_levels();
	test_config_errors();
	test_cases();
	test_timeout();
	test_pending_input();
	test_partial_read();
	test_big();
	test_eof();
	remove_tmpdir();
	return check_done();
}
