#!/bin/bash
# SPDX-License-Identifier: ISC
#
# aliases(5) for local recipients, end to end against the real provider
# (lib.sh): a bare name and a name at a mydestination domain are
# expanded, recursively, with loops and |command targets handled; what
# stays local is qualified with myorigin; newaliases (-bi, and by the
# program's name) reports errors with file:line. Prints TAP. Needs root.

. "$(dirname "$0")/lib.sh"

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
errf=${TMPDIR:-/tmp}/t_aliases.start.$$
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
cat >"$SR_DIR/aliases" <<'EOF'
# cron mails root; root's mail goes to the admins
root: admin@example.org, bob
bob: bob@example.org
Postmaster: root
loop1: loop2, carol@example.org
loop2: loop1
piped: "|/usr/bin/false", dave@example.org
"list of two":
	alice@example.org,
	carol@example.org
EOF
echo "alias_maps = hash:$SR_DIR/aliases" >>"$SR_CONF"

# got ADDR SUBJECT: ADDR's mailbox has SUBJECT (waits up to 15 s).
got()
{
	local i m
	m=$(provider_mailbox "$1")
	for i in $(seq 150); do
		grep -qx "Subject: $2" "$m"/new/* 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# case NAME "RCPT ARGS" ADDR...: sends Subject NAME, checks each ADDR got it.
case_send()
{
	local name=$1 args=$2 a
	shift 2
	printf 'Subject: %s\n\nbody\n' "$name" >"$W/$name.in"
	# shellcheck disable=SC2086
	run_sendrelay "$W/$name" -i $args <"$W/$name.in"
	if [ "$SR_RC" -ne 0 ]; then
		tap_fail "$name: exit 0" "exit $SR_RC: $(cat "$W/$name.err")"
		return
	fi
	for a in "$@"; do
		if got "$a" "$name"; then
			tap_ok "$name: $a got it"
		else
			tap_fail "$name: $a got it" "$(cat "$W/$name.err")"
		fi
	done
}

case_send bare-root "root" admin@example.org bob@example.org
case_send postmaster-localhost "postmaster@localhost" \
	admin@example.org bob@example.org
case_send at-myhostname "ROOT@client.test" admin@example.org
case_send loop "loop1" carol@example.org
if grep -q 'to=<loop1@example.org>\|to=<loop2@example.org>' "$SR_LOG"; then
	tap_ok "loop: the names on the loop stay, qualified with myorigin"
else
	tap_fail "loop: the names on the loop stay, qualified with myorigin"
	tap_file_diag "$SR_LOG"
fi
case_send piped "piped" dave@example.org
if grep -q 'not supported.*skipped\|skipped.*not supported' "$W/piped.err" &&
    grep -q "aliases:7" "$W/piped.err"; then
	tap_ok "piped: the |command target is named (file:line) and skipped"
else
	tap_fail "piped: the |command target is named (file:line) and skipped" \
		"$(cat "$W/piped.err")"
fi
printf 'Subject: quoted-name\n\nbody\n' >"$W/quoted-name.in"
run_sendrelay "$W/quoted-name" -i '"List of two"' <"$W/quoted-name.in"
if [ "$SR_RC" -eq 0 ] && got alice@example.org quoted-name &&
    got carol@example.org quoted-name; then
	tap_ok "quoted name: \"List of two\" reaches both targets"
else
	tap_fail "quoted name: \"List of two\" reaches both targets" \
		"exit $SR_RC: $(cat "$W/quoted-name.err")"
fi
case_send unaliased "nosuchalias" nosuchalias@example.org
case_send remote-untouched "bob@example.net" bob@example.net
printf 'To: root\nSubject: dash-t\n\nbody\n' >"$W/dash-t.in"
run_sendrelay "$W/dash-t" -i -t <"$W/dash-t.in"
if [ "$SR_RC" -eq 0 ] && got admin@example.org dash-t; then
	tap_ok "-t: To: root goes through the aliases"
else
	tap_fail "-t: To: root goes through the aliases" "$(cat "$W/dash-t.err")"
fi

# newaliases: a good file passes, a bad one is reported line by line.
"$SENDRELAY" -C "$SR_CONF" -bi >"$W/bi-good.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	tap_ok "-bi: the aliases file checks out (exit 0)"
else
	tap_fail "-bi: the aliases file checks out (exit 0)" "$(cat "$W/bi-good.out")"
fi
printf 'ok: a@example.org\nbroken line without colon\nempty:\n' \
	>"$SR_DIR/aliases"
ln -s "$SENDRELAY" "$W/newaliases"
"$W/newaliases" -C "$SR_CONF" >"$W/bi-bad.out" 2>&1
rc=$?
if [ "$rc" -eq 78 ] && grep -q "aliases:2:" "$W/bi-bad.out" &&
    grep -q "aliases:3:" "$W/bi-bad.out"; then
	tap_ok "newaliases: exit 78, each error named with file:line"
else
	tap_fail "newaliases: exit 78, each error named with file:line" \
		"exit $rc: $(cat "$W/bi-bad.out")"
fi
printf 'Subject: broken\n\nbody\n' >"$W/broken.in"
run_sendrelay "$W/broken" -i root <"$W/broken.in"
if [ "$SR_RC" -eq 78 ] && grep -q "aliases:2:" "$W/broken.err"; then
	tap_ok "a broken aliases file: the message is refused (78), file:line named"
else
	tap_fail "a broken aliases file: the message is refused (78), file:line named" \
		"exit $SR_RC: $(cat "$W/broken.err")"
fi

tap_done
