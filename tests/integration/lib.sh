# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# Integration test harness, sourced by tests/integration/t_*.sh and
# tests/demo (bash).
#
# It provides TAP helpers and a REAL mail provider on loopback: a private
# Postfix instance (own config, queue and data directories) with Dovecot
# as its SASL backend, a throw-away CA made with certtool, and Maildir
# delivery for the virtual domains example.org and example.net.
# Everything lives under one mktemp -d directory and is stopped and
# removed by an EXIT/INT/TERM trap. The system's Postfix and Dovecot are
# never touched: we only run `postfix -c OURDIR` and `dovecot -c OURFILE`,
# and only ever signal the pids recorded by our own instances.
#
# Limits: needs root (Postfix's master and Dovecot drop privileges to the
# postfix/dovecot users), the Debian postfix, dovecot-core and gnutls-bin
# packages, and python3 (free ports, message normalisation).
#
# Provider listeners (all on 127.0.0.1, ports chosen at start):
#   PROV_SUBMISSION_PORT  STARTTLS required, AUTH required (via Dovecot)
#   PROV_SMTPS_PORT       implicit TLS, AUTH required
#   PROV_PLAIN_PORT       no TLS, no AUTH: own domains only, relaying refused
#   PROV_WRONGNAME_PORT   as SUBMISSION, but with a certificate for
#                         "wrong.example"
# The provider's certificate names "localhost" and 127.0.0.1; PROV_CA is
# the CA file a client must trust. SASL user: PROV_USER / PROV_PASS.

PROV_USER="relayuser@example.org"
PROV_PASS="s3cret-PW"
PROV_HOST="${PROV_HOST:-localhost}"
PROV_DIR=""
SR_DIR=""

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_top_dir=$(cd "$_lib_dir/../.." && pwd)
SENDRELAY="${SENDRELAY:-$_top_dir/sendrelay}"

# ---------------------------------------------------------------- TAP

TAP_N=0
TAP_FAILED=0

# tap_diag LINE...: print diagnostics, each line prefixed with "# ".
tap_diag()
{
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/# /'
	done
}

# tap_ok NAME: a passed test.
tap_ok()
{
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s\n' "$TAP_N" "$1"
}

