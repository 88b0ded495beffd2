/* SPDX-License-Identifier: ISC */
/*
 * The queue directory (queue_directory):
 *
 *   tmp/       files being written; a crash leaves them, spool_cleanup()
 *              removes them once stale
 *   data/ID    the canonical message (CRLF, as message_intake wrote it),
 *              written once and never changed; a delivery attempt holds
 *              an flock(2) on it
 *   env/ID     the envelope: sender, recipients and their state, retry
 *              times, in a line-based text format documented in spool.c;
 *              only ever replaced whole (tmp/ → fsync → rename → fsync of
 *              env/)
 *
 * A message is queued exactly when env/ID exists: data/ID is renamed into
 * place (and made durable) before the first envelope, and removed after
 * the last one. IDs are 16 uppercase hex digits, unique (random) and
 * safe as file names.
 */
#ifndef SENDRELAY_SPOOL_H
#define SENDRELAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "err.h"

#define SPOOL_ID_LEN		16
#define SPOOL_ENVELOPE_MAX	(1024 * 1024)	/* bytes of one env/ID file */

enum spool_rcpt_state {
	SPOOL_RCPT_PENDING,	/* not tried yet, or deferred */
	SPOOL_RCPT_SENT,	/* a server took responsibility */
	SPOOL_RCPT_FAILED,	/* rejected permanently or expired */
};

struct spool_rcpt {
	char			*address;
	enum spool_rcpt_state	 state;
	char			 status[16];	/* enhanced status, "" unknown */
	char			*reason;	/* last result in words, or NULL */
	char			*remote;	/* "host[ip]:port" that said it, or NULL */
};

struct spool_envelope {
	char			 id[SPOOL_ID_LEN + 1];
	char			*sender;	/* "" for the null sender */
	struct timespec		 arrival;
	off_t			 size;		/* bytes in data/ID */
	bool			 eightbit;
	bool			 smtputf8;
	unsigned long		 uid;		/* who submitted it */
	char			*message_id;	/* without <>, or NULL */
	char			*dsn_notify;	/* as given with -N, or NULL */
	char			*dsn_ret;	/* -R: "full" / "hdrs", or NULL */
	char			*dsn_envid;	/* -V, or NULL */
	unsigned		 attempts;
	time_t			 last_attempt;	/* 0: never */
	time_t			 next_attempt;	/* due when <= now */
	bool			 delay_warned;
	struct spool_rcpt	*rcpts;
	size_t			 rcpt_count;
};

struct spool {
	char	*dir;
	int	 dir_fd, tmp_fd, data_fd, env_fd;	/* directory fds */
};

/* A message being written: data goes to fd, then spool_commit(). */
struct spool_new {
	char	 id[SPOOL_ID_LEN + 1];
	int	 fd;
	char	 tmp_name[SPOOL_ID_LEN + 16];	/* inside tmp/ */
};

/*
 * Opens the queue directory; with create, makes it and its
 * subdirectories (mode 0770: the submitting process runs with the
 * queue's group, set-group-id, so no other user may enter) when missing.
 * Files are created 0640. ERR_TEMP when the queue cannot be used (so the
 * caller keeps the message), naming the directory and the reason.
 */
int	 spool_open(struct spool *, const char *dir, bool create, struct err *);
void	 spool_close(struct spool *);

/* Creates tmp/ID.data (mode 0640) for writing. ERR_TEMP on failure. */
int	 spool_create(struct spool *, struct spool_new *, struct err *);
/*
 * Makes the message durable: fsync of the data, rename to data/ID, the
 * envelope (env->id is set from new) written to tmp/, fsync, rename to
 * env/ID, fsync of both directories. On failure everything of this
 * message is removed and the error is ERR_TEMP (disk full, ...), or
 * ERR_DATA when the envelope cannot be formatted (see
 * spool_format_envelope). new->fd stays open (positioned anywhere) for
 * the caller to read and close; after a failure spool_abort() only
 * closes it.
 */
int	 spool_commit(struct spool *, struct spool_new *,
	    struct spool_envelope *, struct err *);
/*
 * An anonymous file in tmp/ (gone when closed, so a crash leaves
 * nothing), for content that is not the canonical message yet (the
 * DATA of -bs). ERR_TEMP on failure.
 */
int	 spool_scratch(struct spool *, struct err *);
/* Removes what spool_create() made (if not committed) and closes the fd. */
void	 spool_abort(struct spool *, struct spool_new *);

/*
 * For a delivery attempt: opens data/ID, takes an exclusive non-blocking
 * flock, then reads env/ID. Returns 1 with *data_fd (locked; close it to
 * unlock) and the envelope (free it); 0 when another process holds the
 * lock or the message is gone (delivered meanwhile); -1 on error: ERR_TEMP
 * for the file system, ERR_DATA for a corrupt envelope or an id that is
 * not an ID. Unless 1, *data_fd is -1 and the envelope empty.
 */
int	 spool_lock(struct spool *, const char *id, int *data_fd,
	    struct spool_envelope *, struct err *);
/*
 * Replaces env/ID (env->id) atomically and durably with this envelope,
 * through a tmp/ name of its own. Errors as for spool_commit().
 */
int	 spool_update(struct spool *, const struct spool_envelope *,
	    struct err *);
/* Removes env/ID, then data/ID, durably. The caller holds the lock. */
int	 spool_remove(struct spool *, const char *id, struct err *);
/* Reads env/ID without locking (for listing). 1, 0 when gone, or -1. */
int	 spool_read(struct spool *, const char *id, struct spool_envelope *,
	    struct err *);
/*
 * The IDs in env/, sorted; *ids is a NULL-terminated array (free with
 * spool_ids_free). Names that are not IDs are skipped.
 */
int	 spool_list(struct spool *, char ***ids, size_t *count, struct err *);
void	 spool_ids_free(char **);
/*
 * Removes tmp/ files and data/ files without an envelope, older than
 * max_age seconds by mtime (a crash leaves them). Only names of the forms
 * spool.c creates are touched. Returns how many.
 */
size_t	 spool_cleanup(struct spool *, time_t now, time_t max_age);

/* A fresh random ID (for bounces and tests too). */
void	 spool_new_id(char id[SPOOL_ID_LEN + 1]);
/*
 * The envelope file format (documented in spool.c), exposed for the unit
 * tests and fuzz target. Parsing fills the envelope from scratch (it does
 * not free what was there); on error it is left empty and the error is
 * ERR_DATA "line N: ...". Formatting appends to the buf; it returns -1,
 * leaving the buf as it was, when the id is not an ID, the sender or a
 * recipient holds a control character other than TAB (a recipient also
 * when empty), or the buf's maximum is reached. Control characters in
 * other text (reason, remote, message-id, dsn-*) become ' ' or '?'.
 * parse(format(e)) == e for every e that formats and has only clean text.
 */
int	 spool_parse_envelope(const char *text, size_t len,
	    struct spool_envelope *, struct err *);
int	 spool_format_envelope(const struct spool_envelope *, struct buf *);
/* Frees what the envelope holds and zeroes it (safe on a zeroed one). */
void	 spool_envelope_free(struct spool_envelope *);
/* Appends a recipient (copies address), state PENDING. */
void	 spool_envelope_add_rcpt(struct spool_envelope *, const char *);
/* True when no recipient is PENDING. */
bool	 spool_envelope_done(const struct spool_envelope *);

#endif
