#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""fakesmtp: a scriptable SMTP server for faults no real server produces.

It serves one or more connections (one after the other) on 127.0.0.1,
behaves as an ordinary small ESMTP server unless the script says
otherwise, and writes a transcript of everything it received and sent, so
tests can assert what a client did or did NOT send. It does not deliver,
queue or relay anything; it is a test tool, Python 3 standard library only.

It always stops by itself: after the script's connections are served, or
when its lifetime (default 30 s) runs out, whatever the client does.

Usage:
  fakesmtp.py --script FILE --transcript FILE [--port N] [--port-file FILE]
              [--lifetime SECONDS]
With --port 0 (the default) the kernel picks the port; it is written to
--port-file (atomically, by rename) once the server listens.

Transcript lines:
  * ...     an event (connect, recv #n of k bytes, tls, close, action)
  C: ...    a command line received (CR LF stripped, non-printables escaped)
  D: ...    a message body line received after DATA
  S: ...    a reply line sent (raw bytes are shown escaped)
Replies are queued and written when the server has no complete command
left to read, so pipelined commands show up before the replies to them.

Script: one directive a line, '#' starts a comment line, words are split
on white space and the last argument is the rest of the line.
  lifetime SECONDS        stop after this long, whatever happens (30)
  connections N           serve N connections, one after the other (1)
  hostname NAME           our name in the greeting and EHLO (fake.test)
  greeting TEXT           greeting reply (220 NAME ESMTP fakesmtp)
  cap KEYWORD [ARGS]      an EHLO capability line (repeat; order kept)
  tls CERT KEY            offer STARTTLS (until TLS is on) with this cert
  auth USER PASS          accept AUTH PLAIN, LOGIN, CRAM-MD5 with these
                          credentials (535 otherwise); adds a
                          "cap AUTH PLAIN LOGIN CRAM-MD5" unless one is given
  rcpt ADDRESS REPLY      reply to RCPT TO:<ADDRESS> (case-insensitive);
                          ADDRESS "*" is the default (250 2.1.5 Ok)
  pipeline-wait SECONDS   after MAIL, hold the replies until DATA arrives or
                          this time passes: a client that waits for the
                          MAIL reply shows it by a pause, one that
                          pipelines gets every reply after DATA
  drip-interval SECONDS   pause between the bytes of a "drip" (1)
  at STAGE ACTION [TEXT]  replace what happens at STAGE
STAGE is one of: greeting ehlo helo starttls auth mail rcpt data body eod
rset quit (eod: the reply to the final "."; body: while the body arrives;
rcpt: the first RCPT only).
ACTION is one of:
  reply TEXT     send TEXT instead of the usual reply ("\\n" separates lines
                 of a multi-line reply; CR LF is added to each)
  raw TEXT       send exactly TEXT, with \\r \\n \\t \\\\ \\xHH decoded
  inject TEXT    (starttls) send "220 2.0.0 Ready to start TLS\\r\\n" and
                 the decoded TEXT in the same write, then handshake anyway
  close [TEXT]   send TEXT (if any) as a reply, then close the connection
  stall          never answer; keep reading until the client goes away
  drip TEXT      send the decoded TEXT one byte per drip-interval, over
                 and over, until the client goes away
  endless [TEXT] send "CODE-TEXT" lines forever (CODE: the stage's usual
                 code, TEXT: 60 'x' by default) until the client goes away
  drop N         (body) close the connection after N body bytes
At "starttls", a reply or raw text starting with "220" still starts the
TLS handshake.
"""

import argparse
import base64
import hashlib
import hmac
import os
import select
import socket
import ssl
import sys
import threading
import time

STAGES = ("greeting", "ehlo", "helo", "starttls", "auth", "mail", "rcpt",
          "data", "body", "eod", "rset", "quit")
ACTIONS = ("reply", "raw", "inject", "close", "stall", "drip", "endless",
           "drop")
STAGE_CODE = {"greeting": "220", "starttls": "220", "data": "354",
              "auth": "334"}
MAX_LINE = 1 << 20


class ScriptError(Exception):
    pass


class Closed(Exception):
    """The connection is over (client went away or we closed it)."""


def decode_escapes(text):
    """Decodes \\r \\n \\t \\\\ \\xHH into bytes; anything else as is."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    while i < len(raw):
        c = raw[i:i + 1]
        if c == b"\\" and i + 1 < len(raw):
            n = raw[i + 1:i + 2]
            simple = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}
            if n in simple:
                out += simple[n]
                i += 2
                continue
            if n == b"x" and i + 3 < len(raw):
                try:
                    out.append(int(raw[i + 2:i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
        out += c
        i += 1
    return bytes(out)


def show(data):
    """A transcript-safe form of peer bytes."""
    text = data.decode("latin-1")
    return "".join(ch if " " <= ch <= "~" else "\\x%02x" % ord(ch)
                   for ch in text)


def reply_bytes(text):
    """Script reply text ("\\n" between lines) -> wire bytes."""
    lines = text.split("\\n")
    return b"".join(line.encode("utf-8") + b"\r\n" for line in lines)


class Script:
    def __init__(self):
        self.lifetime = 30.0
        self.connections = 1
        self.hostname = "fake.test"
        self.greeting = None
        self.caps = []
        self.tls = None
        self.auth = None
        self.rcpt = {}
        self.pipeline_wait = 0.0
        self.drip_interval = 1.0
        self.at = {}

    @classmethod
    def load(cls, path):
        s = cls()
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    s.directive(line)
                except (ScriptError, ValueError, IndexError) as exc:
                    raise ScriptError("%s:%d: %s" % (path, lineno, exc))
        if s.greeting is None:
            s.greeting = "220 %s ESMTP fakesmtp" % s.hostname
        if s.auth and not any(c.upper().startswith("AUTH")
                              for c in s.caps):
            s.caps.append("AUTH PLAIN LOGIN CRAM-MD5")
        return s

    def directive(self, line):
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "lifetime":
            self.lifetime = float(rest)
        elif word == "connections":
            self.connections = int(rest)
        elif word == "hostname":
            self.hostname = rest
        elif word == "greeting":
            self.greeting = rest
        elif word == "cap":
            self.caps.append(rest)
        elif word == "tls":
            cert, key = rest.split()
            self.tls = (cert, key)
        elif word == "auth":
            user, password = rest.split(None, 1)
            self.auth = (user, password)
        elif word == "rcpt":
            addr, text = rest.split(None, 1)
            self.rcpt[addr.lower()] = text
        elif word == "pipeline-wait":
            self.pipeline_wait = float(rest)
        elif word == "drip-interval":
            self.drip_interval = float(rest)
        elif word == "at":
            stage, _, more = rest.partition(" ")
            action, _, text = more.strip().partition(" ")
            if stage not in STAGES:
                raise ScriptError("unknown stage '%s'" % stage)
            if action not in ACTIONS:
                raise ScriptError("unknown action '%s'" % action)
            if action in ("reply", "raw", "inject", "drip") and not text:
                raise ScriptError("'%s' needs a text" % action)
            if action == "drop":
                int(text)
            self.at[stage] = (action, text.strip())
        else:
            raise ScriptError("unknown directive '%s'" % word)


class Transcript:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8", buffering=1)
        self.lock = threading.Lock()

    def write(self, line):
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


class Session:
    def __init__(self, script, sock, log, deadline, number):
        self.s = script
        self.sock = sock
        self.log = log
        self.deadline = deadline
        self.number = number
        self.inbuf = b""
        self.out = []
        self.chunks = 0
        self.tls_on = False
        self.hold_until = None
        self.in_mail = False
        self.accepted = 0
        self.rcpt_seen = 0

    # ---- I/O ---------------------------------------------------------

    def remaining(self):
        return max(0.05, self.deadline - time.monotonic())

    def recv_more(self, timeout=None):
        """Reads one chunk; False when timeout passed with nothing."""
        pending = self.tls_on and self.sock.pending() > 0
        if not pending:
            wait = self.remaining() if timeout is None else timeout
            r, _, _ = select.select([self.sock], [], [], wait)
            if not r:
                if timeout is None:
                    raise Closed("lifetime over while reading")
                return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise Closed("read error: %s" % exc)
        if not data:
            raise Closed("closed by client")
        self.chunks += 1
        self.log.write("* recv #%d %d bytes" % (self.chunks, len(data)))
        self.inbuf += data
        if len(self.inbuf) > MAX_LINE and b"\n" not in self.inbuf:
            raise Closed("line too long")
        return True

    def queue(self, data):
        self.out.append(data)

    def flush(self):
        if not self.out:
            return
        data = b"".join(self.out)
        self.out = []
        lines = data.split(b"\r\n")
        if lines[-1] == b"":
            lines.pop()
        for line in lines:
            self.log.write("S: " + show(line))
        try:
            self.sock.sendall(data)
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise Closed("write error: %s" % exc)

    def readline(self):
        while True:
            i = self.inbuf.find(b"\n")
            if i >= 0:
                line = self.inbuf[:i + 1]
                self.inbuf = self.inbuf[i + 1:]
                return line.rstrip(b"\r\n")
            if self.hold_until is not None and self.out:
                left = self.hold_until - time.monotonic()
                if left > 0 and self.recv_more(left):
                    continue
                self.log.write("* pipeline-wait over without DATA")
                self.hold_until = None
            self.flush()
            self.recv_more()

    # ---- actions -----------------------------------------------------

    def respond(self, stage, default):
        """Sends the usual reply or what the script says for this stage.
        Returns the reply text that was queued (for starttls decisions)."""
        action, text = self.s.at.get(stage, ("reply", None))
        if stage == "rcpt" and self.rcpt_seen > 1:
            action, text = "reply", None
        if action == "reply":
            data = reply_bytes(text if text else default)
        elif action == "raw":
            data = decode_escapes(text)
        elif action == "inject":
            data = reply_bytes(default) + decode_escapes(text)
        elif action == "close":
            self.log.write("* action close at %s" % stage)
            if text:
                self.queue(reply_bytes(text))
            self.flush()
            raise Closed("closed by script at %s" % stage)
        elif action == "stall":
            self.stall(stage)
        elif action == "drip":
            self.drip(stage, decode_escapes(text))
        elif action == "endless":
            self.endless(stage, default, text)
        else:
            data = reply_bytes(default)
        self.queue(data)
        return data

    def stall(self, stage):
        self.flush()
        self.log.write("* action stall at %s" % stage)
        while True:
            self.recv_more()
            self.log_pending_lines()

    def log_pending_lines(self):
        while b"\n" in self.inbuf:
            line, _, self.inbuf = self.inbuf.partition(b"\n")
            self.log.write("C: " + show(line.rstrip(b"\r")))

    def drip(self, stage, data):
        self.flush()
        self.log.write("* action drip at %s: %s" % (stage, show(data)))
        sent = 0
        while True:
            r, _, _ = select.select([self.sock], [], [],
                                    min(self.s.drip_interval,
                                        self.remaining()))
            if time.monotonic() >= self.deadline:
                self.log.write("* drip sent %d bytes" % sent)
                raise Closed("lifetime over while dripping")
            if r:
                self.recv_more(0)
                self.log_pending_lines()
                continue
            byte = data[sent % len(data):sent % len(data) + 1]
            try:
                self.sock.sendall(byte)
            except (ConnectionError, ssl.SSLError, OSError) as exc:
                self.log.write("* drip sent %d bytes" % sent)
                raise Closed("write error: %s" % exc)
            sent += 1

    def endless(self, stage, default, text):
        self.flush()
        code = default[:3]
        line = ("%s-%s\r\n" % (code, text or "x" * 60)).encode()
        block = line * 256
        self.log.write("* action endless at %s: %s" % (stage, show(line)))
        sent = 0
        try:
            while time.monotonic() < self.deadline:
                self.sock.sendall(block)
                sent += len(block)
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            self.log.write("* endless sent %d bytes" % sent)
            raise Closed("write error: %s" % exc)
        self.log.write("* endless sent %d bytes" % sent)
        raise Closed("lifetime over while sending endless reply")

    # ---- protocol ----------------------------------------------------

    def ehlo_reply(self):
        caps = list(self.s.caps)
        if self.s.tls and not self.tls_on:
            caps.append("STARTTLS")
        lines = [self.s.hostname] + caps
        return "\\n".join(("250-" if i < len(lines) - 1 else "250 ") + c
                          for i, c in enumerate(lines))

    def run(self):
        self.respond("greeting", self.s.greeting)
        while True:
            line = self.readline()
            self.log.write("C: " + show(line))
            verb, _, arg = line.decode("latin-1").partition(" ")
            verb = verb.upper()
            handler = getattr(self, "cmd_" + verb.lower(), None)
            if handler is None or not verb.isalpha():
                self.queue(reply_bytes("502 5.5.2 Error: command not "
                                       "recognized"))
                continue
            handler(arg)

    def cmd_ehlo(self, arg):
        self.respond("ehlo", self.ehlo_reply())

    def cmd_helo(self, arg):
        self.respond("helo", "250 %s" % self.s.hostname)

    def cmd_noop(self, arg):
        self.queue(reply_bytes("250 2.0.0 Ok"))

    def cmd_rset(self, arg):
        self.in_mail = False
        self.accepted = self.rcpt_seen = 0
        self.hold_until = None
        self.respond("rset", "250 2.0.0 Ok")

    def cmd_quit(self, arg):
        self.respond("quit", "221 2.0.0 Bye")
        self.flush()
        raise Closed("QUIT")

    def cmd_mail(self, arg):
        self.in_mail = True
        self.accepted = self.rcpt_seen = 0
        if self.s.pipeline_wait > 0:
            self.hold_until = time.monotonic() + self.s.pipeline_wait
        self.respond("mail", "250 2.1.0 Ok")

    def cmd_rcpt(self, arg):
        self.rcpt_seen += 1
        addr = arg
        if "<" in arg and ">" in arg:
            addr = arg[arg.index("<") + 1:arg.index(">")]
        text = self.s.rcpt.get(addr.lower(),
                               self.s.rcpt.get("*", "250 2.1.5 Ok"))
        sent = self.respond("rcpt", text)
        if sent.startswith(b"2"):
            self.accepted += 1

    def cmd_data(self, arg):
        self.hold_until = None
        ok = self.in_mail and self.accepted > 0
        sent = self.respond("data", "354 End data with <CR><LF>.<CR><LF>"
                            if ok else "554 5.5.1 Error: no valid "
                            "recipients")
        if not sent.startswith(b"354"):
            return
        self.flush()
        self.read_body()
        self.in_mail = False
        self.respond("eod", "250 2.0.0 Ok: queued as FAKE%d" % self.number)

    def read_body(self):
        action, text = self.s.at.get("body", (None, None))
        if action == "stall":
            self.stall("body")
        limit = int(text) if action == "drop" else None
        count = 0
        while True:
            if limit is not None and count >= limit:
                self.log.write("* action drop after %d body bytes" % count)
                raise Closed("dropped mid-DATA")
            i = self.inbuf.find(b"\n")
            if i < 0:
                if limit is not None and len(self.inbuf) + count >= limit:
                    count += len(self.inbuf)
                    self.inbuf = b""
                    continue
                self.recv_more()
                continue
            line = self.inbuf[:i + 1]
            self.inbuf = self.inbuf[i + 1:]
            count += len(line)
            body = line.rstrip(b"\r\n")
            if body == b".":
                self.log.write("* end of data (%d body bytes)"
                               % (count - len(line)))
                return
            self.log.write("D: " + show(body))

    def cmd_starttls(self, arg):
        if not self.s.tls or self.tls_on:
            self.queue(reply_bytes("454 4.7.0 TLS not available"))
            return
        sent = self.respond("starttls", "220 2.0.0 Ready to start TLS")
        self.flush()
        if not sent.startswith(b"220"):
            return
        if self.inbuf:
            # Cleartext sent after STARTTLS must not be taken into the TLS
            # session (CVE-2011-0411 is a server that did): record it, then
            # throw it away.
            self.log.write("* client data before TLS handshake: "
                           + show(self.inbuf))
            self.inbuf = b""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.s.tls)
        self.sock.settimeout(self.remaining())
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.log.write("* tls handshake failed: %s" % exc)
            raise Closed("TLS handshake failed")
        self.tls_on = True
        self.log.write("* tls established %s %s" % (
            self.sock.version(), self.sock.cipher()[0]))
        self.in_mail = False

    def auth_read(self, challenge):
        self.queue(reply_bytes("334 " + challenge))
        line = self.readline()
        self.log.write("C: " + show(line))
        if line == b"*":
            raise ValueError("cancelled")
        return line

    def cmd_auth(self, arg):
        words = arg.split()
        mech = words[0].upper() if words else ""
        initial = words[1].encode() if len(words) > 1 else None
        try:
            user, password = self.auth_exchange(mech, initial)
        except ValueError as exc:
            self.queue(reply_bytes("501 5.7.0 Authentication failed: %s"
                                   % exc))
            return
        except LookupError:
            self.queue(reply_bytes("504 5.5.4 Unrecognized mechanism"))
            return
        good = self.s.auth is not None and user == self.s.auth[0] and \
            (password == self.s.auth[1] or mech == "CRAM-MD5" and
             password is True)
        self.log.write("* auth %s user=%s %s" % (
            mech, user, "accepted" if good else "rejected"))
        self.respond("auth", "235 2.7.0 Authentication successful" if good
                     else "535 5.7.8 Error: authentication failed")

    def auth_exchange(self, mech, initial):
        b64 = base64.b64decode
        if mech == "PLAIN":
            resp = initial if initial not in (None, b"=") else \
                self.auth_read("")
            parts = b64(resp, validate=True).split(b"\0")
            if len(parts) != 3:
                raise ValueError("bad PLAIN response")
            return parts[1].decode(), parts[2].decode()
        if mech == "LOGIN":
            user = b64(initial if initial else
                       self.auth_read("VXNlcm5hbWU6"), validate=True)
            password = b64(self.auth_read("UGFzc3dvcmQ6"), validate=True)
            return user.decode(), password.decode()
        if mech == "CRAM-MD5":
            challenge = "<%d.%d@%s>" % (os.getpid(), time.time_ns(),
                                        self.s.hostname)
            resp = b64(self.auth_read(
                base64.b64encode(challenge.encode()).decode()),
                validate=True).decode()
            user, _, digest = resp.rpartition(" ")
            if self.s.auth is None:
                return user, False
            want = hmac.new(self.s.auth[1].encode(), challenge.encode(),
                            hashlib.md5).hexdigest()
            return user, hmac.compare_digest(want, digest)
        raise LookupError(mech)


def serve(script, transcript, port, port_file):
    start = time.monotonic()
    deadline = start + script.lifetime
    log = Transcript(transcript)

    def watchdog():
        time.sleep(script.lifetime + 1)
        log.write("* lifetime of %gs over: exiting" % script.lifetime)
        os._exit(2)

    threading.Thread(target=watchdog, daemon=True).start()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    chosen = listener.getsockname()[1]
    log.write("* listening on 127.0.0.1:%d" % chosen)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % chosen)
        os.replace(tmp, port_file)
    for number in range(1, script.connections + 1):
        listener.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            conn, peer = listener.accept()
        except socket.timeout:
            log.write("* lifetime over: no connection %d" % number)
            return 2
        conn.setblocking(True)
        log.write("* connect %d from %s:%d" % (number, peer[0], peer[1]))
        session = Session(script, conn, log, deadline, number)
        try:
            session.run()
        except Closed as exc:
            log.write("* end of connection %d: %s" % (number, exc))
        finally:
            try:
                session.sock.close()
            except OSError:
                pass
    log.write("* done")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--script", required=True)
    p.add_argument("--transcript", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--lifetime", type=float)
    a = p.parse_args()
    try:
        script = Script.load(a.script)
    except (OSError, ScriptError) as exc:
        print("fakesmtp: %s" % exc, file=sys.stderr)
        return 64
    if a.lifetime is not None:
        script.lifetime = a.lifetime
    return serve(script, a.transcript, a.port, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
