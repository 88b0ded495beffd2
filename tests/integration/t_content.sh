#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The delivered message, byte for byte: what lands in the provider's
# Maildir must equal the input once the expected changes are undone
# (the provider's Return-Path/Delivered-To/Received on top, LF line
# endings in Maildir, a final newline, and the Date/Message-ID/From we
# add when missing). Covers 8-bit bodies, dot lines, bare LF, CRLF, mixed
# endings, no final newline, "." ending the input without -i, -t with
# Bcc, and a 20 MB message. Prints TAP. Needs root; see lib.sh.

. "$(dirname "$0")/lib.sh"

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
errf=${TMPDIR:-/tmp}/t_content.start.$$
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
sendrelay_config submission "message_size_limit = 52428800" \
	"sendrelay_submit_deadline = 300s"

HDR='From: Relay User <relayuser@example.org>
To: alice@example.org
Date: Sun, 22 Nov 2026 07:00:00 +0000
Message-ID: <content-test@client.test>'

# compare NAME EXPECTED-INPUT DELIVERED [HEADER-WE-ADD...]: the delivered
# copy, normalised, equals EXPECTED-INPUT, normalised.
compare()
{
	local name=$1 in=$2 got=$3
	shift 3
	mail_expected "$in" >"$W/$name.want"
	if ! mail_normalise "$got" "$@" >"$W/$name.got" 2>"$W/$name.nerr"; then
		tap_fail "$name: delivered message matches the input" \
			"$(cat "$W/$name.nerr")"
		return
	fi
	if cmp -s "$W/$name.want" "$W/$name.got"; then
		tap_ok "$name: delivered message matches the input"
	else
		tap_fail "$name: delivered message matches the input" \
			"$(cmp "$W/$name.want" "$W/$name.got" 2>&1)"
		diff -u --text "$W/$name.want" "$W/$name.got" | head -n 40 |
			cat -A | sed 's/^/#   /'
	fi
}

# send NAME RCPT INPUT [ARGS...]: deliver INPUT (-i and the sender set
# unless ARGS say otherwise), check exit 0; the delivered path goes to
# $W/NAME.path.
send()
{
	local name=$1 rcpt=$2 in=$3 f
	shift 3
	provider_clear_mail "$rcpt"
	run_sendrelay "$W/$name" -f relayuser@example.org "$@" <"$in"
	if [ "$SR_RC" -ne 0 ]; then
		tap_fail "$name: exit 0" "exit status $SR_RC; stderr:"
		tap_file_diag "$W/$name.err"
		return 1
	fi
	tap_ok "$name: exit 0"
	if ! f=$(provider_wait_mail "$rcpt" 60); then
		tap_fail "$name: delivered to $rcpt" "provider log:"
		tap_file_diag "$PROV_DIR/postfix.log"
		return 1
	fi
	printf '%s\n' "$f" >"$W/$name.path"
	return 0
}

# case_simple NAME: send $W/NAME.in to alice with -i and compare.
case_simple()
{
	send "$1" alice@example.org "$W/$1.in" -i alice@example.org &&
		compare "$1" "$W/$1.in" "$(cat "$W/$1.path")"
}

# 8-bit body: UTF-8 and raw Latin-1 bytes, unchanged.
{
	printf '%s\nSubject: 8bit\nMIME-Version: 1.0\n' "$HDR"
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'UTF-8: gr\303\274\303\237e, \342\202\254, \360\237\223\247\n'
	printf 'Latin-1: gr\374\337e \351t\351 \377\n'
	printf '\200\201\376 high bytes at line start\n'
} >"$W/8bit.in"
case_simple 8bit

# Lines starting with dots (RFC 5321 4.5.2 transparency), with -i.
{
	printf '%s\nSubject: dots\n\n' "$HDR"
	printf '.\n..\n.foo\n...\n. \nend\n.\n'
} >"$W/dots.in"
case_simple dots

# Bare LF input (what most Unix programs write).
printf '%s\nSubject: bare LF\n\nline 1\nline 2\n\nline 4\n' "$HDR" \
	>"$W/lf.in"
case_simple lf

# CRLF input throughout.
printf '%s\nSubject: CRLF\n\nline 1\nline 2\n\n.\nline 5\n' "$HDR" |
	sed 's/$/\r/' >"$W/crlf.in"
case_simple crlf

# Mixed: CRLF headers and LF body (PHP's mail()), and a lone CRLF line
# inside the body.
{
	printf '%s\nSubject: mixed\n\n' "$HDR" | sed 's/$/\r/'
	printf 'lf body line\r\ncrlf line\nlf again\n'
} >"$W/mixed.in"
case_simple mixed

# No final newline.
printf '%s\nSubject: no final newline\n\nfirst\nlast line without newline' \
	"$HDR" >"$W/nonl.in"
case_simple nonl

# Without -i, a line holding only "." ends the input (sendmail rules).
printf '%s\nSubject: dot ends\n\nkept\n.\nnot sent\n' "$HDR" >"$W/dotend.in"
printf '%s\nSubject: dot ends\n\nkept\n' "$HDR" >"$W/dotend.want.in"
send dotend alice@example.org "$W/dotend.in" alice@example.org &&
	compare dotend "$W/dotend.want.in" "$(cat "$W/dotend.path")"

