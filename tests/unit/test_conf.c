/* SPDX-License-Identifier: ISC */
/*
 * conf: main.cf syntax, $name expansion, typed values and their errors,
 * warnings for unused and unknown names, conf_load paths, defaults.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "err.h"

#define T_GETS_MAX	4

struct conf_case {
	const char	*name;
	const char	*text;
	const char	*error;		/* substring of err.text; NULL: success */
	/* "name", "expected value" (NULL: conf_get must return NULL). */
	const char	*gets[T_GETS_MAX][2];
	int		 warnings;	/* exact count; -1: do not check */
	const char	*warning;	/* substring of some warning, or NULL */
};

/* Every case sets myhostname, so no case depends on the machine. */
#define H	"myhostname = host.example.org\n"

static const struct conf_case cases[] = {
	{ "empty", H, NULL, { { "relayhost", "" },
	  { "myorigin", "host.example.org" }, { "mydomain", "example.org" },
	  { "smtp_helo_name", "host.example.org" } }, 0, NULL },
	{ "simple", H "relayhost = [smtp.example.net]:587\n", NULL,
	  { { "relayhost", "[smtp.example.net]:587" } }, 0, NULL },
	{ "spaces trimmed", H "relayhost=x  \n  \nmyorigin   =   a b  \r\n",
	  NULL, { { "relayhost", "x" }, { "myorigin", "a b" } }, 0, NULL },
	{ "empty value", H "relayhost =\n", NULL, { { "relayhost", "" } },
	  0, NULL },
	{ "no final newline", H "relayhost = x", NULL,
	  { { "relayhost", "x" } }, 0, NULL },
	{ "continuation", H "relayhost = a\n  b\n\tc\n", NULL,
	  { { "relayhost", "a b c" } }, 0, NULL },
	{ "comments and blanks inside a logical line",
	  H "relayhost = a\n# note\n\n   # indented\n  b\nmyorigin = o\n",
	  NULL, { { "relayhost", "a b" }, { "myorigin", "o" } }, 0, NULL },
	{ "# inside a value is literal", H "relayhost = a # b\n", NULL,
	  { { "relayhost", "a # b" } }, 0, NULL },
	{ "later definition wins", H "relayhost = a\nrelayhost = b\n", NULL,
	  { { "relayhost", "b" } }, 0, NULL },
	{ "no '='", H "relayhost example.net\n",
	  "main.cf:2: expected 'name = value'", { { NULL } }, -1, NULL },
	{ "no name", H "= x\n", "main.cf:2: expected 'name = value'",
	  { { NULL } }, -1, NULL },
	{ "bad name char", H "relay.host = x\n", "main.cf:2: expected",
	  { { NULL } }, -1, NULL },
	{ "leading continuation", "  relayhost = x\n", "main.cf:1: expected",
	  { { NULL } }, -1, NULL },
	{ "NUL byte", H "relayhost = a\0b\n", "main.cf:2: NUL",
	  { { NULL } }, -1, NULL },
	{ "expansion is order-independent",
	  H "myorigin = $mydomain\nmydomain = example.com\n", NULL,
	  { { "myorigin", "example.com" }, { "mydomain", "example.com" } },
	  0, NULL },
	{ "${name} and $(name)",
	  H "relayhost = [${mydomain}]:$(port)\nport = 587\n"
	  "mydomain = d.example\n", NULL,
	  { { "relayhost", "[d.example]:587" } }, 0, NULL },
	{ "nested", H "a = $b-x\nb = $c$c\nc = y\nrelayhost = $a\n", NULL,
	  { { "relayhost", "yy-x" }, { "a", "yy-x" } }, 0, NULL },
	{ "$$ is a dollar", H "relayhost = a$$b\n", NULL,
	  { { "relayhost", "a$b" } }, 0, NULL },
	{ "lone $ is literal", H "relayhost = a$ $\n", NULL,
	  { { "relayhost", "a$ $" } }, 0, NULL },
	{ "${x?y} with x set", H "x = 1\nrelayhost = ${x?yes}\n", NULL,
	  { { "relayhost", "yes" } }, 0, NULL },
	{ "${x?y} with x empty", H "x =\nrelayhost = a${x?yes}b\n", NULL,
	  { { "relayhost", "ab" } }, 0, NULL },
	{ "${x:y} with x empty", H "x =\nrelayhost = ${x:dflt}\n", NULL,
	  { { "relayhost", "dflt" } }, 0, NULL },
	{ "${x:y} with x set", H "x = v\nrelayhost = ${x:dflt}\n", NULL,
	  { { "relayhost", "" } }, 0, NULL },
	{ "${x?y} with x undefined is quiet", H "relayhost = ${nox?a}${nox:b}\n",
	  NULL, { { "relayhost", "b" } }, 0, NULL },
	{ "conditional value is expanded",
	  H "x = 1\nrelayhost = ${x?[$mydomain]}\n", NULL,
	  { { "relayhost", "[example.org]" } }, 0, NULL },
	{ "Postfix 3 ${x?{a}:{b}}", H "x = 1\nrelayhost = ${x?{a}:{b}}\n"
	  "myorigin = ${nox?{a}:{b}}\n", NULL,
	  { { "relayhost", "a" }, { "myorigin", "b" } }, 0, NULL },
	{ "Postfix 3 ${x:{b}}", H "relayhost = ${nox:{b,c}}\n", NULL,
	  { { "relayhost", "b,c" } }, 0, NULL },
	{ "missing }", H "relayhost = ${mydomain\n",
	  "main.cf:2: relayhost: missing '}'", { { NULL } }, -1, NULL },
	{ "bad name in ${}", H "relayhost = ${my domain}\n",
	  "main.cf:2: relayhost: bad parameter name", { { NULL } }, -1, NULL },
	{ "self loop", H "relayhost = $relayhost\n", "relayhost: $relayhost "
	  "refers back", { { NULL } }, -1, NULL },
	{ "two-name loop", H "a = $b\nb = $a\nrelayhost = $a\n",
	  "expansion loop", { { NULL } }, -1, NULL },
	{ "undefined $name warns with file:line",
	  H "\nrelayhost = x$nosuch\n", NULL, { { "relayhost", "x" } }, 1,
	  "main.cf:3: relayhost: undefined parameter $nosuch" },
	{ "undefined Postfix name in a Postfix parameter is quiet",
	  H "smtpd_banner = $myhostname ESMTP $mail_name\n", NULL,
	  { { "smtpd_banner", "host.example.org ESMTP " } }, 1,
	  "ignoring Postfix parameters not used by sendrelay: smtpd_banner" },
	{ "undefined Postfix name in ours warns",
	  H "smtp_sasl_password_maps = hash:$config_directory/x\n", NULL,
	  { { "smtp_sasl_password_maps", "hash:/x" } }, 1,
	  "undefined parameter $config_directory" },
	{ "Postfix names used via $ are not ignored",
	  H "config_directory = /etc/postfix\n"
	  "smtp_sasl_password_maps = hash:$config_directory/sasl\n", NULL,
	  { { "smtp_sasl_password_maps", "hash:/etc/postfix/sasl" } }, 0,
	  NULL },
	{ "one warning for ignored Postfix names",
	  H "mynetworks = 127.0.0.0/8\nmydestination = $myhostname\n"
	  "inet_interfaces = loopback-only\n", NULL,
	  { { "mydestination", "host.example.org" } }, 1,
	  "main.cf: ignoring Postfix parameters not used by sendrelay: "
	  "mynetworks, inet_interfaces" },
	{ "alias defaults", H, NULL,
	  { { "alias_maps", "hash:/etc/aliases" },
	  { "mydestination", "host.example.org, localhost.example.org, "
	  "localhost" } }, 0, NULL },
	{ "Postfix service-style name",
	  H "scalemail-backend_time_limit = 1\n", NULL, { { NULL } }, 1,
	  "scalemail-backend_time_limit" },
	{ "unknown with suggestion", H "relayhots = x\n", NULL,
	  { { "relayhost", "" }, { "relayhots", "x" } }, 1,
	  "main.cf:2: unknown parameter 'relayhots' (did you mean "
	  "'relayhost'?)" },
	{ "unknown with suggestion (ours)", H "sendrelay_submit_dedline = 5\n",
	  NULL, { { NULL } }, 1, "did you mean 'sendrelay_submit_deadline'" },
	{ "unknown without suggestion", H "zzqqxx = 1\n", NULL, { { NULL } }, 1,
	  "main.cf:2: unknown parameter 'zzqqxx'" },
	{ "user variable used via $ is not unknown",
	  H "provider = smtp.example.net\nrelayhost = [$provider]:465\n", NULL,
	  { { "relayhost", "[smtp.example.net]:465" } }, 0, NULL },
	{ "typed: time units", H "smtp_connect_timeout = 2m\n", NULL,
	  { { "smtp_connect_timeout", "2m" } }, 0, NULL },
	{ "typed: bad time", H "\nsmtp_connect_timeout = x\n",
	  "main.cf:3: smtp_connect_timeout: expected a time like 30s, got 'x'",
	  { { NULL } }, -1, NULL },
	{ "typed: time after expansion", H "t = 9q\nsmtp_helo_timeout = $t\n",
	  "main.cf:3: smtp_helo_timeout: expected a time like 30s, got '9q'",
	  { { NULL } }, -1, NULL },
	{ "typed: bad bool", H "smtp_sasl_auth_enable = maybe\n",
	  "main.cf:2: smtp_sasl_auth_enable: expected yes or no", { { NULL } },
	  -1, NULL },
	{ "typed: bad size", H "message_size_limit = 10M\n",
	  "main.cf:2: message_size_limit: expected a size", { { NULL } }, -1,
	  NULL },
	{ "typed: bad level", H "smtp_tls_security_level = strict\n",
	  "main.cf:2: smtp_tls_security_level: expected one of none, may",
	  { { NULL } }, -1, NULL },
	{ "typed: level case folded", H "smtp_tls_security_level = Encrypt\n",
	  NULL, { { "smtp_tls_security_level", "encrypt" } }, 0, NULL },
	{ "typed: dane-only accepted", H "smtp_tls_security_level = dane-only\n",
	  NULL, { { "smtp_tls_security_level", "dane-only" } }, 0, NULL },
	{ "typed: bad digest", H "smtp_tls_fingerprint_digest = md5\n",
	  "smtp_tls_fingerprint_digest: expected one of sha1", { { NULL } },
	  -1, NULL },
	{ "typed: bad wrappermode", H "smtp_tls_wrappermode = sometimes\n",
	  "smtp_tls_wrappermode: expected yes or no", { { NULL } }, -1, NULL },
	{ "conf_get of an unknown name", H, NULL, { { "nosuch", NULL },
	  { "virtual_alias_maps", NULL },
	  { "message_size_limit", "10240000" },
	  { "smtp_tls_fingerprint_digest", "sha256" } }, 0, NULL },
	{ "mydomain of a one-label host", "myhostname = box\n", NULL,
	  { { "mydomain", "localdomain" }, { "myorigin", "box" } }, 0, NULL },
	{ "mydomain follows an expanded myhostname",
	  "myhostname = mx.$zone\nzone = corp.example\n", NULL,
	  { { "mydomain", "corp.example" } }, 0, NULL },
};

