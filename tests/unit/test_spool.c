/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for spool: the envelope format (round trip, odd addresses,
 * sanitized free text, refused addresses, strict parse errors naming the
 * line) and the queue directory in a mkdtemp dir (commit, list, read,
 * lock, update, remove, abort, cleanup of crash leftovers, a commit that
 * fails half-way and leaves nothing behind).
 * CHECK evaluates its condition twice, so calls are made before it.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "spool.h"
#include "xmalloc.h"

#define ENV_HEAD	"sendrelay-envelope 1\nid 0123456789ABCDEF\n" \
			"sender a@b\narrival 1.000000000\nsize 3\n"

/* Each text must fail with an error starting with want. */
static const struct {
	const char	*text;
	const char	*want;
} bad_cases[] = {
	{ "", "line 1: empty" },
	{ "sendrelay-envelope 2\n", "line 1: not a" },
	{ "sendrelay-envelope 1 \n", "line 1: not a" },
	{ ENV_HEAD "color blue\nrcpt pending x@y\n",
	    "line 6: unknown field 'color'" },
	{ ENV_HEAD, "line 5: envelope ends without a recipient" },
	{ "sendrelay-envelope 1\nsender a@b\narrival 1.000000000\nsize 3\n"
	    "rcpt pending x@y\n", "line 5: envelope ends without 'id'" },
	{ "sendrelay-envelope 1\nid 0123456789ABCDEF\nsender a@b\nsize 3\n"
	    "rcpt pending x@y\n", "line 5: envelope ends without 'arrival'" },
	{ ENV_HEAD "attempts 1x\nrcpt pending x@y\n",
	    "line 6: bad attempts '1x'" },
	{ ENV_HEAD "attempts 4294967296\nrcpt pending x@y\n",
	    "line 6: bad attempts" },
	{ ENV_HEAD "attempts -1\nrcpt pending x@y\n", "line 6: bad attempts" },
	{ ENV_HEAD "attempts  1\nrcpt pending x@y\n", "line 6: bad attempts" },
	{ ENV_HEAD "attempts +1\nrcpt pending x@y\n", "line 6: bad attempts" },
	{ ENV_HEAD "attempts \nrcpt pending x@y\n", "line 6: bad attempts" },
	{ ENV_HEAD "uid 99999999999999999999999\nrcpt pending x@y\n",
	    "line 6: bad uid" },
	{ ENV_HEAD "next-attempt 12 \nrcpt pending x@y\n",
	    "line 6: bad next-attempt" },
	{ ENV_HEAD "eightbit 2\nrcpt pending x@y\n", "line 6: bad eightbit" },
	{ "sendrelay-envelope 1\nid 0123456789ABCDEF\nsender a@b\n"
	    "arrival 1.5\nsize 3\nrcpt pending x@y\n", "line 4: bad arrival" },
	{ "sendrelay-envelope 1\nid 0123456789abcdef\n", "line 2: bad id" },
	{ "sendrelay-envelope 1\nid 0123456789ABCDEF\nsender a@b\n"
	    "arrival 1.000000000\nsize -3\nrcpt pending x@y\n",
	    "line 5: bad size" },
	{ ENV_HEAD "rcpt waiting x@y\n",
	    "line 6: bad recipient state 'waiting'" },
	{ ENV_HEAD "rcpt pending\n", "line 6: expected 'rcpt state address'" },
	{ ENV_HEAD "rcpt\n", "line 6: expected 'name value'" },
	{ ENV_HEAD "rcpt pending \n", "line 6: expected 'rcpt state" },
	{ ENV_HEAD "status 2.0.0\nrcpt pending x@y\n",
	    "line 6: 'status' before any rcpt" },
	{ ENV_HEAD "rcpt sent x@y\nstatus 2.0\n", "line 7: bad status" },
	{ ENV_HEAD "rcpt sent x@y\nstatus 2.0.0\nstatus 2.0.0\n",
	    "line 8: duplicate 'status'" },
	{ ENV_HEAD "rcpt pending x@y\nattempts 1\n",
	    "line 7: 'attempts' after the recipients" },
	{ ENV_HEAD "size 3\nrcpt pending x@y\n", "line 6: duplicate 'size'" },
	{ ENV_HEAD "rcpt pending x@y\r\n", "line 6: control character" },
	{ ENV_HEAD "rcpt pending x@y", "line 6: no newline" },
	{ ENV_HEAD "\nrcpt pending x@y\n", "line 6: expected 'name value'" },
};

