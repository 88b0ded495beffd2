#!/bin/bash
# SPDX-License-Identifier: ISC
#
# smtp_generic_maps (generic(5)) end to end against the real provider
# (lib.sh): the envelope sender and recipients and the addresses in the
# address headers leave rewritten, while display names, comments, groups,
# encoded words and folding arrive exactly as written. Prints TAP.

. "$(dirname "$0")/lib.sh"

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
errf=${TMPDIR:-/tmp}/t_generic.start.$$
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
cat >"$SR_DIR/generic" <<'EOF'
# root@$myorigin (or a mydestination domain) leaves as the account
root                    relayuser@example.org
www-data@client.test    web@example.org
@old.example            @example.org
EOF
echo "smtp_generic_maps = hash:$SR_DIR/generic" >>"$SR_CONF"

# header FILE NAME: the field NAME of the delivered FILE, folding kept.
header()
{
	python3 - "$1" "$2" <<'PYEOF'
import sys
head = open(sys.argv[1], "rb").read().split(b"\n\n", 1)[0].split(b"\n")
name, out, on = sys.argv[2].lower().encode() + b":", [], False
for line in head:
    if line[:1] in (b" ", b"\t"):
        if on:
            out.append(line)
        continue
    on = line.lower().startswith(name)
    if on:
        out.append(line)
sys.stdout.buffer.write(b"\n".join(out) + b"\n")
PYEOF
}

check_header()
{
	local got
	got=$(header "$1" "$2")
	if [ "$got" = "$3" ]; then
		tap_ok "headers: $2 rewritten, the rest kept"
	else
		tap_fail "headers: $2 rewritten, the rest kept" "got:  $got" \
			"want: $3"
	fi
}

provider_clear_mail alice@example.org bob@example.org
printf '%s\n' \
	'From: "Cron Daemon (host)" <root@example.org>' \
	'To: alice@example.org, (the team) bob@old.example,' \
	'	Someone <someone@elsewhere.test>' \
	'Cc: Friends: carol@old.example, "dave, the 2nd" <dave@example.org>;' \
	'Reply-To: =?UTF-8?B?V8O8cnN0?= <www-data@client.test>' \
	'Subject: generic' \
	'' 'body' >"$W/generic.in"
run_sendrelay "$W/generic" -i -f root alice@example.org bob@old.example \
	<"$W/generic.in"
if [ "$SR_RC" -eq 0 ]; then
	tap_ok "exit 0"
else
	tap_fail "exit 0" "exit $SR_RC: $(cat "$W/generic.err")"
fi
if f=$(provider_wait_mail alice@example.org 15); then
	tap_ok "alice got it"
	if grep -q '^Return-Path: <relayuser@example.org>$' "$f"; then
		tap_ok "envelope sender root -> relayuser@example.org"
	else
		tap_fail "envelope sender root -> relayuser@example.org" \
			"$(grep '^Return-Path' "$f")"
	fi
	check_header "$f" From \
		'From: "Cron Daemon (host)" <relayuser@example.org>'
	check_header "$f" To \
"To: alice@example.org, (the team) bob@example.org,
	Someone <someone@elsewhere.test>"
	check_header "$f" Cc \
		'Cc: Friends: carol@example.org, "dave, the 2nd" <dave@example.org>;'
	check_header "$f" Reply-To \
		'Reply-To: =?UTF-8?B?V8O8cnN0?= <web@example.org>'
	check_header "$f" Subject 'Subject: generic'
else
	tap_fail "alice got it" "$(cat "$W/generic.err")"
fi
if provider_wait_mail bob@example.org 15 >/dev/null; then
	tap_ok "envelope recipient bob@old.example -> bob@example.org"
else
	tap_fail "envelope recipient bob@old.example -> bob@example.org"
fi

# The From we add for a message without one is rewritten too.
provider_clear_mail alice@example.org
printf 'Subject: no from\n\nbody\n' >"$W/nofrom.in"
run_sendrelay "$W/nofrom" -i -f root alice@example.org <"$W/nofrom.in"
if f=$(provider_wait_mail alice@example.org 15) &&
    grep -q '^From: relayuser@example.org$' "$f"; then
	tap_ok "the added From is rewritten"
else
	tap_fail "the added From is rewritten" \
		"$(grep '^From' "$f" 2>/dev/null) $(cat "$W/nofrom.err")"
fi

tap_done
