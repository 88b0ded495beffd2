/* SPDX-License-Identifier: ISC */
/*
 * stream and net over socketpairs, forked peers and loopback listeners:
 * line splitting, bounds, EOF, queued writes against a full socket buffer,
 * swapped ops (TLS-like wants and pending bytes), deadlines that a slow
 * peer cannot extend, and connect success / refusal.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "net.h"
#include "stream.h"

#define TEST_MAX_LINE	100

static double	 now_seconds(void);
static void	 pair(int [2]);
static void	 write_all(int, const char *, size_t);
static void	 test_lines(void);
static void	 test_long_lines(void);
static void	 test_big_write(void);
static void	 test_coalescing(void);
static void	 test_pending_ops(void);
static void	 test_timeouts(void);
static void	 test_drip_feed(void);
static void	 test_broken_pipe(void);
static void	 test_families(void);
static void	 test_connect(void);
static ssize_t	 fake_write(void *, const void *, size_t);
static ssize_t	 fake_read(void *, void *, size_t);
static size_t	 fake_pending(void *);
static const char *fake_error(void *);

static double
now_seconds(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(1);
	}
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0) {
			perror("write");
			exit(1);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Input written by the peer, then closed: the lines, then EOF. */
static const struct {
	const char	*input;
	const char	*lines[4];
} line_cases[] = {
	{ "220 a\r\n250-b\n250 c\r\n", { "220 a", "250-b", "250 c" } },
	{ "\r\n\n", { "", "" } },
	{ "x\ry\r\n\rz\r\r\n", { "x\ry", "\rz\r" } },
	{ "no newline at all", { NULL } },
	{ "one\r\npartial", { "one" } },
	{ "", { NULL } },
};

static void
test_lines(void)
{
	struct stream s;
	struct buf line;
	struct err e;
	int	 sv[2], rc;
	size_t	 i, j;

	buf_init(&line, 1000);
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		pair(sv);
		write_all(sv[1], line_cases[i].input,
		    strlen(line_cases[i].input));
		close(sv[1]);
		stream_init(&s, sv[0], TEST_MAX_LINE);
		stream_set_timeout(&s, 5, "reading test");
		for (j = 0; line_cases[i].lines[j] != NULL; j++) {
			rc = stream_read_line(&s, &line, &e);
			CHECK(rc == 0, "lines %zu.%zu rc", i, j);
			CHECK_STR(buf_cstr(&line), line_cases[i].lines[j],
			    "lines %zu.%zu text", i, j);
		}
		rc = stream_read_line(&s, &line, &e);
		CHECK(rc == -1 && e.kind == ERR_TEMP, "lines %zu then EOF", i);
		CHECK_STR(e.text, "connection closed by peer reading test",
		    "lines %zu EOF text", i);
		stream_close(&s);
		CHECK(s.fd == -1, "lines %zu closed", i);
	}
	buf_free(&line);
}