static void	 fill_envelope(struct spool_envelope *);
static bool	 same_envelope(const struct spool_envelope *,
		    const struct spool_envelope *);
static bool	 same_string(const char *, const char *);
static void	 test_round_trip(void);
static void	 test_sanitize(void);
static void	 test_bad(void);
static void	 test_oversize(void);
static void	 test_misc(void);
static int	 count_entries(const char *, const char *);
static char	*read_path(const char *);
static void	 write_path(const char *, const char *);
static int	 remove_entry(const char *, const struct stat *, int,
		    struct FTW *);
static void	 commit_message(struct spool *, const char *, char *);
static void	 test_queue(const char *);
static void	 test_lock(const char *, struct spool *, const char *);
static void	 test_cleanup(const char *);
static void	 test_commit_failure(const char *);
static void	 test_open_errors(const char *);

static bool
same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
fill_envelope(struct spool_envelope *env)
{
	memset(env, 0, sizeof(*env));
	memcpy(env->id, "0123456789ABCDEF", SPOOL_ID_LEN + 1);
	env->sender = xstrdup("\"john q. smith\"@example.org");
	env->arrival.tv_sec = 1700000000;
	env->arrival.tv_nsec = 5;
	env->size = 123456;
	env->eightbit = true;
	env->smtputf8 = true;
	env->uid = 4294967295UL;
	env->message_id = xstrdup("abc.123@host.example");
	env->dsn_notify = xstrdup("SUCCESS,FAILURE");
	env->dsn_ret = xstrdup("hdrs");
	env->dsn_envid = xstrdup("QQ314159");
	env->attempts = 7;
	env->last_attempt = 1700000100;
	env->next_attempt = -1;
	env->delay_warned = true;
	spool_envelope_add_rcpt(env, "\"a  b\"@example.org");
	spool_envelope_add_rcpt(env, "jörg@bücher.example");
	spool_envelope_add_rcpt(env, "x\t@y");
	env->rcpts[0].state = SPOOL_RCPT_SENT;
	(void)snprintf(env->rcpts[0].status, sizeof(env->rcpts[0].status),
	    "2.0.0");
	env->rcpts[0].remote = xstrdup("mx.example.org[192.0.2.1]:25");
	env->rcpts[0].reason = xstrdup("250 2.0.0 Ok: queued as 4F3");
	env->rcpts[1].state = SPOOL_RCPT_FAILED;
	(void)snprintf(env->rcpts[1].status, sizeof(env->rcpts[1].status),
	    "5.123.45");
	env->rcpts[1].reason = xstrdup("");
}

static bool
same_envelope(const struct spool_envelope *a, const struct spool_envelope *b)
{
	size_t	 i;

	if (strcmp(a->id, b->id) != 0 || !same_string(a->sender, b->sender) ||
	    a->arrival.tv_sec != b->arrival.tv_sec ||
	    a->arrival.tv_nsec != b->arrival.tv_nsec || a->size != b->size ||
	    a->eightbit != b->eightbit || a->smtputf8 != b->smtputf8 ||
	    a->uid != b->uid || !same_string(a->message_id, b->message_id) ||
	    !same_string(a->dsn_notify, b->dsn_notify) ||
	    !same_string(a->dsn_ret, b->dsn_ret) ||
	    !same_string(a->dsn_envid, b->dsn_envid) ||
	    a->attempts != b->attempts ||
	    a->last_attempt != b->last_attempt ||
	    a->next_attempt != b->next_attempt ||
	    a->delay_warned != b->delay_warned ||
	    a->rcpt_count != b->rcpt_count)
		return false;
	for (i = 0; i < a->rcpt_count; i++)
		if (!same_string(a->rcpts[i].address, b->rcpts[i].address) ||
		    a->rcpts[i].state != b->rcpts[i].state ||
		    strcmp(a->rcpts[i].status, b->rcpts[i].status) != 0 ||
		    !same_string(a->rcpts[i].reason, b->rcpts[i].reason) ||
		    !same_string(a->rcpts[i].remote, b->rcpts[i].remote))
			return false;
	return true;
}