static void
check_case(const struct conf_case *c)
{
	struct conf	 conf;
	struct err	 e;
	size_t		 len = strlen(c->text);
	unsigned	 i;
	bool		 found;
	int		 rc;

	/* The NUL case: count past the embedded NUL. */
	if (strstr(c->name, "NUL") != NULL)
		len += 1 + strlen(c->text + len + 1);
	err_clear(&e);
	if (c->error != NULL) {
		rc = conf_parse_text(&conf, c->text, len, NULL, &e);
		CHECK(rc == -1 && e.kind == ERR_CONFIG, "%s: config error",
		    c->name);
		CHECK(strstr(e.text, c->error) != NULL, "%s: error text "
		    "'%s'", c->name, e.text);
		CHECK(conf.entries == NULL && conf.warnings == NULL,
		    "%s: nothing left to free", c->name);
		return;
	}
	if (conf_parse_text(&conf, c->text, len, NULL, &e) == -1) {
		CHECK(0, "%s: parses (%s)", c->name, e.text);
		return;
	}
	for (i = 0; i < T_GETS_MAX && c->gets[i][0] != NULL; i++)
		CHECK_STR(conf_get(&conf, c->gets[i][0]), c->gets[i][1],
		    "%s: %s", c->name, c->gets[i][0]);
	if (c->warnings >= 0)
		CHECK(conf.warning_count == (unsigned)c->warnings,
		    "%s: %d warnings (got %u)", c->name, c->warnings,
		    conf.warning_count);
	if (c->warning != NULL) {
		for (found = false, i = 0; i < conf.warning_count; i++)
			found |= strstr(conf.warnings[i], c->warning) != NULL;
		CHECK(found, "%s: warning '%s'", c->name, c->warning);
	}
	conf_free(&conf);
}

