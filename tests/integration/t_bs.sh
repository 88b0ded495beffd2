#!/bin/bash
# SPDX-License-Identifier: ISC
#
# sendmail -bs, the SMTP dialogue PHP mailers speak over a pipe: the real
# Symfony Mailer (Debian's php-symfony-mailer, SendmailTransport with
# "-bs") sends through sendrelay to the real provider (lib.sh), Bcc
# recipients included and the Bcc header gone; a raw pipelined session
# with two messages, dot-stuffing and RSET; a rejected recipient gives a
# 250 (bounce queued) and a provider down a 250 (queued). Prints TAP.

. "$(dirname "$0")/lib.sh"

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
errf=${TMPDIR:-/tmp}/t_bs.start.$$
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
sendrelay_config submission

# ---- Symfony Mailer through -bs
provider_clear_mail alice@example.org bob@example.org
cat >"$W/send.php" <<'EOF'
<?php
require_once '/usr/share/php/Symfony/Component/Mailer/autoload.php';
require_once '/usr/share/php/Symfony/Component/Mime/autoload.php';
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;

$mailer = new Mailer(new SendmailTransport($argv[1] . ' -bs'));
$mailer->send((new Email())
    ->from('Relay User <relayuser@example.org>')
    ->to('alice@example.org')
    ->bcc('bob@example.org')
    ->subject('from symfony')
    ->text("Hello from Symfony Mailer.\n.leading dot\n"));
echo "sent\n";
EOF
if php "$W/send.php" "$SENDRELAY -C $SR_CONF" >"$W/php.out" 2>&1 &&
    grep -q '^sent$' "$W/php.out"; then
	tap_ok "symfony: send() returned"
else
	tap_fail "symfony: send() returned" "$(cat "$W/php.out")"
fi
if f=$(provider_wait_mail alice@example.org 15) &&
    grep -q '^Subject: from symfony' "$f"; then
	tap_ok "symfony: alice got it"
	if grep -qi '^Bcc:' "$f"; then
		tap_fail "symfony: no Bcc header arrived"
	else
		tap_ok "symfony: no Bcc header arrived"
	fi
	if grep -q '^\.leading dot' "$f"; then
		tap_ok "symfony: a line starting with a dot arrives intact"
	else
		tap_fail "symfony: a line starting with a dot arrives intact"
		tap_file_diag "$f"
	fi
	if grep -q '^Date: ' "$f" && grep -q '^Message-ID: ' "$f"; then
		tap_ok "symfony: Date and Message-ID present"
	else
		tap_fail "symfony: Date and Message-ID present"
	fi
else
	tap_fail "symfony: alice got it" "$(cat "$W/php.out")"
	tap_file_diag "$SR_LOG"
fi
if provider_wait_mail bob@example.org 15 >/dev/null; then
	tap_ok "symfony: the Bcc recipient got it"
else
	tap_fail "symfony: the Bcc recipient got it"
fi

# ---- a raw pipelined session: two messages, RSET, errors in between
provider_clear_mail carol@example.org dave@example.org
printf '%s\r\n' 'EHLO client' 'MAIL FROM:<relayuser@example.org>' \
	'RCPT TO:<carol@example.org>' 'DATA' 'Subject: raw one' '' \
	'..dot-stuffed' '.' 'VRFY carol' 'RSET' \
	'MAIL FROM:<relayuser@example.org>' 'RCPT TO:<dave@example.org>' \
	'DATA' 'Subject: raw two' '' 'second' '.' 'QUIT' >"$W/raw.in"
"$SENDRELAY" -C "$SR_CONF" -bs <"$W/raw.in" >"$W/raw.out" 2>"$W/raw.err"
rc=$?
tr -d '\r' <"$W/raw.out" | sed 's/^\(250 2.0.0 Ok: queued as\) .*/\1 ID/' |
	grep -v '^250-' >"$W/raw.got"
cat >"$W/raw.want" <<'EOF'
220 client.test ESMTP sendrelay
250 HELP
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
502 5.5.1 VRFY and EXPN are not supported
250 2.0.0 Ok
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
221 2.0.0 Bye
EOF
if [ "$rc" -eq 0 ] && cmp -s "$W/raw.want" "$W/raw.got"; then
	tap_ok "raw session: every reply in order, exit 0"
else
	tap_fail "raw session: every reply in order, exit 0" "exit $rc"
	diff "$W/raw.want" "$W/raw.got" | sed 's/^/#   /'
fi
if f=$(provider_wait_mail carol@example.org 15) &&
    grep -q '^\.dot-stuffed$' "$f" &&
    provider_wait_mail dave@example.org 15 >/dev/null; then
	tap_ok "raw session: both messages delivered, the dot unstuffed once"
else
	tap_fail "raw session: both messages delivered, the dot unstuffed once"
fi

# ---- the provider down: 250 only because the message is queued
provider_pause
printf '%s\r\n' 'HELO client' 'MAIL FROM:<relayuser@example.org>' \
	'RCPT TO:<alice@example.org>' 'DATA' 'Subject: later' '' 'x' '.' \
	'QUIT' >"$W/down.in"
"$SENDRELAY" -C "$SR_CONF" -bs <"$W/down.in" >"$W/down.out" 2>"$W/down.err"
provider_resume
if grep -q '^250 2.0.0 Ok: queued as' "$W/down.out" &&
    "$SENDRELAY" -C "$SR_CONF" -bp | grep -q '^ *alice@example.org$'; then
	tap_ok "provider down: 250 and the message is in the queue"
else
	tap_fail "provider down: 250 and the message is in the queue" \
		"$(cat "$W/down.out" "$W/down.err")"
fi

tap_done
