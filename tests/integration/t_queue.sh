#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The queue against the real Postfix + Dovecot provider (lib.sh):
# provider down -> exit 0 and queued, provider up -> `-q` delivers once;
# per-recipient 4xx/5xx (the provider's access map) -> only the deferred
# recipient is retried and the rejected one bounces as a DSN; expiry
# (faketime) bounces; a 200-message backlog goes over one connection;
# two concurrent runners never send a message twice; a full spool
# (tmpfs) exits 75 and leaves nothing behind; SIGKILL at random moments
# loses nothing. Prints TAP. Needs root; see lib.sh.

. "$(dirname "$0")/lib.sh"

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
errf=${TMPDIR:-/tmp}/t_queue.start.$$
if ! provider_start 2>"$errf"; then
	tap_fail "provider starts" "$(cat "$errf")"
	rm -f "$errf"
	tap_done
	exit 1
fi
rm -f "$errf"
tap_ok "provider starts"

W=$PROV_DIR/work
mkdir -p "$W"
SENDER=carol@example.org
TMPFS=

cleanup_tmpfs()
{
	if [ -n "$TMPFS" ]; then
		umount "$TMPFS" 2>/dev/null
		rmdir "$TMPFS" 2>/dev/null
	fi
}

# send NAME RCPT... : a message with Subject NAME; sets SR_RC.
send()
{
	local name=$1
	shift
	printf 'From: %s\nSubject: %s\n\nbody of %s\n' "$SENDER" "$name" \
		"$name" >"$W/$name.in"
	run_sendrelay "$W/$name" -i -f "$SENDER" "$@" <"$W/$name.in"
}