static void
check_typed(void)
{
	struct conf	 conf;
	struct err	 e;
	const char	*text = H
	    "relayhost = [smtp.example.net]:465\n"
	    "smtp_sasl_auth_enable = YES\n"
	    "smtp_tls_wrappermode = no\n"
	    "smtp_connect_timeout = 1h\n"
	    "smtp_quit_timeout = 2w\n"
	    "sendrelay_submit_deadline = 45\n"
	    "message_size_limit = 0\n"
	    "smtp_tls_fingerprint_digest = SHA512\n"
	    "syslog_facility = local3\n";
	int		 rc;

	/* CHECK evaluates its condition twice: call outside it. */
	rc = conf_parse_text(&conf, text, strlen(text), "/x/main.cf", &e);
	CHECK(rc == 0, "typed: parses (%s)", e.text);
	if (rc == -1)
		return;
	CHECK_STR(conf.path, "/x/main.cf", "typed: path is the origin");
	CHECK_STR(conf.relayhost, "[smtp.example.net]:465", "typed: relayhost");
	CHECK(conf.smtp_sasl_auth_enable, "typed: sasl enabled");
	CHECK(conf.smtp_tls_wrappermode == 0, "typed: wrappermode no");
	CHECK(conf.smtp_connect_timeout == 3600, "typed: 1h");
	CHECK(conf.smtp_quit_timeout == 2 * 604800, "typed: 2w");
	CHECK(conf.sendrelay_submit_deadline == 45, "typed: bare seconds");
	CHECK(conf.message_size_limit == 0, "typed: size 0");
	CHECK_STR(conf.smtp_tls_fingerprint_digest, "sha512", "typed: digest");
	CHECK_STR(conf.syslog_facility, "local3", "typed: facility");
	CHECK_STR(conf.syslog_name, "sendrelay", "typed: syslog_name default");
	conf_free(&conf);
	CHECK(conf.entries == NULL && conf.path == NULL, "typed: freed");
}

