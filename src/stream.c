/* SPDX-License-Identifier: ISC */
/*
 * Buffered line I/O over a non-blocking fd, through swappable read/write
 * ops (plain fd here, TLS from tls.c); see stream.h.
 *
 * Does: split input into lines under a maximum length, queue output and
 * write it in as few syscalls as possible, enforce absolute deadlines with
 * poll(2) and CLOCK_MONOTONIC (no alarm(), no signals).
 * Does not: log the transcript (smtp.c does), know about SMTP or TLS.
 * Limits: input is held up to max_line + STREAM_READ_CHUNK bytes, output up
 * to STREAM_WRITE_CHUNK bytes, whatever the peer or the body does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "stream.h"

/* Longer timeouts are clamped so that now + seconds cannot overflow. */
#define STREAM_TIMEOUT_MAX	(100L * 365 * 24 * 3600)

static ssize_t	 stream_fd_read(void *, void *, size_t);
static ssize_t	 stream_fd_write(void *, const void *, size_t);
static const char *stream_fd_error(void *);
static void	 stream_deadline_from_now(struct timespec *, long);
static bool	 stream_deadline_before(const struct timespec *,
		    const struct timespec *);
static int	 stream_remaining_ms(const struct stream *, int *);
static const char *stream_peer(const struct stream *);
static const char *stream_phase(const struct stream *);
static int	 stream_timed_out(const struct stream *, struct err *);
static int	 stream_op_error(const struct stream *, struct err *);
static int	 stream_fill(struct stream *, struct err *);
static int	 stream_take_line(struct stream *, struct buf *, struct err *,
		    bool *);

static ssize_t
stream_fd_read(void *ctx, void *p, size_t len)
{
	struct stream *s = ctx;
	ssize_t	 n;

	do
		n = read(s->fd, p, len);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return STREAM_WANT_READ;
	s->os_errno = errno;
	return STREAM_FAIL;
}