static void
test_round_trip(void)
{
	struct spool_envelope env, back, back2;
	struct buf b, b2;
	struct err e;
	int	 rc, rc2;

	err_clear(&e);
	fill_envelope(&env);
	buf_init(&b, SPOOL_ENVELOPE_MAX);
	buf_init(&b2, SPOOL_ENVELOPE_MAX);
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == 0, "format a full envelope");
	CHECK(strncmp(buf_cstr(&b), "sendrelay-envelope 1\nid 0123456789ABCDEF"
	    "\nsender \"john q. smith\"@example.org\n"
	    "arrival 1700000000.000000005\n", 92) == 0,
	    "version line first, value keeps its spaces, 9 nsec digits");
	CHECK(strstr(buf_cstr(&b), "rcpt sent \"a  b\"@example.org\n"
	    "status 2.0.0\nremote mx.example.org[192.0.2.1]:25\n"
	    "reason 250 2.0.0 Ok: queued as 4F3\n"
	    "rcpt failed jörg@bücher.example\nstatus 5.123.45\nreason \n"
	    "rcpt pending x\t@y\n") != NULL, "recipient blocks");
	rc = spool_parse_envelope(b.data, b.len, &back, &e);
	CHECK(rc == 0, "parse what was formatted (%s)", e.text);
	CHECK(rc == 0 && same_envelope(&env, &back),
	    "parse(format(e)) == e, all fields");
	rc2 = rc == 0 ? spool_format_envelope(&back, &b2) : -1;
	CHECK(rc2 == 0 && strcmp(buf_cstr(&b), buf_cstr(&b2)) == 0,
	    "format(parse(format(e))) == format(e)");
	spool_envelope_free(&back);

	/* The null sender, defaults left out, one recipient. */
	spool_envelope_free(&env);
	memset(&env, 0, sizeof(env));
	memcpy(env.id, "FEDCBA9876543210", SPOOL_ID_LEN + 1);
	env.sender = xstrdup("");
	spool_envelope_add_rcpt(&env, " leading@space");
	buf_reset(&b);
	rc = spool_format_envelope(&env, &b);
	CHECK_STR(rc == 0 ? buf_cstr(&b) : NULL, "sendrelay-envelope 1\n"
	    "id FEDCBA9876543210\nsender \narrival 0.000000000\nsize 0\n"
	    "rcpt pending  leading@space\n", "minimal envelope, null sender");
	rc = spool_parse_envelope(b.data, b.len, &back2, &e);
	CHECK(rc == 0 && same_envelope(&env, &back2) &&
	    back2.sender[0] == '\0' && back2.message_id == NULL,
	    "null sender and absent fields survive");
	CHECK(rc == 0 && !spool_envelope_done(&back2), "pending: not done");
	if (rc == 0) {
		back2.rcpts[0].state = SPOOL_RCPT_FAILED;
		CHECK(spool_envelope_done(&back2), "all failed: done");
		spool_envelope_free(&back2);
	}
	CHECK(back2.rcpts == NULL && back2.sender == NULL,
	    "envelope_free resets the struct");
	spool_envelope_free(&env);
	buf_free(&b);
	buf_free(&b2);
}

static void
test_sanitize(void)
{
	struct spool_envelope env, back;
	struct buf b;
	struct err e;
	int	 rc;

	err_clear(&e);
	fill_envelope(&env);
	free(env.rcpts[0].reason);
	env.rcpts[0].reason = xstrdup("451 first\r\n451 second\x01\x7f end");
	free(env.rcpts[0].remote);
	env.rcpts[0].remote = xstrdup("evil\nstatus 2.0.0");
	free(env.message_id);
	env.message_id = xstrdup("id\r\nrcpt sent victim@x");
	(void)snprintf(env.rcpts[1].status, sizeof(env.rcpts[1].status),
	    "5.1.1\n");
	buf_init(&b, SPOOL_ENVELOPE_MAX);
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == 0, "free text with control characters is formatted");
	rc = rc == 0 ? spool_parse_envelope(b.data, b.len, &back, &e) : -1;
	CHECK(rc == 0, "and parses (%s)", e.text);
	if (rc == 0) {
		CHECK_STR(back.rcpts[0].reason, "451 first  451 second?? end",
		    "reason: CR/LF to spaces, other controls to '?'");
		CHECK_STR(back.rcpts[0].remote, "evil status 2.0.0",
		    "remote cannot inject a line");
		CHECK_STR(back.message_id, "id  rcpt sent victim@x",
		    "message-id cannot inject a recipient");
		CHECK(back.rcpt_count == 3, "still three recipients");
		CHECK_STR(back.rcpts[1].status, "",
		    "a status that is not x.y.z is left out");
		spool_envelope_free(&back);
	}

	buf_reset(&b);
	free(env.sender);
	env.sender = xstrdup("a@b\r\nrcpt pending victim@x");
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == -1 && b.len == 0, "sender with CR LF refused, buf kept");
	free(env.sender);
	env.sender = xstrdup("a@b");
	free(env.rcpts[2].address);
	env.rcpts[2].address = xstrdup("x@y\nrcpt pending victim@x");
	(void)buf_append_str(&b, "keep");
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == -1 && strcmp(buf_cstr(&b), "keep") == 0,
	    "recipient with LF refused, buf kept");
	free(env.rcpts[2].address);
	env.rcpts[2].address = xstrdup("");
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == -1, "empty recipient refused");
	free(env.rcpts[2].address);
	env.rcpts[2].address = xstrdup("x@y");
	env.id[0] = 'g';
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == -1, "bad id refused");
	env.id[0] = '0';
	buf_free(&b);
	buf_init(&b, 50);
	rc = spool_format_envelope(&env, &b);
	CHECK(rc == -1 && b.len == 0, "buf maximum respected");
	buf_free(&b);
	spool_envelope_free(&env);
}

