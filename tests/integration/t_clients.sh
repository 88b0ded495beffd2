#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Real mail clients from Debian packages with sendrelay in place of
# /usr/sbin/sendmail: the cron daemon (MAILTO unset, one address, two
# addresses), PHP mail() (Bcc header, -f), bsd-mailx, s-nail with an
# attachment, mutt in batch mode and git send-email. Each message must
# reach the real provider (lib.sh) with the sender rewritten by
# smtp_generic_maps, no Bcc header, the right recipients, and one Date
# and one Message-ID. Prints TAP.
#
# Every client runs in a private mount namespace (unshare -m) where the
# sendrelay binary is bind-mounted over /usr/sbin/sendmail and a test
# directory over the compiled-in configuration directory (made in a
# private overlay of its parent, so not on the host); cron's also has
# private /etc/crontab, /etc/cron.d, /var/spool/cron/crontabs and /run
# (its pid file). The system's files and daemons are untouched. Cron runs
# jobs at minute boundaries, so this test takes up to about 70 s.
# Needs root and the packages cron, php-cli, bsd-mailx, s-nail, mutt,
# git, git-email and libmailtools-perl (tests/install-deps).

. "$(dirname "$0")/lib.sh"

CRON_PID=

cleanup()
{
	if [ -n "$CRON_PID" ] && _pid_alive "$CRON_PID"; then
		kill -TERM "$CRON_PID" 2>/dev/null
		for _ in $(seq 50); do
			_pid_alive "$CRON_PID" || break
			sleep 0.1
		done
		kill -KILL "$CRON_PID" 2>/dev/null
	fi
	_lib_cleanup
}

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
	tap_done
	exit 1
fi
# Bind mounts need an existing target; we do not create one in /usr/sbin.
if [ ! -f /usr/sbin/sendmail ]; then
	tap_fail "/usr/sbin/sendmail exists to bind-mount over" \
		"install postfix (tests/install-deps)"
	tap_done
	exit 1
fi
default_conf=$(strings "$SENDRELAY" | grep -m 1 '^/.*/sendrelay/main\.cf$')
confdir=${default_conf%/main.cf}
if [ -z "$confdir" ]; then
	tap_fail "the default configuration path is found in the binary"
	tap_done
	exit 1