# Missing Date, Message-ID and From: each added once, the rest intact.
printf 'To: alice@example.org\nSubject: bare\n\nno headers of mine\n' \
	>"$W/added.in"
if send added alice@example.org "$W/added.in" -i alice@example.org; then
	got=$(cat "$W/added.path")
	compare added "$W/added.in" "$got" Date Message-ID From
	for h in Date Message-ID From; do
		n=$(sed '/^$/q' "$got" | grep -ci "^$h:")
		if [ "$n" -eq 1 ]; then
			tap_ok "added: exactly one $h header"
		else
			tap_fail "added: exactly one $h header" "found $n"
		fi
	done
	if sed '/^$/q' "$got" | grep -qi '^Message-ID: *<[^>]*@client\.test>'
	then
		tap_ok "added: Message-ID is @myhostname"
	else
		tap_fail "added: Message-ID is @myhostname" \
			"$(grep -i '^Message-ID' "$got")"
	fi
	if sed '/^$/q' "$got" | grep -qi '^From:.*relayuser@example\.org'; then
		tap_ok "added: From is the -f sender"
	else
		tap_fail "added: From is the -f sender" "$(grep -i '^From' "$got")"
	fi
	if grep -q '^Return-Path: <relayuser@example.org>$' "$got"; then
		tap_ok "added: envelope sender is the -f address"
	else
		tap_fail "added: envelope sender is the -f address" \
			"$(grep '^Return-Path' "$got")"
	fi
fi

# -t with Bcc: every recipient gets it, no copy shows the Bcc header.
{
	printf 'From: relayuser@example.org\nTo: alice@example.org\n'
	printf 'Cc: Bob <bob@example.org>\n'
	printf 'Bcc: carol@example.org,\n\tdave@example.org\n'
	printf 'Date: Sun, 22 Nov 2026 07:00:00 +0000\n'
	printf 'Message-ID: <bcc-test@client.test>\nSubject: bcc\n\nbody\n'
} >"$W/bcc.in"
grep -v -e '^Bcc:' -e '^	dave@' "$W/bcc.in" >"$W/bcc.want.in"
provider_clear_mail alice@example.org bob@example.org carol@example.org \
	dave@example.org
run_sendrelay "$W/bcc" -f relayuser@example.org -t -i <"$W/bcc.in"
if [ "$SR_RC" -eq 0 ]; then
	tap_ok "bcc: -t exit 0"
else
	tap_fail "bcc: -t exit 0" "exit status $SR_RC; stderr:"
	tap_file_diag "$W/bcc.err"
fi
for r in alice bob carol dave; do
	if f=$(provider_wait_mail "$r@example.org" 15); then
		tap_ok "bcc: $r@example.org received it"
		if grep -qi '^Bcc:' "$f"; then
			tap_fail "bcc: no Bcc header in $r's copy" "$(grep -i -A1 '^Bcc' "$f")"
		else
			tap_ok "bcc: no Bcc header in $r's copy"
		fi
		compare "bcc-$r" "$W/bcc.want.in" "$f"
	else
		tap_fail "bcc: $r@example.org received it"
	fi
done

# 20 MB message: arrives intact; peak RSS reported, never asserted.
python3 - "$W/big.in" <<'EOF'
import random, string, sys
random.seed(20)
alphabet = (string.ascii_letters + string.digits + " .,;:-_!?").encode()
with open(sys.argv[1], "wb") as f:
    f.write(b"From: relayuser@example.org\nTo: alice@example.org\n"
            b"Date: Sun, 22 Nov 2026 07:00:00 +0000\n"
            b"Message-ID: <big-test@client.test>\nSubject: 20 MB\n\n")
    size, line = 0, 0
    while size < 20 * 1024 * 1024:
        n = random.randint(0, 200)
        s = bytes(random.choices(alphabet, k=n))
        if line % 97 == 0:
            s = b"." + s           # dot-stuffing all the way through
        f.write(s + b"\n")
        size += n + 2
        line += 1
EOF
provider_clear_mail alice@example.org
timef=$W/big.time
start=$(date +%s.%N)
if [ -x /usr/bin/time ]; then
	SR_RC=0
	/usr/bin/time -v -o "$timef" "$SENDRELAY" -C "$SR_CONF" \
		-f relayuser@example.org -i alice@example.org \
		<"$W/big.in" >"$W/big.out" 2>"$W/big.err" || SR_RC=$?
else
	run_sendrelay "$W/big" -f relayuser@example.org -i alice@example.org \
		<"$W/big.in"
fi
end=$(date +%s.%N)
if [ "$SR_RC" -eq 0 ]; then
	tap_ok "20 MB: exit 0"
else
	tap_fail "20 MB: exit 0" "exit status $SR_RC; stderr:"
	tap_file_diag "$W/big.err"
fi
tap_diag "20 MB: $(stat -c %s "$W/big.in") bytes in $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
[ -f "$timef" ] && tap_diag "20 MB: sendrelay $(grep 'Maximum resident' "$timef" | sed 's/^[[:space:]]*//')"
if f=$(provider_wait_mail alice@example.org 120); then
	compare big "$W/big.in" "$f"
else
	tap_fail "20 MB: delivered to alice@example.org"
	tap_file_diag "$PROV_DIR/postfix.log"
fi
rm -f "$W"/big.*

tap_done
