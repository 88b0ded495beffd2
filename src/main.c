/* SPDX-License-Identifier: ISC */
/*
 * sendrelay: a sendmail-compatible, send-only mail relay agent.
 *
 * Phases: command line -> configuration -> message intake into the queue
 * -> delivery (or a queue run, or the queue listing), and the one mapping
 * of the outcome to a sysexits(3) code. This is the only place that
 * exits. Exit 0 means the message was delivered or is safely queued.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "alias.h"
#include "conf.h"
#include "deliver.h"
#include "err.h"
#include "log.h"
#include "map.h"
#include "message.h"
#include "opts.h"
#include "queue.h"
#include "route.h"
#include "smtpd.h"
#include "spool.h"
#include "xmalloc.h"

static void	 main_sanitize_process(void);
static int	 main_drop_group(struct err *);
static char	*main_login_name(void);
static void	 main_envelope(struct spool_envelope *,
		    const struct message *, const struct opts *,
		    const struct timespec *);
static bool	 main_is_local_domain(const struct conf *, const char *);
static bool	 main_have_aliases(const struct conf *);
static void	 main_alias_warn(void *, const char *);
static int	 main_open_aliases(const struct conf *, struct alias_table **,
		    struct err *);
static void	 main_alias_report(void *, const char *);
static int	 main_check_aliases(const struct conf *, struct err *);
static int	 main_resolve_recipients(const struct conf *,
		    struct addr_list *, struct err *);
struct main_generic {
	const struct conf	*conf;
	struct map_list		*maps;
};

static char	*main_generic_rewrite(void *, const char *);
static void	 main_generic_envelope(struct main_generic *,
		    struct message *);
static int	 main_intake(const struct opts *, const struct conf *,
		    struct spool *, int, char *, struct err *);
static int	 main_deliver(const struct conf *, struct spool *,
		    const char *, struct err *);
static int	 main_deliver_background(const struct conf *, struct spool *,
		    const char *, struct err *);
static int	 main_send(const struct opts *, const struct conf *,
		    struct err *);
static int	 main_dispatch(const struct opts *, const struct conf *,
		    struct spool *, const char *, struct err *);
static int	 main_bs_scratch(void *, struct err *);
static int	 main_bs_accept(void *, const char *, const struct addr_list *,
		    int, char *, size_t, struct err *);
static int	 main_smtp_stdio(const struct opts *, const struct conf *,
		    struct err *);
static int	 main_queue(const struct opts *, const struct conf *,
		    struct err *);
static int	 main_mode_unavailable(enum opts_mode, struct err *);

/*
 * The caller (cron, PHP, a setuid wrapper) may hand us blocked or ignored
 * signals and closed standard descriptors; a write to an fd we later open
 * must never land on what the caller thinks is stderr.
 */
static void
main_sanitize_process(void)
{
	sigset_t	 none;
	int		 sig, fd;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	/* A peer closing early must be an error from write(), not a death. */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)umask(027);
	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			_exit(71);
}

/*
 * Installed set-group-id to the queue group, which may read the secrets
 * maps and the queue: a caller who chooses the configuration (-C) could
 * point a map at any file the group can read, so gets none of it.
 */
static int
main_drop_group(struct err *e)
{
	gid_t	 gid = getgid();

	if (getegid() == gid)
		return 0;
	if (setresgid(gid, gid, gid) == -1 || getegid() != gid)
		return err_set(e, ERR_OSERR, "cannot give up the queue group's "
		    "privilege for -C: %s", strerror(errno));
	return 0;
}

/* From the real uid, never $USER or $LOGNAME, which the caller controls. */
static char *
main_login_name(void)
{
	struct passwd	*pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_name != NULL && *pw->pw_name != '\0')
		return xstrdup(pw->pw_name);
	return xasprintf("uid%lu", (unsigned long)getuid());
}