static void
test_bad(void)
{
	struct spool_envelope env;
	struct err e;
	size_t	 i;
	int	 rc;

	err_clear(&e);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		err_clear(&e);
		rc = spool_parse_envelope(bad_cases[i].text,
		    strlen(bad_cases[i].text), &env, &e);
		CHECK(rc == -1 && e.kind == ERR_DATA &&
		    strncmp(e.text, bad_cases[i].want,
		    strlen(bad_cases[i].want)) == 0,
		    "bad envelope %zu: %s", i, bad_cases[i].want);
		if (rc == -1 && strncmp(e.text, bad_cases[i].want,
		    strlen(bad_cases[i].want)) != 0)
			printf("#   got \"%s\"\n", e.text);
		CHECK(env.rcpts == NULL && env.sender == NULL,
		    "bad envelope %zu: nothing left allocated", i);
	}
	rc = spool_parse_envelope(ENV_HEAD "rcpt pending x@y\0\n",
	    sizeof(ENV_HEAD "rcpt pending x@y\0\n") - 1, &env, &e);
	CHECK(rc == -1 && strcmp(e.text, "line 6: control character") == 0,
	    "NUL inside a line");
}

static void
test_oversize(void)
{
	struct spool_envelope env;
	struct buf b;
	struct err e;
	char	 want[64];
	size_t	 fit;
	int	 rc;

	err_clear(&e);
	buf_init(&b, 2 * SPOOL_ENVELOPE_MAX);
	(void)buf_append_str(&b, ENV_HEAD);
	while (b.len <= SPOOL_ENVELOPE_MAX)
		(void)buf_append_str(&b, "rcpt pending someone@example.org\n");
	/* 5 header lines, then fit recipients of 33 bytes; the next crosses. */
	fit = (SPOOL_ENVELOPE_MAX - strlen(ENV_HEAD)) / 33;
	(void)snprintf(want, sizeof(want), "line %zu: envelope larger than",
	    5 + fit + 1);
	rc = spool_parse_envelope(b.data, b.len, &env, &e);
	CHECK(rc == -1 && strncmp(e.text, want, strlen(want)) == 0,
	    "oversize envelope: %s", e.text);
	b.len = strlen(ENV_HEAD) + fit * 33;
	rc = spool_parse_envelope(b.data, b.len, &env, &e);
	CHECK(rc == 0 && env.rcpt_count == fit,
	    "an envelope of just under the maximum");
	spool_envelope_free(&env);
	buf_free(&b);
}

static void
test_misc(void)
{
	char	 a[SPOOL_ID_LEN + 1], b[SPOOL_ID_LEN + 1];
	size_t	 i, good = 0;

	spool_new_id(a);
	spool_new_id(b);
	for (i = 0; i < SPOOL_ID_LEN; i++)
		if ((a[i] >= '0' && a[i] <= '9') ||
		    (a[i] >= 'A' && a[i] <= 'F'))
			good++;
	CHECK(good == SPOOL_ID_LEN && strlen(a) == SPOOL_ID_LEN,
	    "new id is 16 uppercase hex digits: %s", a);
	CHECK(strcmp(a, b) != 0, "two ids differ");
}

