/* SPDX-License-Identifier: ISC */
/*
 * sendrelay: a sendmail-compatible, send-only mail relay agent.
 *
 * Phases: command line -> configuration -> message intake -> delivery,
 * and the one mapping of the outcome to a sysexits(3) code. This is the
 * only place that exits. Exit 0 means the message was delivered.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "err.h"
#include "log.h"
#include "message.h"
#include "opts.h"
#include "xmalloc.h"

#define MAIN_QUEUE_ID_BYTES	6

static void	 main_sanitize_process(void);
static char	*main_login_name(void);
static void	 main_queue_id(char *, size_t);
static int	 main_open_scratch(struct err *);
static int	 main_send(const struct opts *, const struct conf *,
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
	(void)umask(077);
	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			_exit(71);
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
main_queue_id(char *out, size_t outlen)
{
	unsigned char	 raw[MAIN_QUEUE_ID_BYTES];
	size_t		 i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		unsigned long v = (unsigned long)time(NULL) ^
		    ((unsigned long)getpid() << 16);

		for (i = 0; i < sizeof(raw); i++, v >>= 8)
			raw[i] = (unsigned char)v;
	}
	out[0] = '\0';
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < outlen; i++)
		(void)snprintf(out + 2 * i, outlen - 2 * i, "%02X", raw[i]);
}

/* An anonymous file for the canonical message: nothing to clean up. */
static int
main_open_scratch(struct err *e)
{
	const char	*dir = getenv("TMPDIR");
	char		*path;
	int		 fd;

	if (dir == NULL || *dir != '/')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	path = xasprintf("%s/sendrelay.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd != -1)
		(void)unlink(path);
	else
		err_set(e, ERR_OSERR, "cannot create a temporary file in %s: "
		    "%s", dir, strerror(errno));
	free(path);
	return fd;
}

static int
main_send(const struct opts *opts, const struct conf *conf, struct err *e)
{
	struct message_params	 mp;
	struct message		 msg;
	struct deliver_request	 req;
	struct deliver_result	 res;
	struct timespec		 arrival;
	char			 queue_id[2 * MAIN_QUEUE_ID_BYTES + 1];
	char			*login = main_login_name();
	int			 fd, rc = -1;

	memset(&msg, 0, sizeof(msg));
	if ((fd = main_open_scratch(e)) == -1)
		goto out;
	memset(&mp, 0, sizeof(mp));
	mp.myhostname = conf->myhostname;
	mp.myorigin = conf->myorigin;
	mp.login = login;
	mp.sender = opts->sender;
	mp.full_name = opts->full_name;
	mp.extract_recipients = opts->extract_recipients;
	mp.dot_ends_input = opts->dot_ends_input;
	mp.size_limit = conf->message_size_limit;
	mp.recipients = opts->recipients;
	mp.recipient_count = opts->recipient_count;
	(void)clock_gettime(CLOCK_REALTIME, &arrival);
	mp.now = arrival.tv_sec;
	if (message_intake(&msg, STDIN_FILENO, fd, &mp, e) == -1)
		goto out;
	main_queue_id(queue_id, sizeof(queue_id));
	log_info("%s: uid=%lu from=<%s>", queue_id, (unsigned long)getuid(),
	    msg.sender);
	log_info("%s: message-id=<%s>", queue_id,
	    msg.message_id != NULL ? msg.message_id : "");
	memset(&req, 0, sizeof(req));
	req.conf = conf;
	req.message = &msg;
	req.body_fd = fd;
	req.queue_id = queue_id;
	req.arrival = arrival;
	req.dsn_notify = opts->dsn_notify;
	req.dsn_ret = opts->dsn_ret;
	req.dsn_envid = opts->dsn_envid;
	rc = deliver_message(&req, &res, e);
out:
	if (fd != -1)
		(void)close(fd);
	message_free(&msg);
	free(login);
	return rc;
}

static int
main_mode_unavailable(enum opts_mode mode, struct err *e)
{
	static const char *const what[] = {
		[OPTS_MODE_QUEUE_LIST] = "-bp (mailq): listing the queue",
		[OPTS_MODE_QUEUE_RUN] = "-q: running the queue",
		[OPTS_MODE_SMTP_STDIO] = "-bs: SMTP on standard input",
		[OPTS_MODE_ALIASES] = "-bi (newaliases): checking aliases",
		[OPTS_MODE_VERIFY] = "-bv: showing routes",
	};

	return err_set(e, ERR_USAGE, "%s is not supported by this version "
	    "(it comes with the mail queue and routing features)", what[mode]);
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
	if (opts.mode != OPTS_MODE_SEND) {
		rc = main_mode_unavailable(opts.mode, &e);
		goto done;
	}
	if ((rc = conf_load(&conf, opts.config_path, &e)) == -1)
		goto done;
	have_conf = 1;
	if (log_open(conf.syslog_name, conf.syslog_facility) == -1) {
		rc = err_set(&e, ERR_CONFIG, "syslog_facility: unknown "
		    "facility '%s'", conf.syslog_facility);
		goto done;
	}
	log_set_file(conf.maillog_file);
	rc = main_send(&opts, &conf, &e);
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