static void
main_envelope(struct spool_envelope *env, const struct message *msg,
    const struct opts *opts, const struct timespec *arrival)
{
	size_t	 i;

	memset(env, 0, sizeof(*env));
	env->sender = xstrdup(msg->sender);
	env->arrival = *arrival;
	env->size = msg->size;
	env->eightbit = msg->eightbit;
	env->smtputf8 = msg->smtputf8;
	/* Aliases may have brought in a UTF-8 address. */
	for (i = 0; i < msg->recipients.n; i++)
		if (addr_needs_smtputf8(msg->recipients.v[i]))
			env->smtputf8 = true;
	env->uid = (unsigned long)getuid();
	env->message_id = msg->message_id != NULL ?
	    xstrdup(msg->message_id) : NULL;
	env->dsn_notify = opts->dsn_notify ? xstrdup(opts->dsn_notify) : NULL;
	env->dsn_ret = opts->dsn_ret ? xstrdup(opts->dsn_ret) : NULL;
	env->dsn_envid = opts->dsn_envid ? xstrdup(opts->dsn_envid) : NULL;
	for (i = 0; i < msg->recipients.n; i++)
		spool_envelope_add_rcpt(env, msg->recipients.v[i]);
}

/* One of mydestination's names (comma/space separated). */
static bool
main_is_local_domain(const struct conf *conf, const char *domain)
{
	const char	*p = conf->mydestination;
	size_t		 len, dlen = strlen(domain);

	while (*p != '\0') {
		p += strspn(p, ", \t\r\n");
		len = strcspn(p, ", \t\r\n");
		if (len == dlen && strncasecmp(p, domain, len) == 0)
			return true;
		p += len;
	}
	return false;
}

static void
main_alias_warn(void *ctx, const char *text)
{
	(void)ctx;
	log_warn("%s", text);
}

/* The default hash:/etc/aliases applies only when the file exists. */
static bool
main_have_aliases(const struct conf *conf)
{
	return conf->alias_maps != NULL && *conf->alias_maps != '\0' &&
	    (strcmp(conf->alias_maps, "hash:/etc/aliases") != 0 ||
	    access("/etc/aliases", F_OK) == 0);
}

static int
main_open_aliases(const struct conf *conf, struct alias_table **t,
    struct err *e)
{
	*t = NULL;
	if (!main_have_aliases(conf))
		return 0;
	return alias_open(conf->alias_maps, t, main_alias_warn, NULL, e);
}

static void
main_alias_report(void *ctx, const char *text)
{
	(void)ctx;
	(void)fprintf(stderr, "sendrelay: %s\n", text);
}

/* newaliases / -bi: there is nothing to build, only files to check. */
static int
main_check_aliases(const struct conf *conf, struct err *e)
{
	size_t	 errors;

	if (!main_have_aliases(conf))
		return 0;
	if (alias_check(conf->alias_maps, main_alias_report, NULL, &errors,
	    e) == -1)
		return -1;
	if (errors > 0)
		return err_set(e, ERR_CONFIG, "%zu error(s) in alias_maps = %s",
		    errors, conf->alias_maps);
	return 0;
}

/*
 * Local recipients (no domain, or one of mydestination) go through the
 * aliases; what stays local is qualified with myorigin.
 */
static int
main_resolve_recipients(const struct conf *conf, struct addr_list *rcpts,
    struct err *e)
{
	struct alias_table	*aliases;
	struct addr_list	 out = { NULL, 0 }, expanded;
	const char		*domain;
	char			*name, *q;
	size_t			 i, j, k;
	int			 rc = -1, found;

	if (main_open_aliases(conf, &aliases, e) == -1)
		return -1;
	for (i = 0; i < rcpts->n; i++) {
		domain = addr_domain(rcpts->v[i]);
		expanded.v = NULL;
		expanded.n = 0;
		if (domain != NULL && !main_is_local_domain(conf, domain)) {
			addr_list_add(&expanded, rcpts->v[i]);
			found = 0;
		} else {
			name = domain != NULL ? xstrndup(rcpts->v[i],
			    (size_t)(domain - 1 - rcpts->v[i])) :
			    xstrdup(rcpts->v[i]);
			found = aliases != NULL ?
			    alias_expand(aliases, name, &expanded, e) : 0;
			if (found == 0)
				addr_list_add(&expanded, name);
			free(name);
			if (found == -1)
				goto out;
		}
		for (j = 0; j < expanded.n; j++) {
			q = addr_qualify(expanded.v[j], conf->myorigin);
			for (k = 0; k < out.n; k++)
				if (strcasecmp(out.v[k], q) == 0)
					break;
			if (k == out.n)
				addr_list_add(&out, q);
			free(q);
		}
		addr_list_free(&expanded);
	}
	if (out.n == 0) {
		(void)err_set(e, ERR_DATA, "no recipient left after alias "
		    "expansion (the skipped targets are named above)");
		goto out;
	}
	addr_list_free(rcpts);
	*rcpts = out;
	out.v = NULL;
	out.n = 0;
	rc = 0;
out:
	addr_list_free(&expanded);
	addr_list_free(&out);
	alias_free(aliases);
	return rc;
}