static int
count_entries(const char *dir, const char *sub)
{
	char	 path[4096];
	DIR	*d;
	struct dirent *de;
	int	 n = 0;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *
read_path(const char *path)
{
	struct buf b;
	char	 chunk[512];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	buf_init(&b, 1 << 20);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		(void)buf_append(&b, chunk, (size_t)n);
	close(fd);
	return buf_release(&b);
}

static void
write_path(const char *path, const char *text)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Creates, writes and commits a message; id receives its ID. */
static void
commit_message(struct spool *s, const char *body, char *id)
{
	struct spool_new n;
	struct spool_envelope env;
	struct err e;
	int	 rc;

	err_clear(&e);
	id[0] = '\0';
	if (spool_create(s, &n, &e) == -1) {
		printf("# create: %s\n", e.text);
		return;
	}
	if (write(n.fd, body, strlen(body)) != (ssize_t)strlen(body))
		printf("# short write of the test body\n");
	memset(&env, 0, sizeof(env));
	env.sender = xstrdup("sender@example.org");
	env.size = (off_t)strlen(body);
	(void)clock_gettime(CLOCK_REALTIME, &env.arrival);
	spool_envelope_add_rcpt(&env, "one@example.org");
	spool_envelope_add_rcpt(&env, "\"two words\"@example.org");
	rc = spool_commit(s, &n, &env, &e);
	if (rc == 0)
		memcpy(id, n.id, SPOOL_ID_LEN + 1);
	else
		printf("# commit: %s\n", e.text);
	close(n.fd);
	spool_envelope_free(&env);
}

static void
test_lock(const char *dir, struct spool *s, const char *id)
{
	struct spool_envelope env, env2;
	struct err e;
	int	 fd = -1, fd2 = -1, rc, rc2;

	err_clear(&e);
	(void)dir;
	rc = spool_lock(s, id, &fd, &env, &e);
	CHECK(rc == 1 && fd >= 0 && strcmp(env.id, id) == 0,
	    "lock a queued message");
	rc2 = spool_lock(s, id, &fd2, &env2, &e);
	CHECK(rc2 == 0 && fd2 == -1 && env2.rcpts == NULL,
	    "a second lock (other open file description) is refused");
	if (rc == 1) {
		env.rcpts[0].state = SPOOL_RCPT_SENT;
		(void)snprintf(env.rcpts[0].status,
		    sizeof(env.rcpts[0].status), "2.0.0");
		env.rcpts[0].reason = xstrdup("250 ok");
		env.attempts = 1;
		env.next_attempt = 1234;
		rc = spool_update(s, &env, &e);
		CHECK(rc == 0, "update while locked (%s)", e.text);
		close(fd);
		spool_envelope_free(&env);
	}
	CHECK(count_entries(dir, "tmp") == 0, "update leaves tmp/ empty");
	rc = spool_read(s, id, &env, &e);
	CHECK(rc == 1 && env.rcpts[0].state == SPOOL_RCPT_SENT &&
	    strcmp(env.rcpts[0].status, "2.0.0") == 0 &&
	    env.attempts == 1 && env.next_attempt == 1234 &&
	    env.rcpts[1].state == SPOOL_RCPT_PENDING,
	    "read shows the updated state");
	spool_envelope_free(&env);
	rc = spool_lock(s, id, &fd, &env, &e);
	CHECK(rc == 1, "lock again once the first fd is closed");
	if (rc == 1) {
		rc = spool_remove(s, id, &e);
		CHECK(rc == 0, "remove while locked");
		close(fd);
		spool_envelope_free(&env);
	}
	rc = spool_lock(s, id, &fd, &env, &e);
	CHECK(rc == 0 && fd == -1, "lock of a removed message: 0");
	rc = spool_read(s, id, &env, &e);
	CHECK(rc == 0, "read of a removed message: 0");
	rc = spool_lock(s, "../etc/passwd", &fd, &env, &e);
	CHECK(rc == -1 && e.kind == ERR_DATA, "lock refuses a non-ID");
}

static void
test_queue(const char *base)
{
	struct spool s;
	struct spool_new n;
	struct spool_envelope env;
	struct err e;
	struct stat st;
	char	 dir[256], path[4096], id[SPOOL_ID_LEN + 1];
	char	 id2[SPOOL_ID_LEN + 1], **ids = NULL, *text;
	size_t	 count = 0;
	int	 rc;

	err_clear(&e);
	(void)snprintf(dir, sizeof(dir), "%s/queue", base);
	rc = spool_open(&s, dir, true, &e);
	CHECK(rc == 0, "open with create (%s)", e.text);
	if (rc == -1)
		return;
	(void)snprintf(path, sizeof(path), "%s/env", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 02770,
	    "env/ is 02770 whatever the umask");

	commit_message(&s, "Subject: x\r\n\r\nbody\r\n", id);
	CHECK(id[0] != '\0', "commit a message");
	rc = spool_list(&s, &ids, &count, &e);
	CHECK(rc == 0 && count == 1 && strcmp(ids[0], id) == 0 &&
	    ids[1] == NULL, "list shows it");
	spool_ids_free(ids);
	(void)snprintf(path, sizeof(path), "%s/data/%s", dir, id);
	text = read_path(path);
	CHECK_STR(text, "Subject: x\r\n\r\nbody\r\n", "data/ID holds the body");
	free(text);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640,
	    "data/ID is 0640");
	CHECK(count_entries(dir, "tmp") == 0, "tmp/ empty after commit");
	rc = spool_read(&s, id, &env, &e);
	CHECK(rc == 1 && strcmp(env.id, id) == 0 && env.rcpt_count == 2 &&
	    strcmp(env.sender, "sender@example.org") == 0 &&
	    strcmp(env.rcpts[1].address, "\"two words\"@example.org") == 0 &&
	    env.size == 20, "read it back");
	spool_envelope_free(&env);

	rc = spool_create(&s, &n, &e);
	CHECK(rc == 0 && count_entries(dir, "tmp") == 1, "create a tmp file");
	if (rc == 0)
		spool_abort(&s, &n);
	CHECK(count_entries(dir, "tmp") == 0 && n.fd == -1,
	    "abort removes it");

	/* Junk beside real IDs is skipped, and the list is sorted. */
	commit_message(&s, "second\r\n", id2);
	(void)snprintf(path, sizeof(path), "%s/env/junk", dir);
	write_path(path, "x");
	(void)snprintf(path, sizeof(path), "%s/env/0123456789abcdef", dir);
	write_path(path, "x");
	(void)snprintf(path, sizeof(path), "%s/env/0123456789ABCDEF0", dir);
	write_path(path, "x");
	(void)snprintf(path, sizeof(path), "%s/env/.0123456789ABCDEF", dir);
	write_path(path, "x");
	rc = spool_list(&s, &ids, &count, &e);
	CHECK(rc == 0 && count == 2 && strcmp(ids[0], ids[1]) < 0 &&
	    (strcmp(ids[0], id) == 0 || strcmp(ids[1], id) == 0) &&
	    (strcmp(ids[0], id2) == 0 || strcmp(ids[1], id2) == 0),
	    "list skips junk names, sorted");
	spool_ids_free(ids);
	(void)snprintf(path, sizeof(path), "%s/env/%s", dir, id2);
	write_path(path, "sendrelay-envelope 1\nbogus\n");
	rc = spool_read(&s, id2, &env, &e);
	CHECK(rc == -1 && e.kind == ERR_DATA && strstr(e.text, id2) != NULL &&
	    strstr(e.text, "line 2") != NULL, "corrupt envelope: %s", e.text);

	test_lock(dir, &s, id);
	rc = spool_remove(&s, id2, &e);
	CHECK(rc == 0, "remove a message");
	rc = spool_list(&s, &ids, &count, &e);
	CHECK(rc == 0 && count == 0 && ids != NULL && ids[0] == NULL,
	    "list empty after removal");
	spool_ids_free(ids);
	CHECK(count_entries(dir, "data") == 0, "data/ empty after removal");
	spool_close(&s);
	rc = spool_open(&s, dir, false, &e);
	CHECK(rc == 0, "reopen an existing queue without create");
	spool_close(&s);
}