fi
anc=${confdir%/*}
while [ -n "$anc" ] && [ ! -d "$anc" ]; do
	anc=${anc%/*}
done
if [ -z "$anc" ] || [ "$anc" = / ]; then
	tap_fail "an ancestor of $confdir exists to overlay"
	tap_done
	exit 1
fi
errf=${TMPDIR:-/tmp}/t_clients.start.$$
if ! provider_start 2>"$errf"; then
	tap_fail "provider starts" "$(cat "$errf")"
	rm -f "$errf"
	tap_done
	exit 1
fi
rm -f "$errf"
trap cleanup EXIT
tap_ok "provider starts"

W=$PROV_DIR/work
mkdir -p "$W/home"
sendrelay_config submission
cat >"$SR_DIR/generic" <<'EOF'
# root (at myorigin or a mydestination domain) leaves as the account
root            relayuser@example.org
@client.test    @example.org
EOF
printf 'root: admin@example.org\n' >"$SR_DIR/aliases"
{
	echo "smtp_generic_maps = hash:$SR_DIR/generic"
	echo "alias_maps = hash:$SR_DIR/aliases"
} >>"$SR_CONF"
chmod 0755 "$SR_DIR"
T=$$

# in_ns ARGS...: run ARGS with sendrelay as /usr/sbin/sendmail and the
# test configuration as its compiled-in one, in a private namespace.
# Extra "SRC DST" bind pairs may precede ARGS, ended by "--". With a
# first argument --exec the calling (sub)shell is replaced, so that a
# background in_ns's $! is the pid of the command itself.
# The configuration directory is made inside a private overlay of its
# nearest existing ancestor: nothing is created on the host, and another
# test removing a directory it created there cannot pull ours away.
in_ns()
{
	local o ex=
	[ "$1" = --exec ] && ex='exec' && shift
	o=$(mktemp -d "$W/ovl.XXXXXX") || return 1
	mkdir "$o/up" "$o/work"
	# shellcheck disable=SC2016 # the inner script expands its own args
	$ex unshare -m --propagation private sh -c '
		mount --bind "$1" /usr/sbin/sendmail || exit 111
		mount -t overlay overlay -o "lowerdir=$4,upperdir=$5/up,workdir=$5/work" "$4" ||
			exit 111
		mkdir -p "$3" && mount --bind "$2" "$3" || exit 111
		shift 5
		while [ "$1" != "--" ]; do
			mount --bind "$1" "$2" || exit 111
			shift 2
		done
		shift
		exec "$@"' sh "$SENDRELAY" "$SR_DIR" "$confdir" "$anc" "$o" "$@"
}

# find_mail ADDR MARKER [TIMEOUT]: print the message in ADDR's Maildir
# that contains MARKER, waiting up to TIMEOUT (15) seconds.
find_mail()
{
	local m f
	m=$(provider_mailbox "$1")
	for _ in $(seq $((${3:-15} * 10))); do
		f=$(grep -l -F -- "$2" "$m"/new/* 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			printf '%s\n' "$f"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# hcount FILE NAME: how many NAME: header fields FILE's header has.
hcount()
{
	sed '/^$/q' "$1" | grep -ci "^$2:"
}

# check_mail LABEL ADDR MARKER RETURN-PATH [TIMEOUT]: the message with
# MARKER reached ADDR with that Return-Path, no Bcc, one Date and one
# Message-ID. Sets F to the delivered file ("" if none).
check_mail()
{
	local label=$1 addr=$2 marker=$3 rp=$4
	if ! F=$(find_mail "$addr" "$marker" "${5:-15}"); then
		F=
		tap_fail "$label: $addr got it"
		tap_file_diag "$SR_LOG"
		return 0
	fi
	tap_ok "$label: $addr got it"
	if grep -q "^Return-Path: <$rp>\$" "$F"; then
		tap_ok "$label: Return-Path is <$rp>"
	else
		tap_fail "$label: Return-Path is <$rp>" \
			"$(grep '^Return-Path' "$F")"
	fi
	if [ "$(hcount "$F" Bcc)" -eq 0 ]; then
		tap_ok "$label: no Bcc header"
	else
		tap_fail "$label: no Bcc header" "$(grep -i '^Bcc' "$F")"
	fi
	if [ "$(hcount "$F" Date)" -eq 1 ] &&
	    [ "$(hcount "$F" Message-ID)" -eq 1 ]; then
		tap_ok "$label: one Date and one Message-ID"
	else
		tap_fail "$label: one Date and one Message-ID"
		tap_file_diag "$F" 40
	fi
}

# absent LABEL ADDR MARKER: no message with MARKER is in ADDR's Maildir.
absent()
{
	if grep -q -F -- "$3" "$(provider_mailbox "$2")"/new/* 2>/dev/null; then
		tap_fail "$1: $2 did not get it"
	else
		tap_ok "$1: $2 did not get it"
	fi
}

# ran LABEL STATUS OUTFILE: the client exited 0.
ran()
{
	if [ "$2" -eq 0 ]; then
		tap_ok "$1: the client exits 0"
	else
		tap_fail "$1: the client exits 0" "exit $2" "$(cat "$3")"
	fi
}

# ---- cron: started first, its minute passes while the others run
C=$W/cron
mkdir -p "$C/cron.d" "$C/crontabs" "$C/run"
cat >"$C/crontab" <<EOF
SHELL=/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
* * * * * root echo cron-unset-$T
MAILTO=carol@example.org
* * * * * root echo cron-one-$T
MAILTO="carol@example.org,dave@example.org"
* * * * * root echo cron-two-$T
EOF
chmod 0644 "$C/crontab"
in_ns --exec "$C/crontab" /etc/crontab "$C/cron.d" /etc/cron.d \
	"$C/crontabs" /var/spool/cron/crontabs "$C/run" /run -- \
	/usr/sbin/cron -f -L 15 >"$C/out" 2>&1 </dev/null &
CRON_PID=$!
CRON_START=$(date +%s)
sleep 0.5
if _pid_alive "$CRON_PID"; then
	tap_ok "cron: a private cron daemon runs"
else
	tap_fail "cron: a private cron daemon runs" "$(cat "$C/out")"
fi

# ---- PHP mail() with a Bcc header (sendmail -t -i)
cat >"$W/bcc.php" <<EOF
<?php
var_dump(mail('alice@example.org', 'php-bcc-$T', "Body from PHP.\n",
    "From: root@client.test\r\nBcc: bob@example.org"));
EOF
rc=0
in_ns -- php "$W/bcc.php" >"$W/bcc.out" 2>&1 || rc=$?
ran "php mail() Bcc" "$rc" "$W/bcc.out"
check_mail "php mail() Bcc" alice@example.org "php-bcc-$T" \
	relayuser@example.org
if [ -n "$F" ] && grep -q '^From: relayuser@example.org$' "$F"; then
	tap_ok "php mail() Bcc: From header rewritten"
else
	tap_fail "php mail() Bcc: From header rewritten" \
		"$(grep '^From' "$F" 2>/dev/null)"
fi
check_mail "php mail() Bcc" bob@example.org "php-bcc-$T" \
	relayuser@example.org

# ---- PHP mail() with -f: a sender that is not root's, so the envelope
# shows -f was used, and at @client.test, so it is rewritten too.
cat >"$W/f.php" <<EOF
<?php
var_dump(mail('alice@example.org', 'php-f-$T', "Body from PHP.\n",
    "From: Web <web@client.test>", '-f web@client.test'));
EOF
rc=0
in_ns -- php "$W/f.php" >"$W/f.out" 2>&1 || rc=$?
ran "php mail() -f" "$rc" "$W/f.out"
check_mail "php mail() -f" alice@example.org "php-f-$T" web@example.org

# ---- bsd-mailx
rc=0
printf 'Body from bsd-mailx.\n' | in_ns -- env HOME="$W/home" \
	MAILRC=/dev/null /usr/bin/bsd-mailx -s "mailx-$T" \
	alice@example.org >"$W/mailx.out" 2>&1 || rc=$?
ran "bsd-mailx" "$rc" "$W/mailx.out"
check_mail "bsd-mailx" alice@example.org "mailx-$T" relayuser@example.org

# ---- s-nail with an attachment (-:/ loads no resource files)
printf 'attached text %s\n' "$T" >"$W/report-$T.txt"
rc=0
printf 'Body from s-nail.\n' | in_ns -- env HOME="$W/home" \
	/usr/bin/s-nail -:/ -Ssendwait -s "snail-$T" -a "$W/report-$T.txt" \
	alice@example.org >"$W/snail.out" 2>&1 || rc=$?
ran "s-nail" "$rc" "$W/snail.out"
check_mail "s-nail" alice@example.org "snail-$T" relayuser@example.org
if [ -n "$F" ] && grep -qi '^Content-Type: multipart/mixed' "$F" &&
    grep -qi "^Content-Disposition: attachment;.*filename=\"\\?report-$T\\.txt" \
    "$F"; then
	tap_ok "s-nail: the attachment's MIME part arrived"
else
	tap_fail "s-nail: the attachment's MIME part arrived"
	tap_file_diag "$F" 40
fi

# ---- mutt in batch mode (-n -F /dev/null: no system or user muttrc)
rc=0
printf 'Body from mutt.\n' | in_ns -- env HOME="$W/home" \
	/usr/bin/mutt -n -F /dev/null -s "mutt-$T" alice@example.org \
	>"$W/mutt.out" 2>&1 || rc=$?
ran "mutt" "$rc" "$W/mutt.out"
check_mail "mutt" alice@example.org "mutt-$T" relayuser@example.org

# ---- git send-email, the sendmail program given as --smtp-server
R=$W/repo
rc=0
(
	export HOME="$W/home" GIT_CONFIG_NOSYSTEM=1
	git init -q "$R" && cd "$R" &&
	git config user.name Root && git config user.email root@client.test &&
	printf 'hello\n' >file && git add file &&
	git commit -q -m "git-$T" && git format-patch -q -1 -o "$W/patches"
) >"$W/git.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
	in_ns -- env HOME="$W/home" GIT_CONFIG_NOSYSTEM=1 git -C "$R" \
		send-email --to=alice@example.org \
		--from='Root <root@client.test>' --confirm=never \
		--smtp-server=/usr/sbin/sendmail --suppress-cc=all \
		"$W"/patches/*.patch >>"$W/git.out" 2>&1 || rc=$?
fi
ran "git send-email" "$rc" "$W/git.out"
check_mail "git send-email" alice@example.org "git-$T" relayuser@example.org

# ---- cron's mails: one minute tick after it started, plus delivery
left=$((CRON_START + 75 - $(date +%s)))
[ "$left" -gt 5 ] || left=5
check_mail "cron, MAILTO unset (root -> alias)" admin@example.org \
	"cron-unset-$T" relayuser@example.org "$left"
check_mail "cron, MAILTO one address" carol@example.org "cron-one-$T" \
	relayuser@example.org
check_mail "cron, MAILTO two addresses" carol@example.org "cron-two-$T" \
	relayuser@example.org
check_mail "cron, MAILTO two addresses" dave@example.org "cron-two-$T" \
	relayuser@example.org
absent "cron, MAILTO one address" dave@example.org "cron-one-$T"
if [ -n "$CRON_PID" ] && ! _pid_alive "$CRON_PID"; then
	tap_diag "cron exited early:"
	tap_file_diag "$C/out"
fi

# Nothing was misaddressed: root@example.org (an unexpanded root) and any
# other stray recipient would land in the catch-all.
if [ "$(provider_count_mail nobody-here@example.org)" -eq 0 ]; then
	tap_ok "no message reached the catch-all mailbox"
else
	tap_fail "no message reached the catch-all mailbox" \
		"$(grep -h '^Subject' "$(provider_mailbox x@example.org)"/new/*)"
fi

tap_done