/* MSG_NOSIGNAL: a peer that went away must give EPIPE, not SIGPIPE. */
static ssize_t
stream_fd_write(void *ctx, const void *p, size_t len)
{
	struct stream *s = ctx;
	ssize_t	 n;

	do {
		n = send(s->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == ENOTSOCK)
			n = write(s->fd, p, len);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return STREAM_WANT_WRITE;
	s->os_errno = errno;
	return STREAM_FAIL;
}

static const char *
stream_fd_error(void *ctx)
{
	const struct stream *s = ctx;

	return strerror(s->os_errno);
}

void
stream_init(struct stream *s, int fd, size_t max_line)
{
	int	 flags;

	s->fd = fd;
	if (fd >= 0 && (flags = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	stream_set_ops(s, NULL);
	/* Room for a whole line plus its CR LF, and a chunk read after it. */
	buf_init(&s->in, max_line + 2 + STREAM_READ_CHUNK);
	buf_init(&s->out, STREAM_WRITE_CHUNK);
	s->max_line = max_line;
	s->attempt_deadline.tv_sec = 0;
	s->attempt_deadline.tv_nsec = 0;
	s->deadline = s->attempt_deadline;
	s->peer = NULL;
	s->phase = NULL;
	s->os_errno = 0;
}

void
stream_close(struct stream *s)
{
	buf_wipe(&s->in);
	buf_wipe(&s->out);
	if (s->fd >= 0)
		(void)close(s->fd);
	s->fd = -1;
}

void
stream_set_ops(struct stream *s, const struct stream_ops *ops)
{
	if (ops != NULL) {
		s->ops = *ops;
		return;
	}
	s->ops.read = stream_fd_read;
	s->ops.write = stream_fd_write;
	s->ops.pending = NULL;
	s->ops.error = stream_fd_error;
	s->ops.ctx = s;
}

static void
stream_deadline_from_now(struct timespec *ts, long seconds)
{
	(void)clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += seconds > STREAM_TIMEOUT_MAX ? STREAM_TIMEOUT_MAX :
	    seconds;
}

/* Whether deadline a comes before b; {0,0} is no deadline at all. */
static bool
stream_deadline_before(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec == 0 && a->tv_nsec == 0)
		return false;
	if (b->tv_sec == 0 && b->tv_nsec == 0)
		return true;
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

void
stream_set_attempt_deadline(struct stream *s, long seconds)
{
	s->attempt_deadline.tv_sec = 0;
	s->attempt_deadline.tv_nsec = 0;
	if (seconds > 0)
		stream_deadline_from_now(&s->attempt_deadline, seconds);
	if (stream_deadline_before(&s->attempt_deadline, &s->deadline))
		s->deadline = s->attempt_deadline;
}

void
stream_set_timeout(struct stream *s, long seconds, const char *phase)
{
	s->phase = phase;
	s->deadline.tv_sec = 0;
	s->deadline.tv_nsec = 0;
	if (seconds > 0)
		stream_deadline_from_now(&s->deadline, seconds);
	if (stream_deadline_before(&s->attempt_deadline, &s->deadline))
		s->deadline = s->attempt_deadline;
}

/*
 * Milliseconds left before the deadline, rounded up, for poll(2): -1 when
 * there is no deadline. Returns -1 once the deadline has passed.
 */
static int
stream_remaining_ms(const struct stream *s, int *ms)
{
	struct timespec now;
	long long left;

	*ms = -1;
	if (s->deadline.tv_sec == 0 && s->deadline.tv_nsec == 0)
		return 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	left = ((long long)s->deadline.tv_sec - now.tv_sec) * 1000000000LL +
	    (s->deadline.tv_nsec - now.tv_nsec);
	if (left <= 0)
		return -1;
	left = (left + 999999) / 1000000;
	*ms = left > INT_MAX ? INT_MAX : (int)left;
	return 0;
}

static const char *
stream_peer(const struct stream *s)
{
	return s->peer != NULL ? s->peer : "peer";
}

static const char *
stream_phase(const struct stream *s)
{
	return s->phase != NULL ? s->phase : "during I/O";
}

static int
stream_timed_out(const struct stream *s, struct err *e)
{
	return err_set(e, ERR_TEMP, "timed out %s (%s)", stream_phase(s),
	    stream_peer(s));
}

static int
stream_op_error(const struct stream *s, struct err *e)
{
	const char *why = NULL;

	if (s->ops.error != NULL)
		why = s->ops.error(s->ops.ctx);
	return err_set(e, ERR_TEMP, "lost connection with %s %s: %s",
	    stream_peer(s), stream_phase(s), why != NULL ? why : "I/O error");
}

int
stream_wait(struct stream *s, bool want_read, struct err *e)
{
	struct pollfd pfd;
	int	 ms, rc;

	/* poll(2) ignores a negative fd: we would sleep to the deadline. */
	if (s->fd < 0)
		return err_set(e, ERR_SOFTWARE, "stream has no connection");
	for (;;) {
		if (stream_remaining_ms(s, &ms) == -1)
			return stream_timed_out(s, e);
		pfd.fd = s->fd;
		pfd.events = want_read ? POLLIN : POLLOUT;
		pfd.revents = 0;
		rc = poll(&pfd, 1, ms);
		/* Errors and hang-ups are left for the next read or write. */
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return err_set(e, ERR_OSERR, "poll: %s",
			    strerror(errno));
	}
}

/*
 * Reads one chunk into s->in. The op layer is asked first only when it
 * already holds bytes (TLS records decrypted earlier); otherwise we poll,
 * which is where the deadline is enforced however slowly bytes trickle in.
 */
static int
stream_fill(struct stream *s, struct err *e)
{
	char	 chunk[STREAM_READ_CHUNK];
	size_t	 room;
	ssize_t	 n;
	bool	 want_read = true, must_wait;

	must_wait = s->ops.pending == NULL || s->ops.pending(s->ops.ctx) == 0;
	room = s->in.max - s->in.len;
	if (room > sizeof(chunk))
		room = sizeof(chunk);
	for (;;) {
		if (must_wait && stream_wait(s, want_read, e) == -1)
			return -1;
		n = s->ops.read(s->ops.ctx, chunk, room);
		if (n > 0)
			break;
		if (n == 0)
			return err_set(e, ERR_TEMP, "connection closed by %s %s",
			    stream_peer(s), stream_phase(s));
		if (n != STREAM_WANT_READ && n != STREAM_WANT_WRITE)
			return stream_op_error(s, e);
		want_read = n == STREAM_WANT_READ;
		must_wait = true;
	}
	/* Cannot fail: room was taken from in.max. */
	(void)buf_append(&s->in, chunk, (size_t)n);
	return 0;
}

/* Moves the first complete line of s->in to line, setting *found. */
static int
stream_take_line(struct stream *s, struct buf *line, struct err *e,
    bool *found)
{
	const char *nl;
	size_t	 len;

	*found = false;
	nl = s->in.len > 0 ? memchr(s->in.data, '\n', s->in.len) : NULL;
	if (nl == NULL) {
		/* Still no LF after max_line bytes and a CR: too long. */
		if (s->in.len > s->max_line + 1)
			return err_set(e, ERR_PROTOCOL,
			    "line from %s exceeds %zu bytes", stream_peer(s),
			    s->max_line);
		return 0;
	}
	len = (size_t)(nl - s->in.data);
	if (len > 0 && s->in.data[len - 1] == '\r')
		len--;
	buf_reset(line);
	if (len > s->max_line || buf_append(line, s->in.data, len) == -1)
		return err_set(e, ERR_PROTOCOL, "line from %s exceeds %zu bytes",
		    stream_peer(s), len > s->max_line ? s->max_line : line->max);
	buf_consume(&s->in, (size_t)(nl - s->in.data) + 1);
	*found = true;
	return 0;
}

int
stream_read_line(struct stream *s, struct buf *line, struct err *e)
{
	bool	 found;

	for (;;) {
		if (stream_take_line(s, line, e, &found) == -1)
			return -1;
		if (found)
			return 0;
		if (stream_fill(s, e) == -1)
			return -1;
	}
}

int
stream_write(struct stream *s, const void *p, size_t len, struct err *e)
{
	const char *bytes = p;
	size_t	 take;

	while (len > 0) {
		if (s->out.len == s->out.max && stream_flush(s, e) == -1)
			return -1;
		take = s->out.max - s->out.len;
		if (take > len)
			take = len;
		/* Cannot fail: take fits under out.max. */
		(void)buf_append(&s->out, bytes, take);
		bytes += take;
		len -= take;
	}
	return 0;
}

int
stream_puts(struct stream *s, const char *str, struct err *e)
{
	return stream_write(s, str, strlen(str), e);
}

/*
 * One write for the whole queue when the socket takes it; otherwise wait
 * for what the op layer asks (TLS may need to read to write).
 */
int
stream_flush(struct stream *s, struct err *e)
{
	size_t	 done = 0;
	ssize_t	 n;
	int	 rc = 0, ms;

	while (done < s->out.len) {
		if (stream_remaining_ms(s, &ms) == -1) {
			rc = stream_timed_out(s, e);
			break;
		}
		n = s->ops.write(s->ops.ctx, s->out.data + done,
		    s->out.len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == STREAM_WANT_READ || n == STREAM_WANT_WRITE) {
			if ((rc = stream_wait(s, n == STREAM_WANT_READ, e)) ==
			    -1)
				break;
			continue;
		}
		if (n == 0)
			rc = err_set(e, ERR_TEMP, "connection closed by %s %s",
			    stream_peer(s), stream_phase(s));
		else
			rc = stream_op_error(s, e);
		break;
	}
	buf_consume(&s->out, done);
	return rc;
}

size_t
stream_pending_input(const struct stream *s)
{
	size_t	 held = s->ops.pending != NULL ? s->ops.pending(s->ops.ctx) : 0;

	return s->in.len + held;
}