# tap_fail NAME [DIAG...]: a failed test, with diagnostics.
tap_fail()
{
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$1"
	shift
	[ $# -gt 0 ] && tap_diag "$@"
	return 0
}

# tap_check NAME COMMAND...: ok when COMMAND succeeds.
tap_check()
{
	local name=$1
	shift
	if "$@"; then
		tap_ok "$name"
	else
		tap_fail "$name" "failed: $*"
	fi
}

# tap_file_diag FILE [LINES]: the tail of FILE as diagnostics.
tap_file_diag()
{
	[ -f "$1" ] || return 0
	tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}

# tap_done: print the plan; returns 1 if anything failed.
tap_done()
{
	printf '1..%d\n' "$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}

# ---------------------------------------------------------------- utilities

# free_port [N]: print N (default 1) distinct free TCP ports on 127.0.0.1.
# All sockets are held open until every port is chosen, so they differ.
free_port()
{
	python3 - "${1:-1}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# _wait_port PORT [TIMEOUT]: wait until something listens on PORT.
_wait_port()
{
	python3 - "$1" "${2:-20}" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < limit:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# _pid_alive PID: the process exists (and is not a zombie).
_pid_alive()
{
	[ -n "$1" ] && [ -d "/proc/$1" ] &&
		! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# _kill_pidfile FILE: TERM the pid in FILE, then KILL it after 5 s.
_kill_pidfile()
{
	local pid i
	[ -f "$1" ] || return 0
	pid=$(tr -dc '0-9' <"$1")
	[ -n "$pid" ] || return 0
	_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		_pid_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _kill_leftovers DIR: KILL processes whose cwd is inside DIR (Postfix
# daemons chdir to our queue directory), i.e. this instance only.
_kill_leftovers()
{
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $cwd in
		"$1" | "$1"/*) kill -KILL "${p#/proc/}" 2>/dev/null ;;
		esac
	done
	return 0
}

# ---------------------------------------------------------------- CA

# _make_ca DIR: throw-away CA, a "localhost"/127.0.0.1 server cert and a
# "wrong.example" cert, all ECDSA P-256 (fast to make).
_make_ca()
{
	local d=$1 name
	cat >"$d/ca.tmpl" <<EOF
cn = "sendrelay test CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 2
EOF
	cat >"$d/server.tmpl" <<EOF
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
expiration_days = 2
EOF
	cat >"$d/wrong.tmpl" <<EOF
cn = "wrong.example"
dns_name = "wrong.example"
tls_www_server
signing_key
encryption_key
expiration_days = 2
EOF
	certtool --generate-privkey --key-type=ecdsa \
		--outfile "$d/ca.key" >/dev/null 2>&1 || return 1
	certtool --generate-self-signed --load-privkey "$d/ca.key" \
		--template "$d/ca.tmpl" --outfile "$d/ca.pem" >/dev/null 2>&1 ||
		return 1
	for name in server wrong; do
		certtool --generate-privkey --key-type=ecdsa \
			--outfile "$d/$name.key" >/dev/null 2>&1 || return 1
		certtool --generate-certificate --load-privkey "$d/$name.key" \
			--load-ca-certificate "$d/ca.pem" \
			--load-ca-privkey "$d/ca.key" \
			--template "$d/$name.tmpl" \
			--outfile "$d/$name.pem" >/dev/null 2>&1 || return 1
	done
	chmod 0600 "$d"/*.key
}

# ---------------------------------------------------------------- Dovecot

_dovecot_start()
{
	local d=$PROV_DIR/dovecot
	mkdir -p "$d/run" "$d/state"
	# {PLAIN} storage: SCRAM and CRAM-MD5 need the plaintext (or a
	# scheme-specific hash) on the server side.
	printf '%s:{PLAIN}%s::::::\n' "$PROV_USER" "$PROV_PASS" >"$d/users"
	chown root:dovecot "$d/users"
	chmod 0640 "$d/users"
	cat >"$d/dovecot.conf" <<EOF
# Private Dovecot for the sendrelay tests: a SASL backend only.
base_dir = $d/run
state_dir = $d/state
instance_name = sendrelay-test-${PROV_DIR##*.}
protocols =
ssl = no
disable_plaintext_auth = no
log_path = $PROV_DIR/dovecot.log
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
auth_verbose = yes
auth_debug = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $d/auth {
    mode = 0666
  }
}
EOF
	dovecot -c "$d/dovecot.conf" || return 1
	local i
	for i in $(seq 100); do
		[ -S "$d/auth" ] && return 0
		sleep 0.1
	done
	echo "dovecot: auth socket $d/auth did not appear" >&2
	return 1
}

# ---------------------------------------------------------------- Postfix

_postfix_write_conf()
{
	local etc=$PROV_DIR/etc u
	mkdir -p "$etc" "$PROV_DIR/spool" "$PROV_DIR/data" "$PROV_DIR/mail"
	chown postfix "$PROV_DIR/data"
	chown nobody:nogroup "$PROV_DIR/mail"
	: >"$etc/vmailbox"
	: >"$etc/rcpt_access"
	for u in admin alice bob carol dave; do
		printf '%s@example.org example.org/%s/\n' "$u" "$u"
		printf '%s@example.net example.net/%s/\n' "$u" "$u"
	done >>"$etc/vmailbox"
	printf '@example.org example.org/catchall/\n' >>"$etc/vmailbox"
	cat >"$etc/main.cf" <<EOF
# Private Postfix provider for the sendrelay tests (see lib.sh).
compatibility_level = 3.6
queue_directory = $PROV_DIR/spool
data_directory = $PROV_DIR/data
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PROV_DIR/postfix.log
maillog_file_prefixes = $PROV_DIR
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = provider.test
mydomain = provider.test
myorigin = provider.test
mydestination =
mynetworks = 127.0.0.1/32
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
# Nothing ever leaves this instance.
default_transport = error:outbound mail disabled in the test provider
relay_transport = error:outbound mail disabled in the test provider
# Keep messages as the client sent them, so tests can compare bytes: no
# header rewriting or added headers for 127.0.0.1.
local_header_rewrite_clients =
always_add_missing_headers = no
undisclosed_recipients_header =
smtpd_banner = \$myhostname ESMTP test provider
biff = no
enable_original_recipient = no
message_size_limit = 52428800
virtual_mailbox_limit = 104857600
virtual_mailbox_domains = example.org, example.net
virtual_mailbox_base = $PROV_DIR/mail
virtual_mailbox_maps = texthash:$etc/vmailbox
virtual_minimum_uid = 100
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
smtpd_sasl_type = dovecot
smtpd_sasl_path = $PROV_DIR/dovecot/auth
smtpd_tls_chain_files = $PROV_DIR/ca/server.key, $PROV_DIR/ca/server.pem
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
EOF
	_postfix_write_master "$etc"
}

_postfix_write_master()
{
	local auth="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes"
	auth="$auth -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
	auth="$auth -o smtpd_recipient_restrictions=check_recipient_access,texthash:$PROV_DIR/etc/rcpt_access,permit_sasl_authenticated,reject"
	local wrong="-o smtpd_tls_chain_files=$PROV_DIR/ca/wrong.key,$PROV_DIR/ca/wrong.pem"
	cat >"$1/master.cf" <<EOF
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:$PROV_SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt $auth
127.0.0.1:$PROV_SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes $auth
127.0.0.1:$PROV_PLAIN_PORT inet n - n - - smtpd
  -o syslog_name=postfix/plain
  -o smtpd_sasl_auth_enable=no
  -o smtpd_relay_restrictions=reject_unauth_destination
127.0.0.1:$PROV_WRONGNAME_PORT inet n - n - - smtpd
  -o syslog_name=postfix/wrongname
  -o smtpd_tls_security_level=encrypt $auth $wrong
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

_postfix_start()
{
	local etc=$PROV_DIR/etc p
	postfix -c "$etc" set-permissions >/dev/null 2>&1
	if ! postfix -c "$etc" start >"$PROV_DIR/postfix-start.log" 2>&1; then
		cat "$PROV_DIR/postfix-start.log" >&2
		return 1
	fi
	for p in "$PROV_SUBMISSION_PORT" "$PROV_SMTPS_PORT" \
	    "$PROV_PLAIN_PORT" "$PROV_WRONGNAME_PORT"; do
		if ! _wait_port "$p" 20; then
			echo "postfix: port $p not listening" >&2
			cat "$PROV_DIR/postfix-start.log" >&2
			tail -n 20 "$PROV_DIR/postfix.log" >&2 2>/dev/null
			return 1
		fi
	done
}

# provider_start: start Dovecot + Postfix; sets PROV_* variables.
# Installs the cleanup trap. Returns non-zero (with reasons on stderr) if
# the provider could not start.
provider_start()
{
	local ports
	trap _lib_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	PROV_DIR=$(mktemp -d /tmp/sendrelay-prov.XXXXXX) || return 1
	chmod 0755 "$PROV_DIR"
	PROV_CA=$PROV_DIR/ca/ca.pem
	read -r PROV_SUBMISSION_PORT PROV_SMTPS_PORT PROV_PLAIN_PORT \
		PROV_WRONGNAME_PORT <<<"$(free_port 4)"
	[ -n "$PROV_WRONGNAME_PORT" ] || return 1
	mkdir -p "$PROV_DIR/ca"
	_make_ca "$PROV_DIR/ca" || { echo "certtool failed" >&2; return 1; }
	_dovecot_start || return 1
	_postfix_write_conf || return 1
	_postfix_start || return 1
	export PROV_DIR PROV_CA PROV_HOST PROV_USER PROV_PASS \
		PROV_SUBMISSION_PORT PROV_SMTPS_PORT PROV_PLAIN_PORT \
		PROV_WRONGNAME_PORT
}

# provider_pause: stop our Postfix only (Dovecot and the files stay), so
# that clients find the provider down; provider_resume starts it again.
provider_pause()
{
	local p
	postfix -c "$PROV_DIR/etc" stop >/dev/null 2>&1
	_kill_pidfile "$PROV_DIR/spool/pid/master.pid"
	for p in $(seq 50); do
		python3 -c 'import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
except OSError:
    sys.exit(1)' "$PROV_SUBMISSION_PORT" || return 0
		sleep 0.1
	done
	echo "provider_pause: port $PROV_SUBMISSION_PORT still open" >&2
	return 1
}

provider_resume()
{
	_postfix_start
}

# provider_rcpt_access LINE...: the provider's per-recipient answers on
# its AUTH ports (Postfix access(5) lines, e.g. "bob@example.org 450 4.2.1
# busy"); none means accept. Reloads Postfix.
provider_rcpt_access()
{
	printf '%s\n' "$@" >"$PROV_DIR/etc/rcpt_access"
	postfix -c "$PROV_DIR/etc" reload >/dev/null 2>&1
	# reload returns before every smtpd has restarted.
	sleep 1
}

# provider_stop: stop our Postfix and Dovecot (by their pid files only),
# remove the temporary directories. Safe to call more than once.
provider_stop()
{
	local d=$PROV_DIR i
	[ -n "$d" ] && [ -d "$d" ] || return 0
	if [ -f "$d/etc/main.cf" ]; then
		postfix -c "$d/etc" stop >/dev/null 2>&1
		_kill_pidfile "$d/spool/pid/master.pid"
	fi
	_kill_pidfile "$d/dovecot/run/master.pid"
	# Let master's children notice and exit; then force what remains.
	for i in $(seq 30); do
		_kill_leftovers_count "$d" || break
		sleep 0.1
	done
	_kill_leftovers "$d"
	rm -rf "$d"
	PROV_DIR=""
}

# _kill_leftovers_count DIR: true while a process still runs inside DIR.
_kill_leftovers_count()
{
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $cwd in
		"$1" | "$1"/*) return 0 ;;
		esac
	done
	return 1
}

_lib_cleanup()
{
	local rc=$?
	provider_stop
	[ -n "$SR_DIR" ] && rm -rf "$SR_DIR"
	SR_DIR=""
	return $rc
}

# provider_mailbox ADDR: the Maildir of ADDR (user@domain).
provider_mailbox()
{
	local user=${1%@*} dom=${1#*@}
	if grep -q "^$user@$dom " "$PROV_DIR/etc/vmailbox"; then
		printf '%s/mail/%s/%s\n' "$PROV_DIR" "$dom" "$user"
	else
		printf '%s/mail/%s/catchall\n' "$PROV_DIR" "$dom"
	fi
}

# provider_clear_mail ADDR...: empty these mailboxes.
provider_clear_mail()
{
	local a m
	for a in "$@"; do
		m=$(provider_mailbox "$a")
		rm -f "$m"/new/* "$m"/cur/* 2>/dev/null
	done
	return 0
}

# provider_count_mail ADDR: number of messages in ADDR's new/.
provider_count_mail()
{
	local m
	m=$(provider_mailbox "$1")
	find "$m/new" -type f 2>/dev/null | wc -l
}

# provider_wait_mail ADDR [TIMEOUT]: wait until a message is in ADDR's
# Maildir new/ and print the path of the oldest one. Fails on timeout.
provider_wait_mail()
{
	local m f i
	m=$(provider_mailbox "$1")
	for i in $(seq $((${2:-15} * 10))); do
		f=$(ls -tr "$m/new" 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			printf '%s/new/%s\n' "$m" "$f"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- sendrelay

# sendrelay_config KIND [EXTRA-LINE...]: write a main.cf + sasl_passwd
# (mode 0600) for sendrelay pointed at the provider, into a fresh temp
# dir. KIND: submission (STARTTLS + AUTH), smtps (implicit TLS + AUTH),
# plain (no TLS, no AUTH), wrongname (STARTTLS + AUTH, wrong cert),
# badpass (submission with a wrong password). Extra lines are appended
# to main.cf. Sets SR_DIR, SR_CONF (main.cf) and SR_LOG (maillog_file);
# the queue is $SR_DIR/queue.
sendrelay_config()
{
	local kind=$1 port level=verify auth=yes wrapper=no pass=$PROV_PASS
	shift
	case $kind in
	submission) port=$PROV_SUBMISSION_PORT ;;
	smtps) port=$PROV_SMTPS_PORT wrapper=yes ;;
	plain) port=$PROV_PLAIN_PORT level=none auth=no ;;
	wrongname) port=$PROV_WRONGNAME_PORT ;;
	badpass) port=$PROV_SUBMISSION_PORT pass="not-the-password" ;;
	*) echo "sendrelay_config: unknown kind $kind" >&2; return 1 ;;
	esac
	[ -n "$SR_DIR" ] && rm -rf "$SR_DIR"
	SR_DIR=$(mktemp -d /tmp/sendrelay-cf.XXXXXX) || return 1
	SR_CONF=$SR_DIR/main.cf
	SR_LOG=$SR_DIR/maillog
	(umask 077; printf '[%s]:%s %s:%s\n' "$PROV_HOST" "$port" \
		"$PROV_USER" "$pass" >"$SR_DIR/sasl_passwd")
	{
		printf '# sendrelay test config (%s)\n' "$kind"
		printf 'myhostname = client.test\n'
		printf 'myorigin = example.org\n'
		printf 'relayhost = [%s]:%s\n' "$PROV_HOST" "$port"
		printf 'smtp_sasl_auth_enable = %s\n' "$auth"
		printf 'smtp_sasl_password_maps = hash:%s/sasl_passwd\n' "$SR_DIR"
		printf 'smtp_tls_security_level = %s\n' "$level"
		printf 'smtp_tls_wrappermode = %s\n' "$wrapper"
		printf 'smtp_tls_CAfile = %s\n' "$PROV_CA"
		printf 'maillog_file = %s\n' "$SR_LOG"
		printf 'sendrelay_queue_directory = %s/queue\n' "$SR_DIR"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$SR_CONF"
	export SR_DIR SR_CONF SR_LOG
}

# run_sendrelay OUTPREFIX ARGS... < message: run $SENDRELAY -C $SR_CONF
# ARGS, stdout/stderr into OUTPREFIX.out / OUTPREFIX.err; sets SR_RC.
# Redirect stdin from a file: piping into it would set SR_RC in a subshell.
run_sendrelay()
{
	local out=$1
	shift
	SR_RC=0
	"$SENDRELAY" -C "$SR_CONF" "$@" >"$out.out" 2>"$out.err" || SR_RC=$?
}

# mail_normalise DELIVERED [DROP-HEADER...]: print the delivered Maildir
# file without the headers the provider prepends (Return-Path,
# Delivered-To, and its one Received), and without the first occurrence
# of each named header (ones sendrelay is expected to add).
mail_normalise()
{
	python3 - "$@" <<'EOF'
import sys
path, drop = sys.argv[1], [h.lower().encode() for h in sys.argv[2:]]
data = open(path, "rb").read()
head, sep, body = data.partition(b"\n\n")
fields = []                     # unfolded into lists of physical lines
for line in head.split(b"\n"):
    if fields and line[:1] in (b" ", b"\t"):
        fields[-1].append(line)
    else:
        fields.append([line])
def name(f):
    return f[0].split(b":", 1)[0].strip().lower()
# The provider's own additions come first, in this order; X-Original-To
# only if enable_original_recipient were on.
for want in (b"return-path", b"x-original-to", b"delivered-to", b"received"):
    if fields and name(fields[0]) == want:
        fields.pop(0)
    elif want != b"x-original-to":
        sys.exit("delivered message lacks provider header " + want.decode())
for d in drop:
    for i, f in enumerate(fields):
        if name(f) == d:
            del fields[i]
            break
    else:
        sys.exit("delivered message lacks expected header " + d.decode())
out = b"\n".join(b"\n".join(f) for f in fields) + sep + body
sys.stdout.buffer.write(out)
EOF
}

# mail_expected INPUT: print what the Maildir copy of INPUT must hold once
# normalised: CRLF and bare LF both become LF, a final newline is added.
mail_expected()
{
	python3 - "$1" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
if not data.endswith(b"\n"):
    data += b"\n"
sys.stdout.buffer.write(data)
EOF
}