/*
 * smtp_generic_maps, generic(5) order: user@domain, then user when the
 * domain is ours (myorigin or mydestination), then @domain. A result
 * "@other" keeps the user part.
 */
static char *
main_generic_rewrite(void *ctx, const char *addr)
{
	struct main_generic	*g = ctx;
	const char		*domain = addr_domain(addr), *value = NULL;
	char			*key, *mapped, *checked = NULL;
	struct err		 e;
	size_t			 user_len;
	int			 found;

	if (*addr == '\0' || domain == NULL)
		return NULL;
	user_len = (size_t)(domain - 1 - addr);
	found = map_list_lookup(g->maps, addr, &value);
	if (found != 1 && (strcasecmp(domain, g->conf->myorigin) == 0 ||
	    main_is_local_domain(g->conf, domain))) {
		key = xstrndup(addr, user_len);
		found = map_list_lookup(g->maps, key, &value);
		free(key);
	}
	if (found != 1) {
		key = xasprintf("@%s", domain);
		found = map_list_lookup(g->maps, key, &value);
		free(key);
	}
	if (found != 1 || *value == '\0')
		return NULL;
	if (*value == '@')
		mapped = xasprintf("%.*s%s", (int)user_len, addr, value);
	else
		mapped = xstrdup(value);
	/* It goes into headers and commands: only a valid addr-spec. */
	err_clear(&e);
	if (addr_parse_envelope(mapped, &checked, &e) == -1 ||
	    *checked == '\0' || strcmp(checked, mapped) != 0) {
		log_warn("smtp_generic_maps: %s -> '%s' is not an address; "
		    "not rewritten", addr, mapped);
		free(mapped);
		mapped = NULL;
	}
	if (checked != NULL)
		free(checked);
	return mapped;
}

/* The envelope leaves with the same rewriting as the headers. */
static void
main_generic_envelope(struct main_generic *g, struct message *msg)
{
	char	*mapped;
	size_t	 i;

	if ((mapped = main_generic_rewrite(g, msg->sender)) != NULL) {
		free(msg->sender);
		msg->sender = mapped;
	}
	for (i = 0; i < msg->recipients.n; i++)
		if ((mapped = main_generic_rewrite(g,
		    msg->recipients.v[i])) != NULL) {
			free(msg->recipients.v[i]);
			msg->recipients.v[i] = mapped;
		}
}

/*
 * Reads the message into the queue. Until spool_commit() succeeds the
 * caller still owns the message, so every failure is reported to it.
 */
static int
main_intake(const struct opts *opts, const struct conf *conf,
    struct spool *spool, int in_fd, char *id, struct err *e)
{
	struct message_params	 mp;
	struct message		 msg;
	struct spool_new	 new;
	struct spool_envelope	 env;
	struct timespec		 arrival;
	struct main_generic	 generic = { conf, NULL };
	char			*login = main_login_name();
	int			 rc = -1;

	memset(&msg, 0, sizeof(msg));
	memset(&env, 0, sizeof(env));
	if (*conf->smtp_generic_maps != '\0' && (generic.maps =
	    map_list_open(conf->smtp_generic_maps, 0, e)) == NULL)
		goto out;
	if (spool_create(spool, &new, e) == -1)
		goto out;
	memset(&mp, 0, sizeof(mp));
	mp.myhostname = conf->myhostname;
	mp.myorigin = conf->myorigin;
	mp.bare_recipients = true;
	mp.login = login;
	mp.sender = opts->sender;
	mp.full_name = opts->full_name;
	mp.extract_recipients = opts->extract_recipients;
	mp.dot_ends_input = opts->dot_ends_input;
	mp.size_limit = conf->message_size_limit;
	mp.recipients = opts->recipients;
	mp.recipient_count = opts->recipient_count;
	if (generic.maps != NULL) {
		mp.rewrite = main_generic_rewrite;
		mp.rewrite_ctx = &generic;
	}
	(void)clock_gettime(CLOCK_REALTIME, &arrival);
	mp.now = arrival.tv_sec;
	if (message_intake(&msg, in_fd, new.fd, &mp, e) == -1) {
		spool_abort(spool, &new);
		goto out;
	}
	if (main_resolve_recipients(conf, &msg.recipients, e) == -1) {
		spool_abort(spool, &new);
		goto out;
	}
	if (generic.maps != NULL)
		main_generic_envelope(&generic, &msg);
	main_envelope(&env, &msg, opts, &arrival);
	if (spool_commit(spool, &new, &env, e) == -1) {
		(void)close(new.fd);
		goto out;
	}
	(void)close(new.fd);
	(void)snprintf(id, SPOOL_ID_LEN + 1, "%s", env.id);
	log_info("%s: uid=%lu from=<%s>", env.id, env.uid, msg.sender);
	log_info("%s: message-id=<%s>", env.id,
	    msg.message_id != NULL ? msg.message_id : "");
	rc = 0;
out:
	spool_envelope_free(&env);
	message_free(&msg);
	map_list_free(generic.maps);
	free(login);
	return rc;
}