# delivered_count ADDR SUBJECT: copies of SUBJECT in ADDR's mailbox.
delivered_count()
{
	local m
	m=$(provider_mailbox "$1")
	grep -lx "Subject: $2" "$m"/new/* 2>/dev/null | wc -l
}

# wait_count ADDR SUBJECT N: wait up to 20 s for N copies; prints count.
wait_count()
{
	local i c
	for i in $(seq 200); do
		c=$(delivered_count "$1" "$2")
		[ "$c" -ge "$3" ] && break
		sleep 0.1
	done
	echo "$c"
}

mailq() { "$SENDRELAY" -C "$SR_CONF" -bp; }

check_eq()
{
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_fail "$1" "got '$2', want '$3'"
	fi
}

# ---- 1. provider down, then up
sendrelay_config submission
provider_pause
send down alice@example.org
check_eq "provider down: exit 0" "$SR_RC" 0
grep -q 'queued for 1 recipient' "$W/down.err" &&
	tap_ok "provider down: the caller is told it was queued" ||
	tap_fail "provider down: the caller is told it was queued" \
		"$(cat "$W/down.err")"
mailq >"$W/down.bp"
if grep -q '^ *alice@example.org$' "$W/down.bp" &&
    grep -q '^(.*refused\|^(.*connect' "$W/down.bp"; then
	tap_ok "provider down: mailq shows the recipient and the reason"
else
	tap_fail "provider down: mailq shows the recipient and the reason"
	tap_file_diag "$W/down.bp"
fi
provider_resume
"$SENDRELAY" -C "$SR_CONF" -q >"$W/q-early.out" 2>&1
check_eq "provider up, retry time not yet come: -q leaves it" \
	"$(delivered_count alice@example.org down)" 0
"$SENDRELAY" -C "$SR_CONF" -qf >"$W/qf.out" 2>&1
check_eq "-qf: exit 0" "$?" 0
check_eq "-qf: delivered once" "$(wait_count alice@example.org down 1)" 1
check_eq "-qf: the queue is empty" "$(mailq)" "Mail queue is empty"
"$SENDRELAY" -C "$SR_CONF" -qf >/dev/null 2>&1
sleep 1
check_eq "a second -qf sends nothing again" \
	"$(delivered_count alice@example.org down)" 1

# ---- 2. per-recipient results: 250, 450, 550
provider_rcpt_access "bob@example.org 450 4.2.1 mailbox busy, try later" \
	"gone@example.org 550 5.1.1 no such user here"
provider_clear_mail "$SENDER"
send mixed alice@example.org bob@example.org gone@example.org
check_eq "mixed: exit 0" "$SR_RC" 0
check_eq "mixed: alice got it" "$(wait_count alice@example.org mixed 1)" 1
mailq >"$W/mixed.bp"
if grep -q '^ *bob@example.org$' "$W/mixed.bp" &&
    ! grep -Eq '^ *(alice|gone)@example.org$' "$W/mixed.bp"; then
	tap_ok "mixed: only the 450 recipient is queued"
else
	tap_fail "mixed: only the 450 recipient is queued"
	tap_file_diag "$W/mixed.bp"
fi
if f=$(provider_wait_mail "$SENDER" 15) && python3 - "$f" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
assert m.get_content_type() == "multipart/report"
fields = m.get_payload()[1].get_payload()[1]
assert fields["Final-Recipient"] == "rfc822; gone@example.org", fields
assert fields["Action"] == "failed" and fields["Status"] == "5.1.1", fields
assert m.get_payload()[2].get_content_type() == "text/rfc822-headers"
EOF
then
	tap_ok "mixed: the 550 bounced, the DSN parses (Final-Recipient, Status 5.1.1)"
else
	tap_fail "mixed: the 550 bounced, the DSN parses"
	[ -n "$f" ] && tap_file_diag "$f" 40
fi
provider_rcpt_access
"$SENDRELAY" -C "$SR_CONF" -qf >/dev/null 2>&1
check_eq "mixed: the retry delivers to bob" \
	"$(wait_count bob@example.org mixed 1)" 1
sleep 1
check_eq "mixed: the retry did not send to alice again" \
	"$(delivered_count alice@example.org mixed)" 1

# ---- 2b. a local sender's bounce goes to sendrelay_local_bounce_recipient
sendrelay_config submission \
	"sendrelay_local_bounce_recipient = admin@example.org"
provider_rcpt_access "gone@example.org 550 5.1.1 no such user here"
provider_clear_mail admin@example.org
printf 'Subject: local sender\n\nx\n' >"$W/local.in"
run_sendrelay "$W/local" -i -f root@client.test gone@example.org \
	<"$W/local.in"
if f=$(provider_wait_mail admin@example.org 15) &&
    grep -q '^Final-Recipient: rfc822; gone@example.org' "$f"; then
	tap_ok "local sender root@\$myhostname: the bounce went to admin@example.org"
else
	tap_fail "local sender root@\$myhostname: the bounce went to admin@example.org" \
		"exit $SR_RC: $(cat "$W/local.err")"
fi
provider_rcpt_access

# ---- 3. expiry: 6 days later, a runner bounces what is still waiting
provider_clear_mail "$SENDER"
provider_pause
send expiring dave@example.org
provider_resume
# libfaketime is preloaded ahead of an ASan runtime (tests/suite
# --sanitize); ASan accepts that when told to.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	faketime -f '+6d' "$SENDRELAY" -C "$SR_CONF" -q >"$W/expire.out" 2>&1
# Six days on, the provider's test certificate has expired too, so the
# bounce itself waits for a runner in the present.
"$SENDRELAY" -C "$SR_CONF" -qf >>"$W/expire.out" 2>&1
if grep -q 'status=expired' "$SR_LOG"; then
	tap_ok "expiry: logged status=expired"
else
	tap_fail "expiry: logged status=expired"
	tap_file_diag "$SR_LOG"
fi
if f=$(provider_wait_mail "$SENDER" 15) &&
    grep -q '^Final-Recipient: rfc822; dave@example.org' "$f" &&
    grep -q '^Action: failed' "$f"; then
	tap_ok "expiry: the sender got a failure DSN for dave"
else
	tap_fail "expiry: the sender got a failure DSN for dave"
fi
check_eq "expiry: the queue is empty" "$(mailq)" "Mail queue is empty"

# ---- 3b. delay notice: once, after delay_warning_time
sendrelay_config submission "delay_warning_time = 1s"
provider_clear_mail "$SENDER"
provider_pause
send delayed erin@example.org
sleep 2
"$SENDRELAY" -C "$SR_CONF" -qf >"$W/delay1.out" 2>&1
"$SENDRELAY" -C "$SR_CONF" -qf >"$W/delay2.out" 2>&1
check_eq "delay notice: logged once" \
	"$(grep -c 'sender delay notification' "$SR_LOG")" 1
provider_rcpt_access "erin@example.org 450 4.2.1 still busy"
provider_resume
"$SENDRELAY" -C "$SR_CONF" -qf >"$W/delay3.out" 2>&1
if f=$(provider_wait_mail "$SENDER" 15) &&
    grep -q '^Action: delayed' "$f" &&
    grep -q '^Final-Recipient: rfc822; erin@example.org' "$f"; then
	tap_ok "delay notice: the sender got Action: delayed for erin"
else
	tap_fail "delay notice: the sender got Action: delayed for erin"
fi
check_eq "delay notice: only one reached the sender" \
	"$(provider_count_mail "$SENDER")" 1
if mailq | grep -q '^ *erin@example.org$'; then
	tap_ok "delay notice: the message itself is still queued"
else
	tap_fail "delay notice: the message itself is still queued"
fi
provider_rcpt_access
"$SENDRELAY" -C "$SR_CONF" -qf >/dev/null 2>&1
check_eq "delay notice: delivered once the provider takes it" \
	"$(wait_count erin@example.org delayed 1)" 1

# ---- 4. a backlog of 200 over one connection
provider_pause
for i in $(seq 200); do
	printf 'Subject: backlog %d\n\nx\n' "$i" |
		"$SENDRELAY" -C "$SR_CONF" -odq -i alice@example.org ||
		echo "backlog $i: exit $?" >>"$W/backlog.err"
done
check_eq "backlog: 200 queued with -odq" \
	"$(mailq | tail -n 1 | sed 's/.* in //')" "200 Requests."
provider_resume
before=$(grep -c 'submission/smtpd.*: connect from' "$PROV_DIR/postfix.log")
"$SENDRELAY" -C "$SR_CONF" -qf >"$W/backlog.out" 2>&1
after=$(grep -c 'submission/smtpd.*: connect from' "$PROV_DIR/postfix.log")
check_eq "backlog: one connection for 200 messages" "$((after - before))" 1
check_eq "backlog: the queue is empty" "$(mailq)" "Mail queue is empty"
n=0
for i in $(seq 200); do
	n=$((n + $(delivered_count alice@example.org "backlog $i")))
done
check_eq "backlog: 200 delivered" "$n" 200

# ---- 5. two runners at once never send a message twice
provider_clear_mail bob@example.org
provider_pause
for i in $(seq 30); do
	printf 'Subject: race %d\n\nx\n' "$i" |
		"$SENDRELAY" -C "$SR_CONF" -odq -i bob@example.org
done
provider_resume
"$SENDRELAY" -C "$SR_CONF" -qf >/dev/null 2>&1 &
r1=$!
"$SENDRELAY" -C "$SR_CONF" -qf >/dev/null 2>&1 &
r2=$!
wait $r1 $r2
sleep 2
dups=0
missing=0
for i in $(seq 30); do
	c=$(delivered_count bob@example.org "race $i")
	[ "$c" -gt 1 ] && dups=$((dups + 1))
	[ "$c" -eq 0 ] && missing=$((missing + 1))
done
check_eq "two runners: no message delivered twice" "$dups" 0
check_eq "two runners: every message delivered" "$missing" 0

# ---- 6. a full spool: exit 75, nothing half-written
TMPFS=$(mktemp -d /tmp/sendrelay-tmpfs.XXXXXX)
trap 'cleanup_tmpfs; _lib_cleanup' EXIT
if mount -t tmpfs -o size=256k tmpfs "$TMPFS"; then
	sendrelay_config submission "sendrelay_queue_directory = $TMPFS/q"
	head -c 600000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$W/big.body"
	{ printf 'Subject: too big for the disk\n\n'; cat "$W/big.body"; } \
		>"$W/big.in"
	run_sendrelay "$W/big" -i alice@example.org <"$W/big.in"
	check_eq "full spool: exit 75" "$SR_RC" 75
	if grep -qi 'no space left' "$W/big.err"; then
		tap_ok "full spool: stderr names the reason"
	else
		tap_fail "full spool: stderr names the reason" "$(cat "$W/big.err")"
	fi
	left=$(find "$TMPFS/q" -type f | wc -l)
	check_eq "full spool: no file left in the queue" "$left" 0
	umount "$TMPFS"
else
	tap_fail "full spool: mount a small tmpfs"
fi

# ---- 7. SIGKILL at random moments loses nothing
sendrelay_config submission
provider_clear_mail carol@example.org
provider_pause
ok_sent=
for i in $(seq 40); do
	printf 'Subject: crash %d\n\nbody\n' "$i" >"$W/crash.in"
	"$SENDRELAY" -C "$SR_CONF" -i carol@example.org <"$W/crash.in" \
		>/dev/null 2>&1 &
	pid=$!
	# 0 to 30 ms: anywhere in intake, commit or the delivery attempt.
	sleep "0.0$((RANDOM % 31))"
	kill -KILL "$pid" 2>/dev/null
	if wait "$pid" 2>/dev/null; then
		ok_sent="$ok_sent $i"
	fi
	[ $((i % 10)) -eq 0 ] && { [ $((i % 20)) -eq 0 ] && provider_resume ||
		provider_pause; }
done
provider_resume
for i in 1 2 3; do
	"$SENDRELAY" -C "$SR_CONF" -qf >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 50))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
"$SENDRELAY" -C "$SR_CONF" -qf >"$W/crash-final.out" 2>&1
sleep 2
lost=0
dups=0
for i in $ok_sent; do
	[ "$(delivered_count carol@example.org "crash $i")" -eq 0 ] &&
		lost=$((lost + 1))
done
for i in $(seq 40); do
	[ "$(delivered_count carol@example.org "crash $i")" -gt 1 ] &&
		dups=$((dups + 1))
done
tap_diag "crash: $(echo "$ok_sent" | wc -w) of 40 submissions exited 0 before the kill; duplicates (kill between the server's reply and the queue update): $dups"
check_eq "crash: every submission that exited 0 was delivered" "$lost" 0
check_eq "crash: nothing left in the queue after a final run" \
	"$(mailq)" "Mail queue is empty"

tap_done
