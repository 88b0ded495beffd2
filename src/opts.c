/* SPDX-License-Identifier: ISC */
/*
 * sendmail(8) command line parsing; see opts.h.
 *
 * Does: the flags sendmail-compatible callers (cron, mail(1), PHP, git
 * send-email...) pass, clustered flag letters as getopt(3) allows ("-ti"),
 * option arguments joined ("-ffoo") or separate ("-f foo"), comma lists of
 * recipients in one argument (cron's MAILTO="a@x,b@y").
 * Does not: validate addresses (addr does), read configuration, or act on
 * a mode (main does). Not getopt(3): that has global state, and glibc's
 * permutes arguments. Like Postfix's sendmail (which calls getopt with
 * "+"), option parsing stops at the first non-option argument, so every
 * later argument is a recipient even if it starts with '-'.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "opts.h"
#include "xmalloc.h"

enum opts_arg {
	OPTS_ARG_NONE,		/* a flag; may be clustered: -ti */
	OPTS_ARG_REQUIRED,	/* joined or the next argument: -ffoo, -f foo */
	OPTS_ARG_JOINED,	/* only the rest of this argument, maybe "": -q */
};

struct opts_flag {
	char		 letter;
	enum opts_arg	 arg;
	/* NULL: accepted for compatibility and ignored. */
	int		(*set)(struct opts *, const char *, struct err *);
};

static int	 opts_set_extract(struct opts *, const char *, struct err *);
static int	 opts_set_no_dot(struct opts *, const char *, struct err *);
static int	 opts_set_verbose(struct opts *, const char *, struct err *);
static int	 opts_set_sender(struct opts *, const char *, struct err *);
static int	 opts_set_full_name(struct opts *, const char *, struct err *);
static int	 opts_set_config(struct opts *, const char *, struct err *);
static int	 opts_set_notify(struct opts *, const char *, struct err *);
static int	 opts_set_ret(struct opts *, const char *, struct err *);
static int	 opts_set_envid(struct opts *, const char *, struct err *);
static int	 opts_set_body(struct opts *, const char *, struct err *);
static int	 opts_set_mode(struct opts *, const char *, struct err *);
static int	 opts_set_queue(struct opts *, const char *, struct err *);
static int	 opts_set_option(struct opts *, const char *, struct err *);
static const struct opts_flag *opts_find(char);
static void	 opts_replace(char **, const char *);
static int	 opts_parse_argument(struct opts *, int, char *const [], int *,
		    struct err *);
static void	 opts_add_recipients(struct opts *, const char *);
static void	 opts_add_recipient(struct opts *, const char *, size_t);
static const char *opts_basename(const char *);

static const struct opts_flag opts_flags[] = {
	{ 't', OPTS_ARG_NONE, opts_set_extract },
	{ 'i', OPTS_ARG_NONE, opts_set_no_dot },
	{ 'v', OPTS_ARG_NONE, opts_set_verbose },
	{ 'f', OPTS_ARG_REQUIRED, opts_set_sender },
	{ 'r', OPTS_ARG_REQUIRED, opts_set_sender },	/* old name of -f */
	{ 'F', OPTS_ARG_REQUIRED, opts_set_full_name },
	{ 'C', OPTS_ARG_REQUIRED, opts_set_config },
	{ 'N', OPTS_ARG_REQUIRED, opts_set_notify },
	{ 'R', OPTS_ARG_REQUIRED, opts_set_ret },
	{ 'V', OPTS_ARG_REQUIRED, opts_set_envid },
	{ 'B', OPTS_ARG_REQUIRED, opts_set_body },
	{ 'b', OPTS_ARG_REQUIRED, opts_set_mode },
	{ 'o', OPTS_ARG_REQUIRED, opts_set_option },
	{ 'q', OPTS_ARG_JOINED, opts_set_queue },

	/* Ignored: meaningless for a send-only relay. */
	{ 'h', OPTS_ARG_REQUIRED, NULL },	/* hop count */
	{ 'L', OPTS_ARG_REQUIRED, NULL },	/* syslog label */
	{ 'X', OPTS_ARG_REQUIRED, NULL },	/* traffic log file */
	{ 'O', OPTS_ARG_REQUIRED, NULL },	/* long option=value */
	{ 'd', OPTS_ARG_JOINED, NULL },		/* sendmail debug levels */
	{ 'm', OPTS_ARG_NONE, NULL },		/* "me too" (always on) */
	{ 'n', OPTS_ARG_NONE, NULL },		/* no aliasing */
	{ 'U', OPTS_ARG_NONE, NULL },		/* initial user submission */
	{ 'G', OPTS_ARG_NONE, NULL },		/* gateway submission */
};

