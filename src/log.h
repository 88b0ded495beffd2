/* SPDX-License-Identifier: ISC */
/*
 * Logging: syslog (facility mail by default), an optional plain log file
 * (maillog_file), stderr for what the caller must see, and the -v SMTP
 * transcript. Secrets never pass through here: the transcript functions
 * take an explicit redacted form for AUTH lines.
 */
#ifndef SENDRELAY_LOG_H
#define SENDRELAY_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* name: syslog ident; facility: syslog facility name ("mail", "local0"...). */
int	 log_open(const char *name, const char *facility);
/* Also append every syslog line to this file (Postfix's maillog_file). */
void	 log_set_file(const char *path);
void	 log_set_verbose(bool);
bool	 log_verbose(void);
void	 log_close(void);

/* syslog (and maillog_file) only, priority info: delivery records. */
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* stderr "sendrelay: warning: ..." and syslog warning. */
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* stderr "sendrelay: ..." and syslog err. */
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * -v transcript on stderr: dir is '<' for what the peer sent, '>' for what
 * we sent. Peer bytes are shown with control characters escaped.
 */
void	 log_transcript(char dir, const char *line, size_t len);
/* Shows "prefix [redacted]" instead of a line that carries a secret. */
void	 log_transcript_redacted(char dir, const char *prefix);

#endif