static void
test_long_lines(void)
{
	struct stream s;
	struct buf line;
	struct err e;
	char	*big;
	size_t	 biglen = 3 * STREAM_READ_CHUNK;
	int	 sv[2], rc;

	big = malloc(biglen);
	buf_init(&line, 2 * STREAM_READ_CHUNK);

	/* Exactly max_line is fine, one more is not. */
	pair(sv);
	memset(big, 'a', TEST_MAX_LINE);
	memcpy(big + TEST_MAX_LINE, "\r\n", 2);
	write_all(sv[1], big, TEST_MAX_LINE + 2);
	memset(big, 'b', TEST_MAX_LINE + 1);
	memcpy(big + TEST_MAX_LINE + 1, "\r\n", 2);
	write_all(sv[1], big, TEST_MAX_LINE + 3);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	s.peer = "mx.example[192.0.2.1]:25";
	stream_set_timeout(&s, 5, "reading test");
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0 && line.len == TEST_MAX_LINE, "max_line accepted");
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == -1 && e.kind == ERR_PROTOCOL, "max_line + 1 refused");
	CHECK_STR(e.text, "line from mx.example[192.0.2.1]:25 exceeds 100 "
	    "bytes", "long line text");
	stream_close(&s);
	close(sv[1]);

	/* An endless line without LF fails without reading it all. */
	pair(sv);
	memset(big, 'c', biglen);
	write_all(sv[1], big, biglen);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 5, "reading test");
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == -1 && e.kind == ERR_PROTOCOL, "endless line refused");
	CHECK(s.in.len <= TEST_MAX_LINE + 2 + STREAM_READ_CHUNK,
	    "input stays bounded (%zu)", s.in.len);
	stream_close(&s);
	close(sv[1]);

	/* Lines crossing read chunks, with a large max_line. */
	pair(sv);
	memset(big, 'd', biglen);
	big[STREAM_READ_CHUNK + 10] = '\n';
	memcpy(big + biglen - 6, "tail\r\n", 6);
	write_all(sv[1], big, biglen);
	stream_init(&s, sv[0], 2 * STREAM_READ_CHUNK);
	stream_set_timeout(&s, 5, "reading test");
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0 && line.len == STREAM_READ_CHUNK + 10,
	    "line across chunks (%zu)", line.len);
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0 && line.len == biglen - STREAM_READ_CHUNK - 11 - 2 &&
	    strcmp(line.data + line.len - 4, "tail") == 0,
	    "second line across chunks (%zu)", line.len);
	CHECK(stream_pending_input(&s) == 0, "nothing pending");
	stream_close(&s);
	close(sv[1]);

	/* A caller's line buffer smaller than the line is an error too. */
	pair(sv);
	write_all(sv[1], "0123456789\r\nok\r\n", 16);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 5, "reading test");
	buf_free(&line);
	buf_init(&line, 5);
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == -1 && e.kind == ERR_PROTOCOL, "small line buffer");
	CHECK(stream_pending_input(&s) > 0, "rest stays pending");
	stream_close(&s);
	close(sv[1]);

	buf_free(&line);
	free(big);
}

/*
 * 8 MB through a socketpair whose buffer fills up: a child reads it all
 * slowly and answers with the byte count and a checksum.
 */
static void
test_big_write(void)
{
	struct stream s;
	struct buf line;
	struct err e;
	char	 piece[7001], want[64], got[64];
	size_t	 total = 0, i, max_out = 0;
	unsigned long sum = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 sv[2], rc = 0;

	pair(sv);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		while ((n = read(sv[1], piece, 1000)) > 0) {
			for (i = 0; i < (size_t)n; i++)
				sum = sum * 31 + (unsigned char)piece[i];
			total += (size_t)n;
			if (total % 100000 < 1000)
				usleep(1000);
		}
		n = snprintf(got, sizeof(got), "%zu %lu\r\n", total, sum);
		write_all(sv[1], got, (size_t)n);
		_exit(0);
	}
	close(sv[1]);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 30, "sending test");
	for (i = 0; total < 8 * 1024 * 1024 && rc == 0; i++) {
		memset(piece, 'A' + (int)(i % 26), sizeof(piece));
		piece[i % sizeof(piece)] = (char)i;
		rc = stream_write(&s, piece, (i * 37) % sizeof(piece), &e);
		for (n = 0; n < (ssize_t)((i * 37) % sizeof(piece)); n++)
			sum = sum * 31 + (unsigned char)piece[n];
		total += (i * 37) % sizeof(piece);
		if (s.out.len > max_out)
			max_out = s.out.len;
	}
	CHECK(rc == 0, "big write queued");
	CHECK(max_out <= STREAM_WRITE_CHUNK, "queue bounded (%zu)", max_out);
	rc = stream_flush(&s, &e);
	CHECK(rc == 0 && s.out.len == 0, "big write flushed");
	(void)shutdown(s.fd, SHUT_WR);
	buf_init(&line, TEST_MAX_LINE);
	(void)snprintf(want, sizeof(want), "%zu %lu", total, sum);
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0, "big write answer");
	CHECK_STR(buf_cstr(&line), want, "big write arrived intact");
	buf_free(&line);
	stream_close(&s);
	(void)waitpid(pid, NULL, 0);
}

