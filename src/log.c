/* SPDX-License-Identifier: ISC */
/*
 * Logging sinks; see log.h. The file sink writes syslog-style lines
 * ("Mon DD HH:MM:SS host ident[pid]: text") so tools written for
 * /var/log/mail.log read it unchanged.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

#define LOG_LINE_MAX	2048

static void	 log_emit(int, bool, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	 log_to_file(const char *);
static int	 log_facility_code(const char *);

static char	*log_ident;
static char	*log_file;
static bool	 log_is_verbose;

static const struct {
	const char	*name;
	int		 code;
} log_facilities[] = {
	{ "mail", LOG_MAIL }, { "user", LOG_USER }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static int
log_facility_code(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(name, log_facilities[i].name) == 0)
			return log_facilities[i].code;
	return -1;
}

int
log_open(const char *name, const char *facility)
{
	int	 code = log_facility_code(facility != NULL ? facility : "mail");

	if (code == -1)
		return -1;
	free(log_ident);
	log_ident = xstrdup(name != NULL ? name : "sendrelay");
	closelog();
	openlog(log_ident, LOG_PID | LOG_NDELAY, code);
	return 0;
}

void
log_set_file(const char *path)
{
	free(log_file);
	log_file = path != NULL && *path != '\0' ? xstrdup(path) : NULL;
}

void
log_set_verbose(bool on)
{
	log_is_verbose = on;
}

bool
log_verbose(void)
{
	return log_is_verbose;
}

void
log_close(void)
{
	closelog();
	free(log_ident);
	free(log_file);
	log_ident = NULL;
	log_file = NULL;
}

static void
log_to_file(const char *text)
{
	char	 stamp[32], host[256];
	time_t	 now = time(NULL);
	struct tm tm;
	FILE	*fp;

	if (log_file == NULL)
		return;
	if ((fp = fopen(log_file, "a")) == NULL)
		return;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	/* One fprintf per line: O_APPEND keeps concurrent writers' lines whole. */
	(void)fprintf(fp, "%s %s %s[%ld]: %s\n", stamp, host,
	    log_ident != NULL ? log_ident : "sendrelay", (long)getpid(), text);
	(void)fclose(fp);
}

static void
log_emit(int priority, bool to_stderr, const char *fmt, va_list ap)
{
	char	 text[LOG_LINE_MAX];
	const char *prefix = priority == LOG_WARNING ? "warning: " : "";

	(void)vsnprintf(text, sizeof(text), fmt, ap);
	syslog(priority, "%s%s", prefix, text);
	if (to_stderr)
		(void)fprintf(stderr, "sendrelay: %s%s\n", prefix, text);
	if (log_file != NULL) {
		char	 line[LOG_LINE_MAX + 16];

		(void)snprintf(line, sizeof(line), "%s%s", prefix, text);
		log_to_file(line);
	}
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, false, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, true, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_ERR, true, fmt, ap);
	va_end(ap);
}

void
log_transcript(char dir, const char *line, size_t len)
{
	struct buf out;
	size_t	 i;
	unsigned char c;

	if (!log_is_verbose)
		return;
	buf_init(&out, 4 * len + 8);
	(void)buf_printf(&out, "%c%c%c ", dir, dir, dir);
	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			(void)buf_printf(&out, "\\x%02x", c);
		else
			(void)buf_putc(&out, (char)c);
	}
	(void)fprintf(stderr, "%s\n", buf_cstr(&out));
	buf_free(&out);
}

void
log_transcript_redacted(char dir, const char *prefix)
{
	if (!log_is_verbose)
		return;
	(void)fprintf(stderr, "%c%c%c %s%s[redacted]\n", dir, dir, dir,
	    prefix, *prefix != '\0' ? " " : "");
}
