#!/bin/sh
# SPDX-License-Identifier: ISC
# Fault tests: the sendrelay binary against fakesmtp.py, a scripted SMTP
# server, for what no real server does: STARTTLS response injection,
# STARTTLS missing when required, a drop mid-DATA, 421 at every stage,
# mixed per-recipient replies, an endless multi-line reply, stalling and
# drip-feeding servers, garbage replies, AUTH secrets in -v output, and
# PIPELINING. Output is TAP. Each case asserts both the exit code and,
# from the server's transcript, what the client did or did NOT send.
#
# T_FAULTS_ONLY=PATTERN runs the matching case groups only (see the end);
# T_FAULTS_KEEP=1 keeps the temporary directory for a look afterwards.
# Needs: $SENDRELAY (default ../../build/sendrelay), python3, certtool or
# openssl, timeout(1). Every fake server stops by itself (its lifetime);
# the trap kills what is left and removes the temporary directory.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
FAKE="$HERE/fakesmtp.py"
SENDRELAY=${SENDRELAY:-$HERE/../../build/sendrelay}
PYTHON=${PYTHON:-python3}
PASSWORD=SuperSecret123
SASL_USER=alice

n=0
failed=0
fake_pid=
T=

cleanup()
{
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null
		wait "$fake_pid" 2>/dev/null
	fi
	if [ -n "${T_FAULTS_KEEP:-}" ]; then
		[ -n "$T" ] && echo "# kept $T"
	else
		[ -n "$T" ] && rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

skip_all()
{
	echo "1..0 # SKIP $*"
	exit 0
}

[ -x "$SENDRELAY" ] || skip_all "no sendrelay binary at $SENDRELAY"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "no $PYTHON"
command -v timeout >/dev/null 2>&1 || skip_all "no timeout(1)"
T=$(mktemp -d "${TMPDIR:-/tmp}/t_faults.XXXXXX") || exit 1

# ---- TAP ---------------------------------------------------------------

# Lines of a file as TAP diagnostics, so a failure explains itself.
diag_file()
{
	[ -s "$2" ] || return 0
	echo "#   --- $1"
	grep -v '^D: \|^\* recv' "$2" | tail -n 25 | sed 's/^/#   /'
}

# check DESCRIPTION COMMAND...: one test point from a command's status.
check()
{
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $case: $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $case: $desc"
		echo "#   exit code $rc, ${elapsed}s"
		diag_file "sendrelay stderr" "$D/stderr"
		diag_file "fake server transcript" "$D/transcript"
	fi
}

# ---- fixtures ----------------------------------------------------------

make_cert()
{
	if command -v certtool >/dev/null 2>&1; then
		cat >"$T/cert.tmpl" <<-EOF
		cn = 127.0.0.1
		ip_address = 127.0.0.1
		expiration_days = 2
		tls_www_server
		EOF
		certtool --generate-privkey --key-type=ecdsa \
		    --outfile "$T/key.pem" >/dev/null 2>&1 &&
		certtool --generate-self-signed --load-privkey "$T/key.pem" \
		    --template "$T/cert.tmpl" --outfile "$T/cert.pem" \
		    >/dev/null 2>&1
	else
		openssl req -x509 -newkey ec -pkeyopt \
		    ec_paramgen_curve:P-256 -nodes -keyout "$T/key.pem" \
		    -out "$T/cert.pem" -days 2 -subj /CN=127.0.0.1 \
		    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
	fi
}
make_cert || skip_all "cannot make a test certificate"

# A message long enough that "drop after 1000 body bytes" is mid-DATA.
{
	printf 'Subject: fault test\n\n'
	i=0
	while [ $i -lt 200 ]; do
		printf 'body line %03d of the fault test message\n' $i
		i=$((i + 1))
	done
} >"$T/message"

# new_case NAME: a fresh directory $D; the script goes to $D/script.
new_case()
{
	case=$1
	D=$T/$case
	mkdir -p "$D"
	rc=
	elapsed=
	deadline=20
}

# start_fake: starts fakesmtp on $D/script, sets $PORT.
start_fake()
{
	"$PYTHON" "$FAKE" --script "$D/script" --transcript "$D/transcript" \
	    --port-file "$D/port" >"$D/fake.out" 2>&1 &
	fake_pid=$!
	i=0
	while [ ! -s "$D/port" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	PORT=$(cat "$D/port" 2>/dev/null)
	[ -n "$PORT" ] || { sed "s/^/# /" "$D/fake.out"; echo "Bail out!" \
	    "fakesmtp did not start"; exit 1; }
}

# stop_fake: waits for the fake server (it ends with the connection, or
# at its lifetime), so its transcript is complete.
stop_fake()
{
	wait "$fake_pid" 2>/dev/null
	fake_pid=
}

# write_conf LEVEL [main.cf lines...]
write_conf()
{
	level=$1
	shift
	{
		echo "myhostname = client.example.org"
		echo "relayhost = [127.0.0.1]:$PORT"
		echo "smtp_tls_security_level = $level"
		echo "smtp_tls_CAfile = $T/cert.pem"
		echo "sendrelay_submit_deadline = $deadline"
		echo "maillog_file = $D/maillog"
		echo "sendrelay_queue_directory = $D/queue"
		for line in "$@"; do
			echo "$line"
		done
	} >"$D/main.cf"
}

# sasl_conf: credentials for the fake relay, mode 0600 as required.
sasl_conf()
{
	(umask 077 && echo "[127.0.0.1]:$PORT $SASL_USER:$PASSWORD" \
	    >"$D/sasl_passwd")
	echo "smtp_sasl_auth_enable = yes"
	echo "smtp_sasl_password_maps = hash:$D/sasl_passwd"
}

# run_sendrelay GUARD_SECONDS [sendrelay args...]: sets $rc, $elapsed.
run_sendrelay()
{
	guard=$1
	shift
	start=$(date +%s)
	timeout -k 5 "$guard" "$SENDRELAY" -C "$D/main.cf" -i \
	    -f sender@example.org "$@" <"$T/message" >"$D/stdout" \
	    2>"$D/stderr"
	rc=$?
	elapsed=$(($(date +%s) - start))
}

# ---- assertions --------------------------------------------------------

exit_is() { for want in "$@"; do [ "$rc" = "$want" ] && return 0; done; return 1; }
# The queue listing shows this recipient still waiting.
queued() { "$SENDRELAY" -C "$D/main.cf" -bp >"$D/mailq" 2>&1 && grep -q "^ *$1\$" "$D/mailq"; }
logged() { grep -Eq -- "$1" "$D/maillog" 2>/dev/null; }
stderr_has() { grep -Eiq -- "$1" "$D/stderr"; }
stderr_lacks() { ! grep -Fq -- "$1" "$D/stderr"; }
# Secrets must be in neither output stream.
output_lacks() { ! grep -Fq -- "$1" "$D/stderr" "$D/stdout"; }
sent() { grep -Eiq "^C: $1" "$D/transcript"; }
not_sent() { ! sent "$1"; }
happened() { grep -Fq -- "$1" "$D/transcript"; }
# No command at all after the first one matching $1.
nothing_sent_after()
{
	awk -v re="^C: $1" 'seen && /^C: / { found = 1 }
	    toupper($0) ~ toupper(re) { seen = 1 }
	    END { exit !(seen && !found) }' "$D/transcript"
}

# ---- cases -------------------------------------------------------------
# One function per group; T_FAULTS_ONLY (a shell pattern on the group
# name, e.g. 'pipelining' or 'st*') runs a subset.

# STARTTLS response injection: a reply that arrives with the 220 (in the
# same TCP write) was put there in cleartext, by the server or a man in
# the middle; a client that kept it would take it as the reply to its
# first command under TLS. The session must be abandoned before TLS.
t_starttls_injection()
{
	new_case starttls-injection
	cat >"$D/script" <<-EOF
	lifetime 20
	tls $T/cert.pem $T/key.pem
	auth $SASL_USER $PASSWORD
	at starttls inject 250 injected\r\n
	EOF
	start_fake
	write_conf encrypt "$(sasl_conf)"
	run_sendrelay 25 to@example.org
	stop_fake
	check "exit 0 (kept in the queue)" exit_is 0
	check "the message is queued" queued to@example.org
	check "STARTTLS was sent" sent STARTTLS
	check "nothing sent after STARTTLS" nothing_sent_after STARTTLS
	check "no AUTH" not_sent AUTH
	check "no MAIL" not_sent MAIL
	check "stderr mentions the injection" stderr_has inject
}

t_starttls_missing()
{
	new_case starttls-missing
	cat >"$D/script" <<-EOF
	lifetime 20
	cap PIPELINING
	auth $SASL_USER $PASSWORD
	EOF
	start_fake
	write_conf encrypt "$(sasl_conf)"
	run_sendrelay 25 to@example.org
	stop_fake
	check "exit 0 (kept in the queue)" exit_is 0
	check "the message is queued" queued to@example.org
	check "EHLO was sent" sent EHLO
	check "no AUTH" not_sent AUTH
	check "no MAIL" not_sent MAIL
	check "stderr names STARTTLS" stderr_has starttls
}

t_drop_mid_data()
{
	new_case drop-mid-data
	cat >"$D/script" <<-EOF
	lifetime 20
	at body drop 1000
	EOF
	start_fake
	write_conf none
	run_sendrelay 25 to@example.org
	stop_fake
	check "connection was dropped mid-DATA" happened "action drop after"
	check "exit 0 (kept in the queue)" exit_is 0
	check "the message is queued" queued to@example.org
}

t_421()
{
	for stage in greeting ehlo mail rcpt data eod; do
		new_case "421-at-$stage"
		cat >"$D/script" <<-EOF
		lifetime 20
		at $stage close 421 4.3.2 fake server shutting down
		EOF
		start_fake
		write_conf none
		run_sendrelay 25 to@example.org
		stop_fake
		check "the 421 was sent" happened "S: 421 4.3.2"
		check "exit 0 (kept in the queue)" exit_is 0
	check "the message is queued" queued to@example.org
		check "stderr has the server's words" stderr_has "shutting down"
	done
}

# Each recipient keeps its own fate: accepted, deferred, rejected.
t_mixed_rcpts()
{
	for pipelining in no yes; do
		new_case "mixed-rcpts-pipelining-$pipelining"
		{
			echo "lifetime 20"
			[ $pipelining = yes ] && echo "cap PIPELINING"
			echo "rcpt ok@example.org 250 2.1.5 Ok"
			echo "rcpt later@example.org 450 4.2.1 mailbox busy, try later"
			echo "rcpt gone@example.org 550 5.1.1 no such user here"
		} >"$D/script"
		start_fake
		write_conf none
		run_sendrelay 25 ok@example.org later@example.org \
		    gone@example.org
		stop_fake
		"$SENDRELAY" -C "$D/main.cf" -bp >"$D/mailq.all" 2>&1
		check "exit 0 (deferred recipient queued, rejected one bounced)" \
		    exit_is 0
		check "only the deferred recipient is queued" \
		    sh -c 'grep -q "^ *later@example.org\$" "$0" &&
		    ! grep -Eq "^ *(ok|gone)@example.org\$" "$0"' "$D/mailq.all"
		check "a bounce to the sender is queued or sent" \
		    logged "sender non-delivery notification"
		check "DATA was sent for the accepted recipient" sent DATA
		check "the body reached the server" happened "* end of data"
		check "stderr names the 550 recipient with the server's words" \
		    stderr_has "gone@example\.org.*550.*no such user here"
		check "stderr names the 450 recipient as deferred" \
		    stderr_has "later@example\.org.*defer"
		check "the accepted recipient is not reported as failed" \
		    stderr_lacks "ok@example.org"
		check "maillog: the accepted recipient has status=sent" \
		    logged "to=<ok@example\.org>.*status=sent"
	done
}

# Bounded reply size: the client gives up by itself, with little memory.
t_endless()
{
	new_case endless-multiline
	cat >"$D/script" <<-EOF
	lifetime 30
	at ehlo endless
	EOF
	start_fake
	write_conf none
	start=$(date +%s)
	"$PYTHON" -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%d\n" % ru.ru_maxrss)
sys.exit(rc)' "$D/maxrss" timeout -k 5 35 "$SENDRELAY" -C "$D/main.cf" -i \
	    -f sender@example.org to@example.org <"$T/message" \
	    >"$D/stdout" 2>"$D/stderr"
	rc=$?
	elapsed=$(($(date +%s) - start))
	stop_fake
	maxrss=$(cat "$D/maxrss" 2>/dev/null || echo 0)
	echo "# endless reply: exit $rc after ${elapsed}s," \
	    "max RSS ${maxrss} KiB"
	check "exit 0 (kept in the queue), not killed by the guard" exit_is 0
	check "the message is queued" queued to@example.org
	check "finished before the fake server's lifetime" \
	    [ "$elapsed" -lt 30 ]
	check "bounded memory (max RSS < 100 MiB)" [ "$maxrss" -lt 102400 ]
	check "no MAIL after the endless EHLO reply" not_sent MAIL
}

# The whole-attempt deadline holds against a silent server, at the
# greeting and after the body, and against a drip-feed of one byte a
# second that never completes a reply (per-read timeouts would not fire).
t_stall()
{
	for variant in "stall greeting" "stall eod" "drip greeting"; do
		kind=${variant%% *}
		stage=${variant#* }
		new_case "$kind-at-$stage"
		{
			echo "lifetime 20"
			if [ "$kind" = drip ]; then
				printf '%s\n' \
				    "at $stage drip 220-drip feed\\r\\n"
			else
				echo "at $stage stall"
			fi
		} >"$D/script"
		start_fake
		deadline=3
		write_conf none
		run_sendrelay 20 to@example.org
		stop_fake
		check "exit 0 (kept in the queue)" exit_is 0
	check "the message is queued" queued to@example.org
		check "stderr says timed out" stderr_has "timed out"
		check "gave up near the 3 s deadline (< 12 s)" \
		    [ "$elapsed" -lt 12 ]
	done
}

t_garbage()
{
	for variant in "greeting garbage\x00\xff\x01 here\r\n" \
	    "ehlo 250-fake.test\r\nnot an smtp reply\r\n" \
	    "mail 2x0 what\r\n"; do
		stage=${variant%% *}
		new_case "garbage-at-$stage"
		printf 'lifetime 20\nat %s raw %s\n' "$stage" \
		    "${variant#* }" >"$D/script"
		start_fake
		write_conf none
		run_sendrelay 25 to@example.org
		stop_fake
		check "exit 0 (kept in the queue)" exit_is 0
		check "the message is queued" queued to@example.org
		check "no DATA" not_sent DATA
	done
}

t_auth_redacted()
{
	# base64 fragments that any encoding of the password must contain,
	# one per alignment, so PLAIN and LOGIN payloads are both covered.
	password_b64=$("$PYTHON" -c 'import base64, sys
pw = sys.argv[1].encode()
for k in range(3):
    enc = base64.b64encode(b"\0" * k + pw).decode()
    a, b = 4 * ((k + 2) // 3), 4 * ((k + len(pw)) // 3)
    print(enc[a:b])' "$PASSWORD")
	for mech in PLAIN LOGIN; do
		new_case "auth-$mech-redacted"
		cat >"$D/script" <<-EOF
		lifetime 20
		tls $T/cert.pem $T/key.pem
		cap AUTH $mech
		auth $SASL_USER $PASSWORD
		EOF
		start_fake
		write_conf encrypt "$(sasl_conf)"
		run_sendrelay 25 -v to@example.org
		stop_fake
		check "exit 0" exit_is 0
		check "AUTH $mech succeeded over TLS" \
		    happened "* auth $mech user=$SASL_USER accepted"
		check "-v shows the transcript" stderr_has "AUTH"
		check "the password is not in -v output" \
		    output_lacks "$PASSWORD"
		for frag in $password_b64; do
			check "base64 form $frag is not in -v output" \
			    output_lacks "$frag"
		done
		check "[redacted] is shown" stderr_has '\[redacted\]'
	done
}

# RFC 2920: MAIL, RCPTs and DATA in one flight when PIPELINING is offered.
# The server holds its replies after MAIL (pipeline-wait), so a client
# that waits for the MAIL reply shows as a reply between MAIL and RCPT.
t_pipelining()
{
	for offered in yes no; do
		new_case "pipelining-offered-$offered"
		{
			echo "lifetime 20"
			[ $offered = yes ] && echo "cap PIPELINING"
			echo "pipeline-wait 2"
		} >"$D/script"
		start_fake
		write_conf none
		run_sendrelay 25 one@example.org two@example.org
		stop_fake
		check "exit 0" exit_is 0
		# From MAIL on, the kinds of lines in order ("C:MAIL S:250").
		awk '/^C: MAIL/ { on = 1 }
		    on && /^[CS]: / { print substr($0, 1, 7) }' \
		    "$D/transcript" | tr -d ' ' | tr '\n' ' ' >"$D/order"
		echo "# $case: order after MAIL: $(cat "$D/order")"
		if [ $offered = yes ]; then
			check "MAIL, RCPT, RCPT, DATA before any reply" grep -q \
			    '^C:MAIL C:RCPT C:RCPT C:DATA S:' "$D/order"
			# shellcheck disable=SC2016
			check "MAIL to DATA in one read (one flight)" awk '
			    /^\* recv #/ { chunk = $3 }
			    /^C: MAIL/ { mail = chunk }
			    /^C: DATA/ { data = chunk }
			    END { exit !(mail != "" && mail == data) }' \
			    "$D/transcript"
		else
			check "not offered: one command at a time" grep -q \
			    '^C:MAIL S:250 C:RCPT S:250 C:RCPT S:250 C:DATA' \
			    "$D/order"
		fi
	done
}

for group in starttls_injection starttls_missing drop_mid_data 421 \
    mixed_rcpts endless stall garbage auth_redacted pipelining; do
	# shellcheck disable=SC2254
	case $group in
	${T_FAULTS_ONLY:-*}) "t_$group" ;;
	esac
done

echo "1..$n"
[ $failed -eq 0 ]