/* A fake op layer: counts writes, accepts at most 7 bytes, wants often. */
struct fake {
	struct buf	 sent;
	size_t		 writes;
	size_t		 calls;
	const char	*held;		/* "decrypted" input */
	size_t		 held_len;
};

static ssize_t
fake_write(void *ctx, const void *p, size_t len)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->calls % 3 == 1)
		return f->calls % 2 ? STREAM_WANT_WRITE : STREAM_WANT_READ;
	f->writes++;
	if (len > 7)
		len = 7;
	(void)buf_append(&f->sent, p, len);
	return (ssize_t)len;
}

static ssize_t
fake_read(void *ctx, void *p, size_t len)
{
	struct fake *f = ctx;

	if (f->held_len == 0)
		return STREAM_FAIL;
	if (len > f->held_len)
		len = f->held_len;
	memcpy(p, f->held, len);
	f->held += len;
	f->held_len -= len;
	return (ssize_t)len;
}

static size_t
fake_pending(void *ctx)
{
	struct fake *f = ctx;

	return f->held_len;
}

static const char *
fake_error(void *ctx)
{
	(void)ctx;
	return "fake layer failed";
}

/* Ten queued lines leave in one write(2). */
static void
test_coalescing(void)
{
	struct stream s;
	struct err e;
	char	 got[1024];
	ssize_t	 n;
	int	 sv[2], i, rc = 0;

	pair(sv);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 5, "sending test");
	for (i = 0; i < 10; i++)
		rc |= stream_puts(&s, "RCPT TO:<a@example.org>\r\n", &e);
	CHECK(rc == 0 && s.out.len == 250, "ten lines queued");
	rc = stream_flush(&s, &e);
	CHECK(rc == 0, "flushed");
	n = recv(sv[1], got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == 250, "one segment of 250 bytes (%zd)", n);
	rc = stream_flush(&s, &e);
	CHECK(rc == 0, "empty flush");
	stream_close(&s);
	close(sv[1]);
}

/*
 * Swapped ops: partial writes and wants are driven to the end; input the
 * layer holds is read without polling the (silent) fd; its error text is
 * reported. NULL restores the plain ops.
 */
static void
test_pending_ops(void)
{
	struct stream s;
	struct stream_ops ops;
	struct fake f;
	struct buf line;
	struct err e;
	const char *msg = "EHLO client.example\r\nMAIL FROM:<>\r\n";
	int	 sv[2], rc;

	pair(sv);
	memset(&f, 0, sizeof(f));
	buf_init(&f.sent, 4096);
	f.held = "250-a\r\n250 b\r\n";
	f.held_len = strlen(f.held);
	ops.read = fake_read;
	ops.write = fake_write;
	ops.pending = fake_pending;
	ops.error = fake_error;
	ops.ctx = &f;
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_ops(&s, &ops);
	stream_set_timeout(&s, 1, "testing ops");
	buf_init(&line, TEST_MAX_LINE);
	CHECK(stream_pending_input(&s) == 14, "layer's bytes pending");
	/* The fd is readable, for the layer's WANT_READ during the flush. */
	write_all(sv[1], "x", 1);
	rc = stream_puts(&s, msg, &e);
	if (rc == 0)
		rc = stream_flush(&s, &e);
	CHECK(rc == 0, "flush through wants: %s", rc == 0 ? "" : e.text);
	CHECK(f.writes == 5, "35 bytes in 7-byte writes (%zu)", f.writes);
	CHECK_STR(buf_cstr(&f.sent), msg, "partial writes in order");
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0, "read held input");
	CHECK_STR(buf_cstr(&line), "250-a", "held line 1");
	CHECK(stream_pending_input(&s) == 7, "rest pending in stream");
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0, "read held input 2");
	CHECK_STR(buf_cstr(&line), "250 b", "held line 2");
	/* Nothing held: polls the fd, then the layer fails. */
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == -1 && e.kind == ERR_TEMP,
	    "layer failure");
	CHECK_STR(e.text, "lost connection with peer testing ops: fake layer "
	    "failed", "layer error text");
	stream_set_ops(&s, NULL);
	write_all(sv[1], "\r\n", 2);
	rc = stream_read_line(&s, &line, &e);
	CHECK(rc == 0 &&
	    strcmp(buf_cstr(&line), "x") == 0, "plain ops restored");
	buf_free(&line);
	buf_free(&f.sent);
	stream_close(&s);
	close(sv[1]);
}