static const struct opts_flag *
opts_find(char letter)
{
	size_t	 i;

	for (i = 0; i < sizeof(opts_flags) / sizeof(opts_flags[0]); i++)
		if (opts_flags[i].letter == letter)
			return &opts_flags[i];
	return NULL;
}

/* A repeated option: the last one wins, as with sendmail. */
static void
opts_replace(char **slot, const char *value)
{
	free(*slot);
	*slot = xstrdup(value);
}

static int
opts_set_extract(struct opts *o, const char *arg, struct err *e)
{
	(void)arg;
	(void)e;
	o->extract_recipients = true;
	return 0;
}

static int
opts_set_no_dot(struct opts *o, const char *arg, struct err *e)
{
	(void)arg;
	(void)e;
	o->dot_ends_input = false;
	return 0;
}

static int
opts_set_verbose(struct opts *o, const char *arg, struct err *e)
{
	(void)arg;
	(void)e;
	o->verbose = true;
	return 0;
}

static int
opts_set_sender(struct opts *o, const char *arg, struct err *e)
{
	(void)e;
	opts_replace(&o->sender, arg);
	return 0;
}

static int
opts_set_full_name(struct opts *o, const char *arg, struct err *e)
{
	(void)e;
	opts_replace(&o->full_name, arg);
	return 0;
}

static int
opts_set_config(struct opts *o, const char *arg, struct err *e)
{
	if (*arg == '\0')
		return err_set(e, ERR_USAGE, "-C: empty configuration path");
	opts_replace(&o->config_path, arg);
	return 0;
}

/* RFC 3461 section 4.1: NOTIFY=NEVER, or a list of SUCCESS, FAILURE, DELAY. */
static int
opts_set_notify(struct opts *o, const char *arg, struct err *e)
{
	static const char *const words[] = { "success", "failure", "delay" };
	const char	*p = arg, *end;
	size_t		 i, len;

	if (strcasecmp(arg, "never") == 0) {
		opts_replace(&o->dsn_notify, arg);
		return 0;
	}
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i]) == len &&
			    strncasecmp(p, words[i], len) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return err_set(e, ERR_USAGE, "-N: expected 'never' or "
			    "a comma list of success, failure, delay; got "
			    "'%s'", arg);
		if (end == NULL)
			break;
		p = end + 1;
	}
	opts_replace(&o->dsn_notify, arg);
	return 0;
}

/* RFC 3461 section 4.3: RET=FULL or RET=HDRS. */
static int
opts_set_ret(struct opts *o, const char *arg, struct err *e)
{
	if (strcasecmp(arg, "full") != 0 && strcasecmp(arg, "hdrs") != 0)
		return err_set(e, ERR_USAGE, "-R: expected full or hdrs, "
		    "got '%s'", arg);
	opts_replace(&o->dsn_ret, arg);
	return 0;
}

static int
opts_set_envid(struct opts *o, const char *arg, struct err *e)
{
	(void)e;
	opts_replace(&o->dsn_envid, arg);
	return 0;
}

/* RFC 6152 BODY= values; stored in the canonical case. */
static int
opts_set_body(struct opts *o, const char *arg, struct err *e)
{
	if (strcasecmp(arg, "7BIT") == 0)
		opts_replace(&o->body_type, "7BIT");
	else if (strcasecmp(arg, "8BITMIME") == 0)
		opts_replace(&o->body_type, "8BITMIME");
	else
		return err_set(e, ERR_USAGE, "-B: expected 7BIT or 8BITMIME, "
		    "got '%s'", arg);
	return 0;
}

static int
opts_set_mode(struct opts *o, const char *arg, struct err *e)
{
	static const struct {
		char		 letter;
		enum opts_mode	 mode;
	} modes[] = {
		{ 'm', OPTS_MODE_SEND }, { 'p', OPTS_MODE_QUEUE_LIST },
		{ 's', OPTS_MODE_SMTP_STDIO }, { 'i', OPTS_MODE_ALIASES },
		{ 'v', OPTS_MODE_VERIFY },
	};
	size_t	 i;

	if (arg[0] != '\0' && arg[1] == '\0')
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (modes[i].letter == arg[0]) {
				o->mode = modes[i].mode;
				return 0;
			}
	return err_set(e, ERR_USAGE, "-b%s: unsupported mode (sendrelay "
	    "supports -bm, -bp, -bs, -bi, -bv)", arg);
}

static int
opts_set_queue(struct opts *o, const char *arg, struct err *e)
{
	(void)e;
	o->mode = OPTS_MODE_QUEUE_RUN;
	opts_replace(&o->queue_arg, arg);
	return 0;
}