static void
check_defaults(void)
{
	struct conf	 conf;
	struct err	 e;
	const char	*dot;
	int		 rc;

	rc = conf_parse_text(&conf, "", 0, NULL, &e);
	CHECK(rc == 0, "defaults: parse (%s)", e.text);
	if (rc == -1)
		return;
	CHECK(conf.path == NULL, "defaults: no path");
	CHECK(conf.myhostname != NULL && *conf.myhostname != '\0',
	    "defaults: myhostname '%s'", conf.myhostname);
	dot = strchr(conf.myhostname, '.');
	CHECK_STR(conf.mydomain, dot != NULL ? dot + 1 : "localdomain",
	    "defaults: mydomain");
	CHECK_STR(conf.myorigin, conf.myhostname, "defaults: myorigin");
	CHECK_STR(conf.smtp_helo_name, conf.myhostname, "defaults: helo");
	CHECK_STR(conf.relayhost, "", "defaults: relayhost");
	CHECK_STR(conf.inet_protocols, "all", "defaults: inet_protocols");
	CHECK(!conf.smtp_sasl_auth_enable, "defaults: sasl off");
	CHECK_STR(conf.smtp_tls_security_level, "", "defaults: level");
	CHECK(conf.smtp_tls_wrappermode == -1, "defaults: wrappermode unset");
	CHECK_STR(conf.smtp_tls_fingerprint_digest, "sha256",
	    "defaults: digest");
	CHECK_STR(conf.smtp_tls_mandatory_protocols, ">=TLSv1.2",
	    "defaults: protocols");
	CHECK(conf.smtp_connect_timeout == 30 && conf.smtp_helo_timeout ==
	    300 && conf.smtp_mail_timeout == 300 && conf.smtp_rcpt_timeout ==
	    300 && conf.smtp_data_init_timeout == 120 &&
	    conf.smtp_data_xfer_timeout == 180 &&
	    conf.smtp_data_done_timeout == 600 && conf.smtp_quit_timeout ==
	    300 && conf.smtp_starttls_timeout == 300, "defaults: timeouts");
	CHECK(conf.sendrelay_submit_deadline == CONF_DEFAULT_SUBMIT_DEADLINE,
	    "defaults: deadline");
	CHECK(conf.message_size_limit == 10240000, "defaults: size limit");
	CHECK_STR(conf.syslog_facility, "mail", "defaults: facility");
	CHECK_STR(conf.maillog_file, "", "defaults: maillog_file");
	CHECK(conf.warning_count == 0, "defaults: no warnings");
	conf_free(&conf);
}