/*
 * The synchronous attempt. The message is already safe in the queue, so
 * only a failure nobody will hear about otherwise (a rejected bounce, an
 * unreadable queue) is an error for the caller.
 */
static int
main_deliver(const struct conf *conf, struct spool *spool, const char *id,
    struct err *e)
{
	struct deliver_options	 opts;
	struct deliver_result	 res, bounce;
	struct err		 ignored;

	memset(&opts, 0, sizeof(opts));
	opts.now = time(NULL);
	opts.tell_caller = true;
	if (deliver_queued(conf, spool, id, NULL, &opts, &res, e) == -1)
		return -1;
	if (res.deferred > 0)
		(void)fprintf(stderr, "sendrelay: %s: queued for %zu "
		    "recipient(s); `sendrelay -q` retries it\n", id,
		    res.deferred);
	if (res.bounce_id[0] != '\0') {
		opts.tell_caller = false;
		err_clear(&ignored);
		(void)deliver_queued(conf, spool, res.bounce_id, NULL, &opts,
		    &bounce, &ignored);
	}
	if (res.unreported > 0) {
		err_copy(e, &res.worst);
		return -1;
	}
	return 0;
}

/* -odb: the caller goes on while a detached child delivers. */
static int
main_deliver_background(const struct conf *conf, struct spool *spool,
    const char *id, struct err *e)
{
	pid_t	 pid = fork();
	int	 fd;

	if (pid == -1) {
		log_warn("%s: cannot fork for background delivery (%s); it "
		    "stays queued", id, strerror(errno));
		return 0;
	}
	if (pid > 0)
		return 0;
	(void)setsid();
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			(void)close(fd);
	}
	if (main_deliver(conf, spool, id, e) == -1)
		log_error("%s", e->text);
	_exit(0);
}

static int
main_send(const struct opts *opts, const struct conf *conf, struct err *e)
{
	struct spool	 spool;
	char		 id[SPOOL_ID_LEN + 1];
	int		 rc;

	if (route_check(conf, e) == -1 ||
	    spool_open(&spool, conf->sendrelay_queue_directory, true, e) == -1)
		return -1;
	if ((rc = main_intake(opts, conf, &spool, STDIN_FILENO, id, e)) == 0)
		rc = main_dispatch(opts, conf, &spool, id, e);
	spool_close(&spool);
	return rc;
}

/* -odi (default), -odb or -odq: deliver now, in the background, or not. */
static int
main_dispatch(const struct opts *opts, const struct conf *conf,
    struct spool *spool, const char *id, struct err *e)
{
	const char	*mode = opts->delivery_mode;

	if (mode != NULL && (*mode == 'q' || *mode == 'd'))
		return 0;
	if (mode != NULL && *mode == 'b')
		return main_deliver_background(conf, spool, id, e);
	return main_deliver(conf, spool, id, e);
}

struct main_bs {
	const struct opts	*opts;
	const struct conf	*conf;
	struct spool		*spool;
};

static int
main_bs_scratch(void *ctx, struct err *e)
{
	struct main_bs	*bs = ctx;

	return spool_scratch(bs->spool, e);
}