/* A peer that never answers, or never reads: we give up on time. */
static void
test_timeouts(void)
{
	struct stream s;
	struct buf line;
	struct err e;
	char	*big;
	double	 start, took;
	int	 sv[2], rc;

	buf_init(&line, TEST_MAX_LINE);
	pair(sv);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	s.peer = "mx[192.0.2.1]:25";
	stream_set_timeout(&s, 1, "reading greeting");
	start = now_seconds();
	rc = stream_read_line(&s, &line, &e);
	took = now_seconds() - start;
	CHECK(rc == -1 && e.kind == ERR_TEMP, "silent peer times out");
	CHECK_STR(e.text, "timed out reading greeting (mx[192.0.2.1]:25)",
	    "timeout text");
	CHECK(took > 0.5 && took < 3, "timed out after %.2f s", took);

	/* The attempt deadline caps a longer per-step timeout. */
	stream_set_attempt_deadline(&s, 1);
	stream_set_timeout(&s, 60, "reading EHLO reply");
	start = now_seconds();
	rc = stream_read_line(&s, &line, &e);
	took = now_seconds() - start;
	CHECK(rc == -1 && e.kind == ERR_TEMP && took < 3,
	    "attempt deadline wins after %.2f s", took);

	/* A peer that never reads: the queue cannot drain. */
	big = calloc(1, 4 * 1024 * 1024);
	stream_set_attempt_deadline(&s, 0);
	stream_set_timeout(&s, 1, "sending message");
	start = now_seconds();
	rc = stream_write(&s, big, 4 * 1024 * 1024, &e);
	if (rc == 0)
		rc = stream_flush(&s, &e);
	took = now_seconds() - start;
	CHECK(rc == -1 && e.kind == ERR_TEMP, "stuck writer times out");
	CHECK_STR(e.text, "timed out sending message (mx[192.0.2.1]:25)",
	    "write timeout text");
	CHECK(took < 3, "write timed out after %.2f s", took);
	free(big);
	stream_close(&s);
	close(sv[1]);
	buf_free(&line);
}

/* One byte every 200 ms must not stretch a 1 s deadline. */
static void
test_drip_feed(void)
{
	struct stream s;
	struct buf line;
	struct err e;
	const char *reply = "220 mx.example.org ESMTP ready\r\n";
	double	 start, took;
	pid_t	 pid;
	size_t	 i;
	int	 sv[2], rc;

	pair(sv);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		for (i = 0; reply[i] != '\0'; i++) {
			if (write(sv[1], reply + i, 1) != 1)
				_exit(0);
			usleep(200 * 1000);
		}
		_exit(0);
	}
	close(sv[1]);
	buf_init(&line, TEST_MAX_LINE);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 1, "reading greeting");
	start = now_seconds();
	rc = stream_read_line(&s, &line, &e);
	took = now_seconds() - start;
	CHECK(rc == -1 && e.kind == ERR_TEMP, "drip feed times out");
	CHECK_STR(e.text, "timed out reading greeting (peer)", "drip text");
	CHECK(took < 3, "drip feed stopped after %.2f s", took);
	stream_close(&s);
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, NULL, 0);
	buf_free(&line);
}

/* Writing to a peer that is gone fails cleanly (no SIGPIPE). */
static void
test_broken_pipe(void)
{
	struct stream s;
	struct err e;
	int	 sv[2], rc;

	pair(sv);
	close(sv[1]);
	stream_init(&s, sv[0], TEST_MAX_LINE);
	stream_set_timeout(&s, 5, "sending QUIT");
	rc = stream_puts(&s, "QUIT\r\n", &e);
	if (rc == 0)
		rc = stream_flush(&s, &e);
	CHECK(rc == -1 && e.kind == ERR_TEMP, "broken pipe");
	CHECK_STR(e.text, "lost connection with peer sending QUIT: Broken pipe",
	    "broken pipe text");
	stream_close(&s);
}

