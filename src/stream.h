/* SPDX-License-Identifier: ISC */
/*
 * Buffered line I/O over a non-blocking fd, through pluggable read/write
 * operations so that TLS can swap itself in (tls.c) and smtp.c never
 * branches on TLS. Writes are queued and only go out on stream_flush() (or
 * when the queue passes STREAM_WRITE_CHUNK), so a pipelined command group
 * or a body chunk leaves in few TLS records and TCP segments.
 *
 * Deadlines are absolute (CLOCK_MONOTONIC): stream_set_timeout() arms one
 * for the next operations from now, capped by the whole-attempt deadline.
 * A peer dripping one byte at a time cannot extend either.
 */
#ifndef SENDRELAY_STREAM_H
#define SENDRELAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "err.h"

#define STREAM_WRITE_CHUNK	(64 * 1024)
#define STREAM_READ_CHUNK	(16 * 1024)

/* What an op returns besides a byte count (> 0) or 0 for EOF. */
#define STREAM_FAIL		(-1)
#define STREAM_WANT_READ	(-2)
#define STREAM_WANT_WRITE	(-3)

struct stream_ops {
	ssize_t	(*read)(void *ctx, void *, size_t);
	ssize_t	(*write)(void *ctx, const void *, size_t);
	/* Bytes the layer already holds decrypted (may be NULL). */
	size_t	(*pending)(void *ctx);
	/* Text for the last STREAM_FAIL (may be NULL). */
	const char *(*error)(void *ctx);
	void	*ctx;
};

struct stream {
	int			 fd;
	struct stream_ops	 ops;
	struct buf		 in;		/* received, not yet consumed */
	struct buf		 out;		/* queued, not yet written */
	size_t			 max_line;
	struct timespec		 attempt_deadline;	/* {0,0}: none */
	struct timespec		 deadline;	/* current operation */
	const char		*peer;		/* for messages: "host[ip]:port" */
	const char		*phase;		/* "reading greeting"... */
	int			 os_errno;	/* last failure of the plain ops */
};

/*
 * Takes ownership of fd (made non-blocking); plain read/write ops, whose
 * context is the stream itself, so it must not move while in use.
 */
void	 stream_init(struct stream *, int fd, size_t max_line);
/* Wipes and frees the buffers (AUTH lines pass through them), closes fd. */
void	 stream_close(struct stream *);
/* Swaps the read/write layer; NULL restores the plain fd ops. */
void	 stream_set_ops(struct stream *, const struct stream_ops *);
/* Caps every later deadline at now + seconds (0: no cap). */
void	 stream_set_attempt_deadline(struct stream *, long seconds);
/*
 * Arms the deadline for what follows: now + seconds (0: none), or sooner
 * when the attempt deadline comes first. phase names the step in errors:
 * "timed out <phase> (<peer>)"; it must outlive its use.
 */
void	 stream_set_timeout(struct stream *, long seconds, const char *phase);

/*
 * Reads one line (without CR LF; a bare LF also ends a line) into line.
 * -1 with ERR_TEMP on timeout, EOF ("connection closed by <peer> <phase>")
 * or I/O error ("lost connection with <peer> <phase>: <reason>"),
 * ERR_PROTOCOL on a line over max_line (or over line's own maximum).
 */
int	 stream_read_line(struct stream *, struct buf *line, struct err *);
/*
 * Queues bytes; writes out when the queue holds STREAM_WRITE_CHUNK, so
 * memory stays bounded. -1 with ERR_TEMP on timeout or I/O error.
 */
int	 stream_write(struct stream *, const void *, size_t, struct err *);
int	 stream_puts(struct stream *, const char *, struct err *);
/* Writes everything queued, waiting as the op layer asks. */
int	 stream_flush(struct stream *, struct err *);
/* Bytes received but not yet consumed, including the op layer's. */
size_t	 stream_pending_input(const struct stream *);
/* Waits until fd is readable (want_read) or writable, or the deadline. */
int	 stream_wait(struct stream *, bool want_read, struct err *);

#endif