/* One -bs message: the same intake, queue and delivery as argv's. */
static int
main_bs_accept(void *ctx, const char *sender, const struct addr_list *rcpts,
    int data_fd, char *queue_id, size_t queue_id_len, struct err *e)
{
	struct main_bs	*bs = ctx;
	struct opts	 one = *bs->opts;
	char		 id[SPOOL_ID_LEN + 1];

	one.sender = (char *)sender;
	one.recipients = rcpts->v;
	one.recipient_count = rcpts->n;
	one.extract_recipients = false;
	one.dot_ends_input = false;
	if (main_intake(&one, bs->conf, bs->spool, data_fd, id, e) == -1)
		return -1;
	(void)snprintf(queue_id, queue_id_len, "%s", id);
	return main_dispatch(&one, bs->conf, bs->spool, id, e);
}

/* -bs: SMTP on standard input and output (Symfony Mailer, SwiftMailer). */
static int
main_smtp_stdio(const struct opts *opts, const struct conf *conf,
    struct err *e)
{
	struct spool		 spool;
	struct main_bs		 bs = { opts, conf, &spool };
	struct smtpd_hooks	 hooks = { main_bs_scratch, main_bs_accept, &bs };
	int			 rc;

	if (route_check(conf, e) == -1 ||
	    spool_open(&spool, conf->sendrelay_queue_directory, true, e) == -1)
		return -1;
	rc = smtpd_session(STDIN_FILENO, STDOUT_FILENO, conf->myhostname,
	    conf->message_size_limit, &hooks, e);
	spool_close(&spool);
	return rc;
}

static int
main_queue(const struct opts *opts, const struct conf *conf, struct err *e)
{
	enum queue_select	 sel;
	const char		*id;

	if (opts->mode == OPTS_MODE_QUEUE_LIST)
		return queue_list(conf, stdout, e);
	if (queue_parse_select(opts->queue_arg, &sel, &id, e) == -1)
		return -1;
	return queue_run(conf, sel, id, e);
}

static int
main_mode_unavailable(enum opts_mode mode, struct err *e)
{
	static const char *const what[] = {
		[OPTS_MODE_VERIFY] = "-bv: showing routes",
	};

	return err_set(e, ERR_USAGE, "%s is not supported by this version "
	    "(it comes with the routing feature)", what[mode]);
}

int
main(int argc, char *argv[])
{
	struct opts	 opts;
	struct conf	 conf;
	struct err	 e;
	char		 text[2 * ERR_TEXT_MAX + 64];
	int		 have_conf = 0, rc;

	main_sanitize_process();
	err_clear(&e);
	memset(&conf, 0, sizeof(conf));
	(void)log_open("sendrelay", "mail");
	if (opts_parse(&opts, argc, argv, &e) == -1) {
		(void)fprintf(stderr, "sendrelay: %s\n", e.text);
		(void)fprintf(stderr, "usage: sendrelay [-i] [-t] [-v] "
		    "[-C config] [-f sender] [-F name] [recipient ...]\n");
		return err_exit_code(&e);
	}
	log_set_verbose(opts.verbose);
	if (opts.mode != OPTS_MODE_SEND && opts.mode != OPTS_MODE_QUEUE_LIST &&
	    opts.mode != OPTS_MODE_QUEUE_RUN && opts.mode != OPTS_MODE_ALIASES &&
	    opts.mode != OPTS_MODE_SMTP_STDIO) {
		rc = main_mode_unavailable(opts.mode, &e);
		goto done;
	}
	if (opts.config_path != NULL && (rc = main_drop_group(&e)) == -1)
		goto done;
	if ((rc = conf_load(&conf, opts.config_path, &e)) == -1)
		goto done;
	have_conf = 1;
	if (log_open(conf.syslog_name, conf.syslog_facility) == -1) {
		rc = err_set(&e, ERR_CONFIG, "syslog_facility: unknown "
		    "facility '%s'", conf.syslog_facility);
		goto done;
	}
	log_set_file(conf.maillog_file);
	if (opts.mode == OPTS_MODE_SEND)
		rc = main_send(&opts, &conf, &e);
	else if (opts.mode == OPTS_MODE_ALIASES)
		rc = main_check_aliases(&conf, &e);
	else if (opts.mode == OPTS_MODE_SMTP_STDIO)
		rc = main_smtp_stdio(&opts, &conf, &e);
	else
		rc = main_queue(&opts, &conf, &e);
done:
	if (rc == -1) {
		err_format(&e, text, sizeof(text));
		log_error("%s", text);
	}
	if (have_conf)
		conf_free(&conf);
	opts_free(&opts);
	log_close();
	return rc == -1 ? err_exit_code(&e) : 0;
}
