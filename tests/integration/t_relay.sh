#!/bin/bash
# SPDX-License-Identifier: ISC
#
# sendrelay against a real Postfix + Dovecot provider on loopback:
# STARTTLS+AUTH delivery (SCRAM challenges redacted in -v), implicit TLS,
# wrong password (kept in the queue, as Postfix's soft bounce does), relay
# refused without AUTH (bounced: the DSN reaches the sender's mailbox),
# and a certificate for another name (refused before AUTH, kept queued).
# Prints TAP. Needs root; see lib.sh.

. "$(dirname "$0")/lib.sh"

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
if ! provider_start 2>"${TMPDIR:-/tmp}/t_relay.start.$$"; then
	tap_fail "provider starts" "$(cat "${TMPDIR:-/tmp}/t_relay.start.$$")"
	rm -f "${TMPDIR:-/tmp}/t_relay.start.$$"
	tap_done
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/t_relay.start.$$"
tap_ok "provider starts (submission $PROV_SUBMISSION_PORT, smtps $PROV_SMTPS_PORT, plain $PROV_PLAIN_PORT, wrongname $PROV_WRONGNAME_PORT)"

W=$PROV_DIR/work
mkdir -p "$W"

# show_run NAME: diagnostics for the last run_sendrelay.
show_run()
{
	tap_diag "exit status $SR_RC; stderr:"
	tap_file_diag "$W/$1.err"
}

# delivery KIND NAME RCPT: one message over KIND, checked end to end.
delivery()
{
	local kind=$1 name=$2 rcpt=$3 f
	sendrelay_config "$kind"
	provider_clear_mail "$rcpt"
	printf 'From: relayuser@example.org\nTo: %s\nSubject: %s\n\nbody %s\n' \
		"$rcpt" "$name" "$name" >"$W/$name.in"
	run_sendrelay "$W/$name" -v -i "$rcpt" <"$W/$name.in"
	if [ "$SR_RC" -eq 0 ]; then
		tap_ok "$name: exit 0"
	else
		tap_fail "$name: exit 0"
		show_run "$name"
	fi
	if f=$(provider_wait_mail "$rcpt" 15) && grep -q "^Subject: $name\$" "$f"; then
		tap_ok "$name: message in $rcpt's mailbox"
	else
		tap_fail "$name: message in $rcpt's mailbox" "provider log:"
		tap_file_diag "$PROV_DIR/postfix.log"
	fi
	if grep -q "to=<$rcpt>.*status=sent" "$SR_LOG" 2>/dev/null; then
		tap_ok "$name: maillog_file has to=<$rcpt> ... status=sent"
		tap_diag "$(grep "to=<$rcpt>" "$SR_LOG" | tail -n 1)"
	else
		tap_fail "$name: maillog_file has to=<$rcpt> ... status=sent" \
			"maillog_file ($SR_LOG):"
		tap_file_diag "$SR_LOG"
	fi
}

# queued NAME ADDR: the queue listing shows ADDR waiting.
queued()
{
	"$SENDRELAY" -C "$SR_CONF" -bp >"$W/$1.bp" 2>&1
	if grep -q "^ *$2\$" "$W/$1.bp"; then
		tap_ok "$1: mailq shows $2 waiting"
	else
		tap_fail "$1: mailq shows $2 waiting" "mailq:"
		tap_file_diag "$W/$1.bp"
	fi
}

# 1. STARTTLS + AUTH on the submission port.
delivery submission starttls-auth alice@example.org
if grep -q '^<<< 334 \[redacted\]' "$W/starttls-auth.err" &&
    ! grep -Eq '^<<< 334 [A-Za-z0-9+/=]{8}' "$W/starttls-auth.err" &&
    ! grep -Eq '^>>> [A-Za-z0-9+/=]{12}' "$W/starttls-auth.err"; then
	tap_ok "starttls-auth: -v shows AUTH challenges and responses as [redacted]"
else
	tap_fail "starttls-auth: -v shows AUTH challenges and responses as [redacted]"
	grep -E '^(<<<|>>>) (334|AUTH|[A-Za-z0-9+/=]{12})' \
		"$W/starttls-auth.err" | sed 's/^/#   /'
fi
if grep -q 'submission/smtpd.*sasl_username=relayuser@example.org' \
    "$PROV_DIR/postfix.log"; then
	tap_ok "starttls-auth: provider saw SASL login of $PROV_USER"
else
	tap_fail "starttls-auth: provider saw SASL login of $PROV_USER"
	tap_file_diag "$PROV_DIR/postfix.log"
fi

# 2. Implicit TLS (wrapper mode) on the smtps port.
delivery smtps implicit-tls bob@example.org
if grep -q 'smtps/smtpd.*sasl_username=relayuser@example.org' \
    "$PROV_DIR/postfix.log"; then
	tap_ok "implicit-tls: provider saw SASL login over smtps"
else
	tap_fail "implicit-tls: provider saw SASL login over smtps"
	tap_file_diag "$PROV_DIR/postfix.log"
fi

# 3. Wrong password: kept in the queue (exit 0: the message is safe),
# and the caller is told whose authentication failed.
sendrelay_config badpass
provider_clear_mail carol@example.org
printf 'Subject: badpass\n\nbody\n' >"$W/badpass.in"
run_sendrelay "$W/badpass" -i carol@example.org <"$W/badpass.in"
if [ "$SR_RC" -eq 0 ]; then
	tap_ok "wrong password: exit 0 (queued)"
