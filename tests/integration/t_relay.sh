#!/bin/bash
# SPDX-License-Identifier: ISC
#
# sendrelay against a real Postfix + Dovecot provider on loopback:
# STARTTLS+AUTH delivery, implicit TLS, wrong password, relay refused
# without AUTH, and a certificate for another name (refused before AUTH).
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
	run_sendrelay "$W/$name" -i "$rcpt" <"$W/$name.in"
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

# 1. STARTTLS + AUTH on the submission port.
delivery submission starttls-auth alice@example.org
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

# 3. Wrong password: exit 77, says whose authentication failed.
sendrelay_config badpass
provider_clear_mail carol@example.org
printf 'Subject: badpass\n\nbody\n' >"$W/badpass.in"
run_sendrelay "$W/badpass" -i carol@example.org <"$W/badpass.in"
if [ "$SR_RC" -eq 77 ]; then
	tap_ok "wrong password: exit 77"
else
	tap_fail "wrong password: exit 77"
	show_run badpass
fi
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

# 4. No TLS, no AUTH, foreign recipient: the provider refuses to relay.
sendrelay_config plain
printf 'Subject: relay\n\nbody\n' >"$W/relay.in"
run_sendrelay "$W/relay" -i someone@foreign.test <"$W/relay.in"
if [ "$SR_RC" -eq 69 ] || [ "$SR_RC" -eq 77 ]; then
	tap_ok "relay without AUTH: exit 69 or 77 (got $SR_RC)"
else
	tap_fail "relay without AUTH: exit 69 or 77"
	show_run relay
fi
if grep -q 'Relay access denied' "$W/relay.err"; then
	tap_ok "relay without AUTH: stderr has the server's \"Relay access denied\""
else
	tap_fail "relay without AUTH: stderr has the server's \"Relay access denied\""
	show_run relay
fi

# 5. Certificate for another name: refused before AUTH, nothing sent.
sendrelay_config wrongname
provider_clear_mail dave@example.org
dovecot_before=$(grep -c 'client in: AUTH' "$PROV_DIR/dovecot.log")
printf 'Subject: wrongname\n\nbody\n' >"$W/wrongname.in"
run_sendrelay "$W/wrongname" -i dave@example.org <"$W/wrongname.in"
if [ "$SR_RC" -ne 0 ]; then
	tap_ok "wrong certificate name: non-zero exit (got $SR_RC)"
else
	tap_fail "wrong certificate name: non-zero exit"
fi
if [ "$SR_RC" -eq 75 ]; then
	tap_ok "wrong certificate name: exit 75"
else
	tap_fail "wrong certificate name: exit 75"
	show_run wrongname
fi
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

tap_done