static void
check_scalars(void)
{
	static const struct {
		const char	*text;
		int		 rc;
		long		 seconds;
	} times[] = {
		{ "0", 0, 0 }, { "30", 0, 30 }, { "30s", 0, 30 },
		{ "5m", 0, 300 }, { "1h", 0, 3600 }, { "2d", 0, 172800 },
		{ "1w", 0, 604800 }, { "", -1, 0 }, { "s", -1, 0 },
		{ "-1", -1, 0 }, { "1x", -1, 0 }, { "1ms", -1, 0 },
		{ " 1", -1, 0 }, { "1 ", -1, 0 },
		{ "99999999999999999999", -1, 0 },
		{ "9223372036854775807w", -1, 0 },
	};
	static const struct {
		const char	*text;
		int		 rc;
		bool		 value;
	} bools[] = {
		{ "yes", 0, true }, { "TRUE", 0, true }, { "1", 0, true },
		{ "No", 0, false }, { "false", 0, false }, { "0", 0, false },
		{ "", -1, false }, { "y", -1, false }, { "yess", -1, false },
	};
	long		 n;
	bool		 b;
	size_t		 i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		n = -7;
		CHECK(conf_parse_time(times[i].text, &n) == times[i].rc &&
		    (times[i].rc == -1 || n == times[i].seconds),
		    "time '%s' -> %ld", times[i].text, n);
	}
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		CHECK(conf_parse_bool(bools[i].text, &b) == bools[i].rc &&
		    (bools[i].rc == -1 || b == bools[i].value),
		    "bool '%s'", bools[i].text);
	CHECK(conf_parse_size("10240000", &n) == 0 && n == 10240000, "size");
	CHECK(conf_parse_size("1k", &n) == -1, "size with unit");
	CHECK(conf_parse_size("", &n) == -1, "empty size");
}