else
	tap_fail "wrong password: exit 0 (queued)"
	show_run badpass
fi
queued badpass carol@example.org
if grep -qi "authentication failed.*$PROV_USER" "$W/badpass.err"; then
	tap_ok "wrong password: stderr says authentication failed for user $PROV_USER"
else
	tap_fail "wrong password: stderr says authentication failed for user $PROV_USER"
	show_run badpass
fi
if grep -q 'not-the-password' "$W/badpass.err" "$W/badpass.out" "$SR_LOG" \
    2>/dev/null; then
	tap_fail "wrong password: the password is not printed"
else
	tap_ok "wrong password: the password is not printed"
fi
sleep 0.5
if [ "$(provider_count_mail carol@example.org)" -eq 0 ]; then
	tap_ok "wrong password: nothing delivered"
else
	tap_fail "wrong password: nothing delivered"
fi

# 4. No TLS, no AUTH, foreign recipient: the provider refuses to relay;
# the refusal is bounced to the sender (exit 0: the bounce is queued).
sendrelay_config plain
provider_clear_mail carol@example.org
printf 'Subject: relay\n\nbody\n' >"$W/relay.in"
run_sendrelay "$W/relay" -i -f carol@example.org someone@foreign.test \
	<"$W/relay.in"
if [ "$SR_RC" -eq 0 ]; then
	tap_ok "relay without AUTH: exit 0 (bounce queued)"
else
	tap_fail "relay without AUTH: exit 0 (bounce queued)"
	show_run relay
fi
if grep -q 'Relay access denied' "$W/relay.err"; then
	tap_ok "relay without AUTH: stderr has the server's \"Relay access denied\""
else
	tap_fail "relay without AUTH: stderr has the server's \"Relay access denied\""
	show_run relay
fi
if f=$(provider_wait_mail carol@example.org 15) && python3 - "$f" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
parts = m.get_payload()
assert parts[1].get_content_type() == "message/delivery-status"
fields = parts[1].get_payload()[1]
assert fields["Final-Recipient"] == "rfc822; someone@foreign.test", fields
assert fields["Action"] == "failed" and fields["Status"] == "5.7.1", fields
assert "Relay access denied" in fields["Diagnostic-Code"]
assert m["Return-Path"] == "<>", m["Return-Path"]
EOF
then
	tap_ok "relay without AUTH: a DSN from <> reached the sender's mailbox"
else
	tap_fail "relay without AUTH: a DSN from <> reached the sender's mailbox"
	[ -n "$f" ] && tap_file_diag "$f" 40
fi

# 5. Certificate for another name: refused before AUTH, nothing sent.
sendrelay_config wrongname
provider_clear_mail dave@example.org
dovecot_before=$(grep -c 'client in: AUTH' "$PROV_DIR/dovecot.log")
printf 'Subject: wrongname\n\nbody\n' >"$W/wrongname.in"
run_sendrelay "$W/wrongname" -i dave@example.org <"$W/wrongname.in"
if [ "$SR_RC" -eq 0 ]; then
	tap_ok "wrong certificate name: exit 0 (queued)"
else
	tap_fail "wrong certificate name: exit 0 (queued)"
	show_run wrongname
fi
queued wrongname dave@example.org
if grep -Eqi 'name|match' "$W/wrongname.err"; then
	tap_ok "wrong certificate name: stderr mentions the name mismatch"
	tap_diag "$(cat "$W/wrongname.err")"
else
	tap_fail "wrong certificate name: stderr mentions the name mismatch"
	show_run wrongname
fi
sleep 0.5
dovecot_after=$(grep -c 'client in: AUTH' "$PROV_DIR/dovecot.log")
if [ "$dovecot_before" -eq "$dovecot_after" ] &&
    ! grep -Eq 'wrongname/smtpd.*(sasl_|authentication failed|auth=)' \
    "$PROV_DIR/postfix.log"; then
	tap_ok "wrong certificate name: no AUTH reached the provider"
else
	tap_fail "wrong certificate name: no AUTH reached the provider" \
		"dovecot AUTH requests before $dovecot_before, after $dovecot_after"
	grep 'wrongname/' "$PROV_DIR/postfix.log" | sed 's/^/#   /'
fi
if [ "$(provider_count_mail dave@example.org)" -eq 0 ] &&
    ! grep -Eq 'wrongname/smtpd.*: [0-9A-F]+: client=' "$PROV_DIR/postfix.log"
then
	tap_ok "wrong certificate name: no message accepted"
else
	tap_fail "wrong certificate name: no message accepted"
fi

# 6. A secrets file others may write is refused before the message is
# accepted: exit 77, nothing queued.
sendrelay_config submission
chmod 0666 "$SR_DIR/sasl_passwd"
printf 'Subject: unsafe\n\nbody\n' >"$W/unsafe.in"
run_sendrelay "$W/unsafe" -i alice@example.org <"$W/unsafe.in"
if [ "$SR_RC" -eq 77 ] && grep -q 'writable by others' "$W/unsafe.err"; then
	tap_ok "secrets writable by others: exit 77, says why"
else
	tap_fail "secrets writable by others: exit 77, says why"
	show_run unsafe
fi
if [ "$("$SENDRELAY" -C "$SR_CONF" -bp)" = "Mail queue is empty" ]; then
	tap_ok "secrets writable by others: nothing queued"
else
	tap_fail "secrets writable by others: nothing queued"
fi

tap_done
