#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The privilege model, as `make install` sets it up: the program
# set-group-id to a queue group that alone may read the secrets map and
# enter the queue. An unprivileged user (runuser) submits through it and
# the message reaches the real provider; that user cannot read the
# secrets or the queue; with -C the program runs without the group.
#
# The program reads its compiled-in configuration path, so each run
# happens in a private mount namespace (unshare -m) where a test
# directory is bind-mounted there: the system's files are untouched.
# A test user and group are created and removed. Needs root; see lib.sh.

. "$(dirname "$0")/lib.sh"

U=srtest$$
G=srq$$
X=
CREATED_CONFDIR=

cleanup()
{
	[ -n "$X" ] && rm -rf "$X"
	[ -n "$CREATED_CONFDIR" ] && rmdir "$CREATED_CONFDIR" 2>/dev/null
	userdel "$U" 2>/dev/null
	groupdel "$G" 2>/dev/null
	_lib_cleanup
}

if [ ! -x "$SENDRELAY" ]; then
	tap_fail "sendrelay binary exists" "not executable: $SENDRELAY"
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
if ! provider_start 2>"${TMPDIR:-/tmp}/t_priv.$$"; then
	tap_fail "provider starts" "$(cat "${TMPDIR:-/tmp}/t_priv.$$")"
	rm -f "${TMPDIR:-/tmp}/t_priv.$$"
	tap_done
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/t_priv.$$"
trap cleanup EXIT
tap_ok "provider starts"

groupadd --system "$G" && useradd --system --no-create-home \
	--shell /usr/sbin/nologin "$U" || { tap_fail "test user and group"; tap_done; exit 1; }
X=$(mktemp -d /tmp/sendrelay-priv.XXXXXX)
chmod 0755 "$X"
mkdir -p "$X/bin" "$X/etc" "$X/queue" "$X/out"
cp "$SENDRELAY" "$X/bin/sendrelay"
chgrp "$G" "$X/bin/sendrelay" "$X/queue"
chmod 2755 "$X/bin/sendrelay"
chmod 2770 "$X/queue"
chmod 0777 "$X/out"
printf '[%s]:%s %s:%s\n' "$PROV_HOST" "$PROV_SUBMISSION_PORT" "$PROV_USER" \
	"$PROV_PASS" >"$X/etc/sasl_passwd"
chgrp "$G" "$X/etc/sasl_passwd"
chmod 0640 "$X/etc/sasl_passwd"
cat >"$X/etc/main.cf" <<EOF
myhostname = client.test
myorigin = example.org
relayhost = [$PROV_HOST]:$PROV_SUBMISSION_PORT
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = hash:$X/etc/sasl_passwd
smtp_tls_CAfile = $PROV_CA
sendrelay_queue_directory = $X/queue
maillog_file = $X/out/maillog
EOF
if [ ! -d "$confdir" ]; then
	mkdir -p "$confdir" && CREATED_CONFDIR=$confdir
fi

# as_user OUT ARGS...: run the set-group-id copy as the test user with the
# test configuration in place; stdout/stderr to OUT.out/.err, status in RC.
as_user()
{
	local out=$1
	shift
	RC=0
	unshare -m --propagation private sh -c \
		'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
		"$X/etc" "$confdir" runuser -u "$U" -- "$X/bin/sendrelay" "$@" \
		>"$out.out" 2>"$out.err" || RC=$?
}

provider_clear_mail alice@example.org
printf 'Subject: from an unprivileged user\n\nhello\n' >"$X/out/msg"
as_user "$X/out/send" -i alice@example.org <"$X/out/msg"
if [ "$RC" -eq 0 ]; then
	tap_ok "unprivileged user: exit 0"
else
	tap_fail "unprivileged user: exit 0" "exit $RC: $(cat "$X/out/send.err")"
fi
if f=$(provider_wait_mail alice@example.org 15) &&
    grep -q '^Subject: from an unprivileged user$' "$f"; then
	tap_ok "unprivileged user: delivered through the provider"
else
	tap_fail "unprivileged user: delivered through the provider"
fi
if grep -q "^From: $U@example.org\$" "$f" 2>/dev/null; then
	tap_ok "unprivileged user: From is the caller's login @myorigin"
else
	tap_fail "unprivileged user: From is the caller's login @myorigin"
fi

if runuser -u "$U" -- cat "$X/etc/sasl_passwd" >/dev/null 2>&1; then
	tap_fail "unprivileged user cannot read sasl_passwd"
else
	tap_ok "unprivileged user cannot read sasl_passwd"
fi
if runuser -u "$U" -- ls "$X/queue" >/dev/null 2>&1; then
	tap_fail "unprivileged user cannot enter the queue"
else
	tap_ok "unprivileged user cannot enter the queue"
fi

# Something queued: the provider refuses this recipient for now.
provider_rcpt_access "bob@example.org 450 4.2.1 try later"
as_user "$X/out/later" -i bob@example.org <"$X/out/msg"
provider_rcpt_access
bad=$(find "$X/queue" -type f -perm /o=rwx | wc -l)
files=$(find "$X/queue" -type f | wc -l)
if [ "$RC" -eq 0 ] && [ "$files" -gt 0 ] && [ "$bad" -eq 0 ]; then
	tap_ok "queued files ($files) are not accessible to others"
else
	tap_fail "queued files are not accessible to others" \
		"exit $RC, $files files, $bad open to others"
	find "$X/queue" -type f -exec ls -l {} + | sed 's/^/#   /'
fi
wrong=$(find "$X/queue" ! -group "$G" | wc -l)
if [ "$wrong" -eq 0 ]; then
	tap_ok "everything in the queue belongs to the queue group"
else
	tap_fail "everything in the queue belongs to the queue group"
fi
as_user "$X/out/bp" -bp
if [ "$RC" -eq 0 ] && grep -q '^ *bob@example.org$' "$X/out/bp.out"; then
	tap_ok "unprivileged user: mailq lists the waiting message"
else
	tap_fail "unprivileged user: mailq lists the waiting message" \
		"exit $RC: $(cat "$X/out/bp.out" "$X/out/bp.err")"
fi
as_user "$X/out/q" -qf
if [ "$RC" -eq 0 ] && f=$(provider_wait_mail bob@example.org 15); then
	tap_ok "unprivileged user: -qf delivers it"
else
	tap_fail "unprivileged user: -qf delivers it" "exit $RC"
fi

# -C: the same configuration, named by the caller: no group privilege, so
# the secrets map cannot be read.
as_user "$X/out/dashc" -C "$confdir/main.cf" -i alice@example.org \
	<"$X/out/msg"
if [ "$RC" -eq 77 ] && grep -q 'Permission denied' "$X/out/dashc.err"; then
	tap_ok "-C as the user: runs without the group (secrets unreadable, exit 77)"
else
	tap_fail "-C as the user: runs without the group (secrets unreadable, exit 77)" \
		"exit $RC: $(cat "$X/out/dashc.err")"
fi

tap_done