static void
test_cleanup(const char *base)
{
	struct spool s;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char	 dir[256], path[4096], id[SPOOL_ID_LEN + 1];
	const char *names[] = { "tmp/0123456789ABCDEF.data",
	    "tmp/0123456789ABCDEF.env.00000000000000AA", "tmp/other",
	    "data/00000000000000AA", "data/other" };
	struct err e;
	size_t	 i, removed;

	err_clear(&e);
	(void)snprintf(dir, sizeof(dir), "%s/clean", base);
	if (spool_open(&s, dir, true, &e) == -1) {
		CHECK(0, "open for cleanup: %s", e.text);
		return;
	}
	commit_message(&s, "old but queued\r\n", id);
	(void)snprintf(path, sizeof(path), "%s/data/%s", dir, id);
	(void)utimensat(AT_FDCWD, path, old, 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		write_path(path, "x");
		(void)utimensat(AT_FDCWD, path, old, 0);
	}
	/* Fresh leftovers: may belong to a writer right now. */
	(void)snprintf(path, sizeof(path), "%s/tmp/00000000000000BB.data",
	    dir);
	write_path(path, "x");
	(void)snprintf(path, sizeof(path), "%s/data/00000000000000BB", dir);
	write_path(path, "x");

	removed = spool_cleanup(&s, time(NULL), 3600);
	CHECK(removed == 3, "cleanup removed 3 stale files (got %zu)",
	    removed);
	CHECK(count_entries(dir, "tmp") == 2, "tmp/: fresh file and foreign "
	    "name kept");
	CHECK(count_entries(dir, "data") == 3, "data/: queued, fresh and "
	    "foreign kept");
	(void)snprintf(path, sizeof(path), "%s/data/%s", dir, id);
	CHECK(access(path, F_OK) == 0, "an old queued message is kept");
	(void)snprintf(path, sizeof(path), "%s/data/00000000000000AA", dir);
	CHECK(access(path, F_OK) == -1, "an old orphan data file is gone");
	spool_close(&s);
}