static const struct {
	const char	*text;
	int		 rc;
	int		 families;
} family_cases[] = {
	{ "all", 0, NET_IPV4 | NET_IPV6 },
	{ "ipv4", 0, NET_IPV4 },
	{ "ipv6", 0, NET_IPV6 },
	{ "ipv4, ipv6", 0, NET_IPV4 | NET_IPV6 },
	{ "ipv6,ipv4", 0, NET_IPV4 | NET_IPV6 },
	{ " IPv4 ", 0, NET_IPV4 },
	{ "", -1, 0 },
	{ ", ", -1, 0 },
	{ "ipv5", -1, 0 },
	{ "ipv4, ipx", -1, 0 },
	{ "ipv44", -1, 0 },
};

static void
test_families(void)
{
	size_t	 i;
	int	 families, rc;

	for (i = 0; i < sizeof(family_cases) / sizeof(family_cases[0]); i++) {
		families = -7;
		rc = net_parse_families(family_cases[i].text, &families);
		CHECK(rc == family_cases[i].rc && (rc == -1 ? families == -7 :
		    families == family_cases[i].families),
		    "families '%s'", family_cases[i].text);
	}
}

static void
test_connect(void)
{
	struct sockaddr_in sin;
	socklen_t sinlen = sizeof(sin);
	struct net_peer peer;
	struct err e;
	char	 want[128];
	int	 lfd, fd, port;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ==
	    -1 || listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sinlen) == -1) {
		perror("listener");
		exit(1);
	}
	port = ntohs(sin.sin_port);

	fd = net_connect("127.0.0.1", port, NET_IPV4 | NET_IPV6, 5, &peer, &e);
	CHECK(fd >= 0, "connect to listener: %s", fd >= 0 ? "" : e.text);
	(void)snprintf(want, sizeof(want), "127.0.0.1[127.0.0.1]:%d", port);
	CHECK_STR(peer.label, want, "peer label");
	CHECK_STR(peer.addr, "127.0.0.1", "peer addr");
	CHECK(peer.port == port, "peer port");
	if (fd >= 0)
		close(fd);

	fd = net_connect("localhost", port, NET_IPV4, 5, &peer, &e);
	CHECK(fd >= 0 && strcmp(peer.addr, "127.0.0.1") == 0 &&
	    strcmp(peer.host, "localhost") == 0, "connect by name");
	if (fd >= 0)
		close(fd);

	/* The same port once closed: refused, temporary. */
	close(lfd);
	fd = net_connect("127.0.0.1", port, NET_IPV4, 5, &peer, &e);
	CHECK(fd == -1 && e.kind == ERR_TEMP, "closed port refused");
	(void)snprintf(want, sizeof(want), "cannot connect to "
	    "127.0.0.1[127.0.0.1]:%d: Connection refused", port);
	CHECK_STR(e.text, want, "refused text");

	fd = net_connect("127.0.0.1", port, NET_IPV6, 5, &peer, &e);
	CHECK(fd == -1 && e.kind == ERR_PERM, "family filtered out: %s",
	    e.text);
	fd = net_connect("127.0.0.1", 0, NET_IPV4, 5, &peer, &e);
	CHECK(fd == -1 && e.kind == ERR_CONFIG, "port 0 refused");
	fd = net_connect("no-such-host.invalid", 25, NET_IPV4, 5, &peer, &e);
	CHECK(fd == -1 && (e.kind == ERR_PERM || e.kind == ERR_TEMP) &&
	    strstr(e.text, "'no-such-host.invalid'") != NULL,
	    "unknown host: %s", e.text);
}

int
main(void)
{
	test_lines();
	test_long_lines();
	test_big_write();
	test_coalescing();
	test_pending_ops();
	test_timeouts();
	test_drip_feed();
	test_broken_pipe();
	test_families();
	test_connect();
	return check_done();
}
