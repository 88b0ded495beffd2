/* SPDX-License-Identifier: ISC */
/* opts: every sendmail flag form, recipient splitting, argv[0], errors. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "opts.h"

#define T_ARGS_MAX	12

struct opts_case {
	const char	*name;
	const char	*args[T_ARGS_MAX];	/* argv, NULL-terminated */
	const char	*error;		/* substring of err.text; NULL: success */
	enum opts_mode	 mode;
	bool		 extract, no_dot, verbose;
	const char	*sender, *full_name, *config, *notify, *ret, *envid;
	const char	*body, *queue, *delivery;
	const char	*recipients;	/* joined by '|', "" for none */
};

static const struct opts_case cases[] = {
	{ .name = "no arguments", .args = { "sendmail" }, .recipients = "" },
	{ .name = "one recipient", .args = { "sendmail", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-t", .args = { "sendmail", "-t" }, .extract = true,
	  .recipients = "" },
	{ .name = "-i", .args = { "sendmail", "-i", "a@x" }, .no_dot = true,
	  .recipients = "a@x" },
	{ .name = "-oi", .args = { "sendmail", "-oi", "a@x" }, .no_dot = true,
	  .recipients = "a@x" },
	{ .name = "-o i separate", .args = { "sendmail", "-o", "i" },
	  .no_dot = true, .recipients = "" },
	{ .name = "-ti cluster", .args = { "sendmail", "-ti" }, .extract = true,
	  .no_dot = true, .recipients = "" },
	{ .name = "-it cluster", .args = { "sendmail", "-it" }, .extract = true,
	  .no_dot = true, .recipients = "" },
	{ .name = "-tvmnUG cluster", .args = { "sendmail", "-tvmnUG" },
	  .extract = true, .verbose = true, .recipients = "" },
	{ .name = "-tf cluster with value",
	  .args = { "sendmail", "-tfme@x" }, .extract = true,
	  .sender = "me@x", .recipients = "" },
	{ .name = "-it -f separate",
	  .args = { "sendmail", "-itf", "me@x", "a@x" }, .extract = true,
	  .no_dot = true, .sender = "me@x", .recipients = "a@x" },
	{ .name = "-f separate", .args = { "sendmail", "-f", "me@x", "a@x" },
	  .sender = "me@x", .recipients = "a@x" },
	{ .name = "-f joined", .args = { "sendmail", "-fme@x" },
	  .sender = "me@x", .recipients = "" },
	{ .name = "-r separate", .args = { "sendmail", "-r", "me@x" },
	  .sender = "me@x", .recipients = "" },
	{ .name = "-r joined", .args = { "sendmail", "-rme@x" },
	  .sender = "me@x", .recipients = "" },
	{ .name = "-f empty (null sender)", .args = { "sendmail", "-f", "" },
	  .sender = "", .recipients = "" },
	{ .name = "last -f wins",
	  .args = { "sendmail", "-f", "one@x", "-ftwo@x" },
	  .sender = "two@x", .recipients = "" },
	{ .name = "-F separate", .args = { "sendmail", "-F", "Jo Doe" },
	  .full_name = "Jo Doe", .recipients = "" },
	{ .name = "-F joined", .args = { "sendmail", "-FJo" },
	  .full_name = "Jo", .recipients = "" },
	{ .name = "-bm", .args = { "sendmail", "-bm", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-bp", .args = { "sendmail", "-bp" },
	  .mode = OPTS_MODE_QUEUE_LIST, .recipients = "" },
	{ .name = "-bs", .args = { "sendmail", "-bs" },
	  .mode = OPTS_MODE_SMTP_STDIO, .recipients = "" },
	{ .name = "-bi", .args = { "sendmail", "-bi" },
	  .mode = OPTS_MODE_ALIASES, .recipients = "" },
	{ .name = "-bv", .args = { "sendmail", "-bv", "a@x" },
	  .mode = OPTS_MODE_VERIFY, .recipients = "a@x" },
	{ .name = "-b v separate", .args = { "sendmail", "-b", "v" },
	  .mode = OPTS_MODE_VERIFY, .recipients = "" },
	{ .name = "-bd refused", .args = { "sendmail", "-bd" },
	  .error = "-bd" },
	{ .name = "-bD refused", .args = { "sendmail", "-bD" },
	  .error = "-bD" },
	{ .name = "-bmx refused", .args = { "sendmail", "-bmx" },
	  .error = "-bmx" },
	{ .name = "-b missing", .args = { "sendmail", "-b" },
	  .error = "-b requires" },
	{ .name = "bare -q", .args = { "sendmail", "-q" },
	  .mode = OPTS_MODE_QUEUE_RUN, .queue = "", .recipients = "" },
	{ .name = "-q30m", .args = { "sendmail", "-q30m" },
	  .mode = OPTS_MODE_QUEUE_RUN, .queue = "30m", .recipients = "" },
	{ .name = "-qf", .args = { "sendmail", "-qf" },
	  .mode = OPTS_MODE_QUEUE_RUN, .queue = "f", .recipients = "" },
	{ .name = "-qI<id>", .args = { "sendmail", "-qIABC123" },
	  .mode = OPTS_MODE_QUEUE_RUN, .queue = "IABC123", .recipients = "" },
	{ .name = "-q does not take the next argument",
	  .args = { "sendmail", "-q", "a@x" }, .mode = OPTS_MODE_QUEUE_RUN,
	  .queue = "", .recipients = "a@x" },
	{ .name = "-C separate", .args = { "sendmail", "-C", "/etc/x.cf" },
	  .config = "/etc/x.cf", .recipients = "" },
	{ .name = "-C joined", .args = { "sendmail", "-C/etc/x" },
	  .config = "/etc/x", .recipients = "" },
	{ .name = "-C empty", .args = { "sendmail", "-C", "" },
	  .error = "-C" },
	{ .name = "-v", .args = { "sendmail", "-v" }, .verbose = true,
	  .recipients = "" },
	{ .name = "-N never", .args = { "sendmail", "-N", "never" },
	  .notify = "never", .recipients = "" },
	{ .name = "-N list", .args = { "sendmail", "-Nsuccess,FAILURE,delay" },
	  .notify = "success,FAILURE,delay", .recipients = "" },
	{ .name = "-N bad word", .args = { "sendmail", "-N", "sometimes" },
	  .error = "sometimes" },
	{ .name = "-N never in a list", .args = { "sendmail", "-Nnever,delay" },
	  .error = "-N" },
	{ .name = "-N empty item", .args = { "sendmail", "-Nsuccess,,delay" },
	  .error = "-N" },
	{ .name = "-N trailing comma", .args = { "sendmail", "-Nsuccess," },
	  .error = "-N" },
	{ .name = "-R full", .args = { "sendmail", "-R", "full" },
	  .ret = "full", .recipients = "" },
	{ .name = "-RHDRS", .args = { "sendmail", "-RHDRS" },
	  .ret = "HDRS", .recipients = "" },
	{ .name = "-R bad", .args = { "sendmail", "-R", "some" },
	  .error = "-R" },
	{ .name = "-V envid", .args = { "sendmail", "-V", "id42" },
	  .envid = "id42", .recipients = "" },
	{ .name = "-Vjoined", .args = { "sendmail", "-Vid43" },
	  .envid = "id43", .recipients = "" },
	{ .name = "-B 8BITMIME", .args = { "sendmail", "-B", "8BITMIME" },
	  .body = "8BITMIME", .recipients = "" },
	{ .name = "-B8bitmime joined", .args = { "sendmail", "-B8bitmime" },
	  .body = "8BITMIME", .recipients = "" },
	{ .name = "-B 7bit", .args = { "sendmail", "-B", "7bit" },
	  .body = "7BIT", .recipients = "" },
	{ .name = "-B binarymime", .args = { "sendmail", "-BBINARYMIME" },
	  .error = "BINARYMIME" },
	{ .name = "-odi", .args = { "sendmail", "-odi" }, .delivery = "i",
	  .recipients = "" },
	{ .name = "-odb", .args = { "sendmail", "-odb" }, .delivery = "b",
	  .recipients = "" },
	{ .name = "-o dq separate", .args = { "sendmail", "-o", "dq" },
	  .delivery = "q", .recipients = "" },
	{ .name = "-oem -oee -om ignored",
	  .args = { "sendmail", "-oem", "-oee", "-om", "-oQ/tmp", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-o alone", .args = { "sendmail", "-o" },
	  .error = "-o requires" },
	{ .name = "-O separate", .args = { "sendmail", "-O", "Foo=bar", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-O joined", .args = { "sendmail", "-OFoo=bar", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-h separate", .args = { "sendmail", "-h", "17", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-h joined", .args = { "sendmail", "-h17", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-L separate", .args = { "sendmail", "-L", "lbl", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-X separate", .args = { "sendmail", "-X", "/tmp/l", "a@x" },
	  .recipients = "a@x" },
	{ .name = "-d joined only", .args = { "sendmail", "-d0.1", "a@x" },
	  .recipients = "a@x" },
	{ .name = "bare -d does not eat an argument",
	  .args = { "sendmail", "-d", "a@x" }, .recipients = "a@x" },
	{ .name = "-m -n -U -G", .args = { "sendmail", "-m", "-n", "-U", "-G" },
	  .recipients = "" },
	{ .name = "-- ends options",
	  .args = { "sendmail", "-i", "--", "-odd@x", "b@x" }, .no_dot = true,
	  .recipients = "-odd@x|b@x" },
	{ .name = "options stop at the first recipient",
	  .args = { "sendmail", "a@x", "-t" }, .recipients = "a@x|-t" },
	{ .name = "- alone is an operand", .args = { "sendmail", "-" },
	  .recipients = "-" },
	{ .name = "unknown flag", .args = { "sendmail", "-Z" },
	  .error = "unknown option -Z" },
	{ .name = "unknown flag in cluster", .args = { "sendmail", "-tiY" },
	  .error = "unknown option -Y" },
	{ .name = "-f missing", .args = { "sendmail", "-f" },
	  .error = "option -f requires" },
	{ .name = "-F missing", .args = { "sendmail", "-t", "-F" },
	  .error = "option -F requires" },
	{ .name = "-C missing", .args = { "sendmail", "-C" },
	  .error = "option -C requires" },
	{ .name = "-N missing", .args = { "sendmail", "-N" },
	  .error = "option -N requires" },
	{ .name = "-R missing", .args = { "sendmail", "-R" },
	  .error = "option -R requires" },
	{ .name = "-V missing", .args = { "sendmail", "-V" },
	  .error = "option -V requires" },
	{ .name = "-B missing", .args = { "sendmail", "-B" },
	  .error = "option -B requires" },
	{ .name = "-O missing", .args = { "sendmail", "-O" },
	  .error = "option -O requires" },
	{ .name = "-h missing", .args = { "sendmail", "-h" },
	  .error = "option -h requires" },
	{ .name = "cron MAILTO list", .args = { "sendmail", "a@x,b@y" },
	  .recipients = "a@x|b@y" },
	{ .name = "list with spaces and empties",
	  .args = { "sendmail", " a@x , ,b@y,", "c@z" },
	  .recipients = "a@x|b@y|c@z" },
	{ .name = "comma inside quotes",
	  .args = { "sendmail", "\"Doe, Jo\" <j@x>, k@y" },
	  .recipients = "\"Doe, Jo\" <j@x>|k@y" },
	{ .name = "escaped quote inside quotes",
	  .args = { "sendmail", "\"a\\\",b\"@x,c@y" },
	  .recipients = "\"a\\\",b\"@x|c@y" },
	{ .name = "comma inside angle brackets",
	  .args = { "sendmail", "<@r1,@r2:u@x>,v@y" },
	  .recipients = "<@r1,@r2:u@x>|v@y" },
	{ .name = "comma inside a comment",
	  .args = { "sendmail", "u@x (Boss, Ops), v@y" },
	  .recipients = "u@x (Boss, Ops)|v@y" },
	{ .name = "unbalanced quote keeps the rest",
	  .args = { "sendmail", "\"a,b@x" }, .recipients = "\"a,b@x" },
	{ .name = "only commas", .args = { "sendmail", ",,", " " },
	  .recipients = "" },
	{ .name = "mailq", .args = { "/usr/bin/mailq" },
	  .mode = OPTS_MODE_QUEUE_LIST, .recipients = "" },
	{ .name = "newaliases", .args = { "newaliases" },
	  .mode = OPTS_MODE_ALIASES, .recipients = "" },
	{ .name = "sendrelay name", .args = { "/usr/sbin/sendrelay", "a@x" },
	  .recipients = "a@x" },
	{ .name = "mailq-like name is not mailq",
	  .args = { "/usr/bin/mailqx" }, .recipients = "" },
	{ .name = "mailq directory is not mailq",
	  .args = { "/mailq/sendmail" }, .recipients = "" },
	{ .name = "mailq then -bm", .args = { "mailq", "-bm" },
	  .recipients = "" },
	{ .name = "typical mail(1)",
	  .args = { "sendmail", "-oi", "-f", "u@x", "--", "a@x" },
	  .no_dot = true, .sender = "u@x", .recipients = "a@x" },
	{ .name = "everything",
	  .args = { "sendmail", "-t", "-i", "-v", "-FName", "-fs@x", "-C/c",
	      "-Nfailure", "-Rhdrs", "-Venv", "-B7BIT", "r@x" },
	  .extract = true, .no_dot = true, .verbose = true, .sender = "s@x",
	  .full_name = "Name", .config = "/c", .notify = "failure",
	  .ret = "hdrs", .envid = "env", .body = "7BIT",
	  .recipients = "r@x" },
};

static int
count_args(const char *const *args)
{
	int	 n = 0;

	while (n < T_ARGS_MAX && args[n] != NULL)
		n++;
	return n;
}

static void
join_recipients(const struct opts *o, struct buf *b)
{
	size_t	 i;

	buf_reset(b);
	for (i = 0; i < o->recipient_count; i++)
		(void)buf_printf(b, "%s%s", i > 0 ? "|" : "", o->recipients[i]);
}

static void
check_case(const struct opts_case *c)
{
	struct opts	 o;
	struct err	 e;
	struct buf	 b;
	char		*argv[T_ARGS_MAX + 1];
	int		 argc = count_args(c->args), i, rc;

	for (i = 0; i < argc; i++)
		argv[i] = (char *)c->args[i];
	argv[argc] = NULL;
	err_clear(&e);
	rc = opts_parse(&o, argc, argv, &e);
	if (c->error != NULL) {
		CHECK(rc == -1 && e.kind == ERR_USAGE, "%s: usage error", c->name);
		CHECK(strstr(e.text, c->error) != NULL, "%s: error names %s "
		    "(%s)", c->name, c->error, e.text);
		CHECK(o.recipients == NULL && o.sender == NULL,
		    "%s: nothing left to free", c->name);
		return;
	}
	CHECK(rc == 0, "%s: parses (%s)", c->name, e.text);
	if (rc == -1)
		return;
	CHECK(o.mode == c->mode, "%s: mode %d", c->name, (int)o.mode);
	CHECK(o.extract_recipients == c->extract, "%s: -t", c->name);
	CHECK(o.dot_ends_input == !c->no_dot, "%s: dot ends input", c->name);
	CHECK(o.verbose == c->verbose, "%s: verbose", c->name);
	CHECK_STR(o.sender, c->sender, "%s: sender", c->name);
	CHECK_STR(o.full_name, c->full_name, "%s: full name", c->name);
	CHECK_STR(o.config_path, c->config, "%s: config", c->name);
	CHECK_STR(o.dsn_notify, c->notify, "%s: notify", c->name);
	CHECK_STR(o.dsn_ret, c->ret, "%s: ret", c->name);
	CHECK_STR(o.dsn_envid, c->envid, "%s: envid", c->name);
	CHECK_STR(o.body_type, c->body, "%s: body", c->name);
	CHECK_STR(o.queue_arg, c->queue, "%s: queue arg", c->name);
	CHECK_STR(o.delivery_mode, c->delivery, "%s: delivery mode", c->name);
	buf_init(&b, 4096);
	join_recipients(&o, &b);
	CHECK_STR(buf_cstr(&b), c->recipients, "%s: recipients", c->name);
	buf_free(&b);
	opts_free(&o);
	CHECK(o.recipients == NULL && o.recipient_count == 0 &&
	    o.sender == NULL, "%s: opts_free clears", c->name);
}

int
main(void)
{
	struct opts	 o;
	struct err	 e;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);

	/* argc 0 (execve with an empty argv) must not crash. */
	rc = opts_parse(&o, 0, NULL, &e);
	CHECK(rc == 0 && o.mode == OPTS_MODE_SEND, "argc 0");
	opts_free(&o);
	return check_done();
}