static void
test_commit_failure(const char *base)
{
	struct spool s;
	struct spool_new n;
	struct spool_envelope env;
	struct err e;
	char	 dir[256], path[4096];
	int	 rc;

	err_clear(&e);
	(void)snprintf(dir, sizeof(dir), "%s/broken", base);
	if (spool_open(&s, dir, true, &e) == -1) {
		CHECK(0, "open for commit failure: %s", e.text);
		return;
	}
	/* env_fd now refers to a removed directory: the rename fails. */
	(void)snprintf(path, sizeof(path), "%s/env", dir);
	(void)rmdir(path);
	write_path(path, "not a directory");
	rc = spool_create(&s, &n, &e);
	CHECK(rc == 0, "create in the broken queue");
	if (rc == -1) {
		spool_close(&s);
		return;
	}
	if (write(n.fd, "body\r\n", 6) != 6)
		printf("# short write of the test body\n");
	memset(&env, 0, sizeof(env));
	env.sender = xstrdup("");
	spool_envelope_add_rcpt(&env, "a@b");
	rc = spool_commit(&s, &n, &env, &e);
	CHECK(rc == -1 && e.kind == ERR_TEMP &&
	    strstr(e.text, "queue_directory ") != NULL &&
	    strstr(e.text, "No such file or directory") != NULL,
	    "commit fails with ERR_TEMP and the reason: %s", e.text);
	CHECK(count_entries(dir, "tmp") == 0, "no tmp/ file left");
	CHECK(count_entries(dir, "data") == 0, "no data/ file left");
	spool_abort(&s, &n);
	CHECK(n.fd == -1, "abort after a failed commit closes the fd");
	spool_envelope_free(&env);
	spool_close(&s);

	rc = spool_open(&s, dir, false, &e);
	CHECK(rc == -1 && e.kind == ERR_TEMP && strstr(e.text, "env") != NULL,
	    "open refuses a queue whose env is not a directory: %s", e.text);
}

static void
test_open_errors(const char *base)
{
	struct spool s;
	struct err e;
	char	 dir[256];
	int	 rc;

	err_clear(&e);
	(void)snprintf(dir, sizeof(dir), "%s/missing", base);
	rc = spool_open(&s, dir, false, &e);
	CHECK(rc == -1 && e.kind == ERR_TEMP && strstr(e.text, dir) != NULL &&
	    strstr(e.text, "No such file or directory") != NULL,
	    "open without create: %s", e.text);
	CHECK(s.dir == NULL && s.dir_fd == -1, "a failed open frees all");
}

int
main(void)
{
	char	 base[] = "/tmp/test_spool.XXXXXX";

	/* Modes must not depend on the caller's umask. */
	(void)umask(077);
	test_round_trip();
	test_sanitize();
	test_bad();
	test_oversize();
	test_misc();
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_queue(base);
	test_cleanup(base);
	test_commit_failure(base);
	test_open_errors(base);
	(void)nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_done();
}