static void
check_limits(void)
{
	struct conf	 conf;
	struct err	 e;
	char		*text;
	size_t		 len, i;
	int		 rc;

	/* A chain deeper than the limit: p0 = $p1, p1 = $p2, ... */
	text = malloc(64 * (CONF_EXPAND_DEPTH_MAX + 10));
	len = (size_t)sprintf(text, H);
	for (i = 0; i < CONF_EXPAND_DEPTH_MAX + 5; i++)
		len += (size_t)sprintf(text + len, "p%zu = $p%zu\n", i, i + 1);
	rc = conf_parse_text(&conf, text, len, NULL, &e);
	CHECK(rc == -1 && strstr(e.text, "nesting deeper") != NULL &&
	    strstr(e.text, ": p") != NULL, "depth limit names a parameter "
	    "(%s)", e.text);
	free(text);

	/* Doubling: x1 = $x0$x0, ... blows past the value limit. */
	text = malloc(4096);
	len = (size_t)sprintf(text, H "x0 = 0123456789abcdef\n");
	for (i = 1; i < 20; i++)
		len += (size_t)sprintf(text + len, "x%zu = $x%zu$x%zu\n", i,
		    i - 1, i - 1);
	rc = conf_parse_text(&conf, text, len, NULL, &e);
	CHECK(rc == -1 && e.kind == ERR_CONFIG &&
	    strstr(e.text, "after expansion") != NULL, "expansion bounded (%s)",
	    e.text);
	free(text);

	rc = conf_parse_text(&conf, "", CONF_FILE_MAX + 1, "big", &e);
	CHECK(rc == -1 && strstr(e.text, "big: larger") != NULL, "size limit");
}

static void
write_file(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	if (fp != NULL) {
		(void)fputs(text, fp);
		(void)fclose(fp);
	}
}

static void
check_load(void)
{
	struct conf	 conf;
	struct err	 e;
	char		 dir[] = "/tmp/test_conf.XXXXXX", file[64], other[64];
	int		 rc;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	(void)snprintf(file, sizeof(file), "%s/main.cf", dir);
	(void)snprintf(other, sizeof(other), "%s/other.cf", dir);
	write_file(file, H "relayhost = [a.example]:587\n");
	write_file(other, H "relayhost = b\nrelayhots = c\n");

	rc = conf_load(&conf, dir, &e);
	CHECK(rc == 0, "load: directory (%s)", e.text);
	CHECK_STR(conf.relayhost, "[a.example]:587", "load: dir/main.cf read");
	CHECK_STR(conf.path, file, "load: path");
	conf_free(&conf);

	rc = conf_load(&conf, other, &e);
	CHECK(rc == 0, "load: file");
	CHECK_STR(conf.relayhost, "b", "load: file read");
	CHECK(conf.warning_count == 1 && strstr(conf.warnings[0],
	    "other.cf:3: unknown parameter 'relayhots'") != NULL,
	    "load: warning names the file and line");
	conf_free(&conf);

	(void)unlink(other);
	rc = conf_load(&conf, other, &e);
	CHECK(rc == -1 && e.kind == ERR_CONFIG &&
	    strstr(e.text, other) != NULL &&
	    strstr(e.text, "No such file") != NULL,
	    "load: missing -C file is an error (%s)", e.text);
	CHECK(conf.entries == NULL, "load: nothing to free");

	(void)unlink(file);
	rc = conf_load(&conf, dir, &e);
	CHECK(rc == -1 && strstr(e.text, "main.cf") != NULL,
	    "load: directory without main.cf (%s)", e.text);
	(void)rmdir(dir);
}

int
main(void)
{
	size_t	 i;

	/* Warnings also go to stderr; keep the TAP output readable. */
	if (freopen("/dev/null", "w", stderr) == NULL)
		return 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	check_typed();
	check_defaults();
	check_scalars();
	check_limits();
	check_load();
	return check_done();
}