/*
 * Old-style sendmail options -oX[value]. Only -oi (same as -i) and -od?
 * (delivery mode) mean something here; -oem, -oee, -om and the rest are
 * ignored, as Postfix does.
 */
static int
opts_set_option(struct opts *o, const char *arg, struct err *e)
{
	if (*arg == '\0')
		return err_set(e, ERR_USAGE, "-o: missing option letter");
	if (arg[0] == 'i')
		o->dot_ends_input = false;
	else if (arg[0] == 'd' && arg[1] != '\0')
		opts_replace(&o->delivery_mode, arg + 1);
	return 0;
}

/*
 * Handles argv[*index], which starts with '-' and is not "--". May consume
 * the next argument as an option value (advancing *index).
 */
static int
opts_parse_argument(struct opts *o, int argc, char *const argv[], int *index,
    struct err *e)
{
	const char		*arg = argv[*index];
	const struct opts_flag	*flag;
	const char		*value;
	size_t			 pos;

	for (pos = 1; arg[pos] != '\0'; pos++) {
		if ((flag = opts_find(arg[pos])) == NULL)
			return err_set(e, ERR_USAGE, "unknown option -%c",
			    arg[pos]);
		if (flag->arg == OPTS_ARG_NONE) {
			if (flag->set != NULL && flag->set(o, NULL, e) == -1)
				return -1;
			continue;
		}
		value = arg + pos + 1;
		if (flag->arg == OPTS_ARG_REQUIRED && *value == '\0') {
			if (*index + 1 >= argc || argv[*index + 1] == NULL)
				return err_set(e, ERR_USAGE, "option -%c "
				    "requires an argument", flag->letter);
			value = argv[++*index];
		}
		/* The value takes the rest of this argument. */
		return flag->set != NULL ? flag->set(o, value, e) : 0;
	}
	return 0;
}

static void
opts_add_recipient(struct opts *o, const char *start, size_t len)
{
	while (len > 0 && isspace((unsigned char)*start)) {
		start++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)start[len - 1]))
		len--;
	if (len == 0)
		return;
	o->recipients = xreallocarray(o->recipients, o->recipient_count + 1,
	    sizeof(*o->recipients));
	o->recipients[o->recipient_count++] = xstrndup(start, len);
}

/*
 * Splits at commas outside "quoted strings", <angle brackets> and
 * (comments), so "\"Doe, J\" <j@x>, k@y" gives two recipients (RFC 5322
 * section 3.4 address lists).
 */
static void
opts_add_recipients(struct opts *o, const char *list)
{
	const char	*p, *start = list;
	bool		 quoted = false;
	size_t		 angle = 0, comment = 0;

	for (p = list; *p != '\0'; p++) {
		if (*p == '\\' && (quoted || comment > 0) && p[1] != '\0')
			p++;
		else if (*p == '"' && comment == 0)
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (*p == '(')
			comment++;
		else if (*p == ')' && comment > 0)
			comment--;
		else if (comment > 0)
			continue;
		else if (*p == '<')
			angle++;
		else if (*p == '>' && angle > 0)
			angle--;
		else if (*p == ',' && angle == 0) {
			opts_add_recipient(o, start, (size_t)(p - start));
			start = p + 1;
		}
	}
	opts_add_recipient(o, start, (size_t)(p - start));
}

static const char *
opts_basename(const char *path)
{
	const char	*slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

int
opts_parse(struct opts *o, int argc, char *const argv[], struct err *e)
{
	const char	*name;
	int		 i;

	memset(o, 0, sizeof(*o));
	o->mode = OPTS_MODE_SEND;
	o->dot_ends_input = true;
	if (argc > 0 && argv[0] != NULL) {
		name = opts_basename(argv[0]);
		if (strcmp(name, "mailq") == 0)
			o->mode = OPTS_MODE_QUEUE_LIST;
		else if (strcmp(name, "newaliases") == 0)
			o->mode = OPTS_MODE_ALIASES;
	}
	for (i = 1; i < argc && argv[i] != NULL; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (opts_parse_argument(o, argc, argv, &i, e) == -1) {
			opts_free(o);
			return -1;
		}
	}
	for (; i < argc && argv[i] != NULL; i++)
		opts_add_recipients(o, argv[i]);
	return 0;
}

void
opts_free(struct opts *o)
{
	size_t	 i;

	free(o->sender);
	free(o->full_name);
	free(o->config_path);
	free(o->dsn_notify);
	free(o->dsn_ret);
	free(o->dsn_envid);
	free(o->body_type);
	free(o->queue_arg);
	free(o->delivery_mode);
	for (i = 0; i < o->recipient_count; i++)
		free(o->recipients[i]);
	free(o->recipients);
	memset(o, 0, sizeof(*o));
}
