#!/usr/bin/python3
"""labpeer.py: the secure MQTT client lab's peers in Python, for interoperability
tests and sample captures (the Go twin is `mqtap lab request|respond`).

    labpeer.py request NETID ACTION MESSAGE... [--host H] [--port P] [--dhparams F]
               [--save-keys DIR] [--protocol 3.1.1|5] [--hkdf-info zero|none]
               [--timeout 10s] [--client-id ID] [-v] [TLS options]
    labpeer.py respond [NETID...] [--host H] [--port P] [--dhparams F] [--save-keys DIR]
               [--protocol 3.1.1|5] [--hkdf-info zero|none] [--count N] [--client-id ID]
               [TLS options] [--transport tcp|websockets [--ws-path /mqtt]]
    TLS options: --tls [--cafile CA.pem] [--insecure] [--keylog FILE]
               [--tls-version 1.2|1.3] [--ciphers OPENSSL-CIPHERS]

The cryptography is the lab's crypto.py, call for call: load_pem_parameters,
generate_private_key, PKCS#8 and SubjectPublicKeyInfo PEM, exchange(),
HKDF(SHA256, length=32, salt=b"\\x00", info=b"\\x00") (info=None with
--hkdf-info none, the earlier template), Fernet(base64.b64encode(key)). MQTT is
paho-mqtt 1.6 (Debian's python3-paho-mqtt), QoS 1 everywhere, MQTT 3.1.1 by
default as the lab's Python clients.

request prints the decrypted response on stdout; errors go to stderr with exit
status 1 (2 for usage errors). respond logs one line per handled message on
stderr, the first one starting with "ready:" once subscribed, and runs until
SIGINT/SIGTERM or --count answered action requests. Keys saved with
--save-keys are named <netid>-request-<unix-ns>.pem and
<netid>-response-<unix-ns>.pem. Needs python3-cryptography and
python3-paho-mqtt: run it with /usr/bin/python3.

--tls speaks MQTT over TLS through an ssl.SSLContext handed to paho
(tls_set_context), on the same port (1884 unless --port). The broker's
certificate is verified against the system's roots or --cafile
(load_verify_locations; a self-signed certificate is its own CA) and its
name against --host (check_hostname); --insecure verifies nothing
(check_hostname False, verify_mode CERT_NONE; mosquitto_pub's --insecure only
skips the name). --keylog FILE appends the TLS secrets in the NSS key log
format (SSLContext.keylog_filename: OpenSSL writes CLIENT_RANDOM for TLS 1.2,
CLIENT_TRAFFIC_SECRET_0 and the other secrets for TLS 1.3; Python adds a "#"
comment line when it creates the file). --tls-version pins the version
(minimum_version = maximum_version); --ciphers is an OpenSSL cipher list for
TLS 1.2 (set_ciphers: OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256 or
AES128-SHA, separated by ':' or ','); TLS 1.3 suites cannot be chosen from
Python.

--transport websockets speaks MQTT over WebSocket with paho-mqtt's own
WebSocket transport: an HTTP upgrade at --ws-path (/mqtt by default) offering
the subprotocol "mqtt", then every MQTT packet in one binary frame; with --tls
it is wss:// (the same TLS options). paho reads any framing the server
chooses (fragments) but does not check the subprotocol the server chose, and
answers a server's Ping with an unmasked Pong, which servers that follow RFC
6455 (5.1) refuse by closing the connection.
"""

import argparse
import base64
import os
import random
import signal
import ssl
import sys
import time

try:
    import paho.mqtt.client as mqtt
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as e:  # pragma: no cover
    sys.exit("labpeer.py: %s (install python3-paho-mqtt and python3-cryptography, "
             "and run this script with /usr/bin/python3)" % e)

ACTIONS = ["uppercase", "lowercase", "title-case", "reverse", "shuffle"]
KEY_EXCHANGE = "key-exchange"
QOS = 1
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DHPARAMS = os.path.join(HERE, "..", "cmd", "mqtap", "internal", "labpeer", "dhparam4096.pem")


class Fail(Exception):
    """A runtime error: one line on stderr, exit status 1."""


# ---------------------------------------------------------------- crypto.py

def load_parameters(path):
    with open(path, "rb") as f:
        return serialization.load_pem_parameters(f.read())


def generate_private_key(parameters):
    return parameters.generate_private_key()


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(private_key):
    return private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption())


def load_public_key(pem):
    return serialization.load_pem_public_key(pem)


def derive_fernet(private_key, peer_public_key, info):
    shared_key = private_key.exchange(peer_public_key)
    derived_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00",
                       info=info).derive(shared_key)
    return Fernet(base64.b64encode(derived_key))


# ---------------------------------------------------------------- transforms

def transform(action, text):
    if action == "uppercase":
        return text.upper()
    if action == "lowercase":
        return text.lower()
    if action == "title-case":
        return text.title()
    if action == "reverse":
        return text[::-1]
    if action == "shuffle":
        return "".join(random.sample(text, len(text)))
    raise ValueError("unknown action %r" % action)


# ---------------------------------------------------------------- MQTT

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def tls_context(args):
    """The ssl.SSLContext of --tls and its options (args checked by main)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname, CERT_REQUIRED
    if args.cafile:
        try:
            ctx.load_verify_locations(cafile=args.cafile)
        except FileNotFoundError:
            raise Fail("--cafile %s: no such file" % args.cafile)
        except (ssl.SSLError, OSError) as e:
            raise Fail("--cafile %s: no PEM certificate could be read (%s)" % (args.cafile, e))
    else:
        ctx.load_default_certs()
    if args.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.tls_version:
        v = TLS_VERSIONS[args.tls_version]
        ctx.minimum_version = v
        ctx.maximum_version = v
    if args.ciphers:
        try:
            ctx.set_ciphers(args.ciphers)
        except ssl.SSLError:
            raise Fail("--ciphers %r: OpenSSL knows none of these TLS 1.2 ciphers (use OpenSSL names such as "
                       "ECDHE-RSA-AES128-GCM-SHA256 or AES128-SHA; see openssl ciphers -v)" % args.ciphers)
    if args.keylog:
        try:
            ctx.keylog_filename = args.keylog  # opened in append mode
        except OSError as e:
            raise Fail("--keylog %s: %s" % (args.keylog, e.strerror or e))
    return ctx


def tls_error(addr, host, e):
    """One line saying why the TLS handshake with addr failed."""
    if isinstance(e, ssl.SSLCertVerificationError):
        msg = e.verify_message or str(e)
        if "mismatch" in msg:
            return "the MQTT broker's certificate does not match %s: %s (use --host with a name it is valid for, or --insecure)" % (host, msg)
        return ("the MQTT broker at %s presented an untrusted certificate: %s "
                "(trust its CA, or a self-signed certificate itself, with --cafile; or skip verification with --insecure)" % (addr, msg))
    reason = getattr(e, "reason", None) or str(e)
    hint = ""
    if reason == "WRONG_VERSION_NUMBER":
        hint = " (a plain MQTT listener? then drop --tls)"
    elif "HANDSHAKE_FAILURE" in reason:
        hint = " (no cipher suite in common? see --ciphers and --tls-version)"
    elif "PROTOCOL_VERSION" in reason or reason == "UNSUPPORTED_PROTOCOL":
        hint = " (see --tls-version)"
    return "TLS handshake with the MQTT broker at %s failed: %s%s" % (addr, reason, hint)


class Peer:
    """A paho 1.6 client driven by hand (client.loop), one thread."""

    def __init__(self, args, client_id):
        proto = mqtt.MQTTv5 if args.protocol == "5" else mqtt.MQTTv311
        kw = {} if proto == mqtt.MQTTv5 else {"clean_session": True}
        self.c = mqtt.Client(client_id=client_id, protocol=proto, transport=args.transport, **kw)
        self.v5 = proto == mqtt.MQTTv5
        self.addr = "%s:%d" % (args.host, args.port)
        self.ws = args.transport == "websockets"
        if self.ws:
            self.c.ws_set_options(path=args.ws_path)
            self.addr = "%s://%s%s" % ("wss" if args.tls else "ws", self.addr, args.ws_path)
        self.tls = None  # "TLSv1.3, TLS_AES_256_GCM_SHA384, certificate verified", "WebSocket" once connected
        if args.tls:
            self.c.tls_set_context(tls_context(args))
        self.connack = None
        self.closed = False
        self.acked = {}
        self.msgs = []
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_publish = lambda c, u, mid: self.acked.setdefault(mid, None)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = lambda c, u, m: self.msgs.append(m)
        try:
            kw = {"clean_start": True} if self.v5 else {}
            self.c.connect(args.host, args.port, 30, **kw)
        except ssl.SSLError as e:
            raise Fail(tls_error(self.addr, args.host, e))
        except mqtt.WebsocketConnectionError as e:
            raise Fail("the WebSocket upgrade at %s failed (paho: %s): no MQTT WebSocket endpoint there? "
                       "(check --port and --ws-path)" % (self.addr, e))
        except OSError as e:
            if args.tls and isinstance(e, (ConnectionResetError, BrokenPipeError)):
                # mosquitto's plain listeners take a ClientHello for a malformed CONNECT
                raise Fail("TLS handshake with the MQTT broker at %s failed: the broker closed the connection "
                           "(a plain MQTT listener? then drop --tls)" % self.addr)
            raise Fail("cannot reach the MQTT broker at %s: %s" % (self.addr, e.strerror or e))
        if args.tls:
            sock = self.c.socket()
            if self.ws:
                sock = sock._socket  # paho's WebsocketWrapper around the SSL socket
            self.tls = "%s, %s, %s" % (sock.version(), sock.cipher()[0],
                                       "certificate NOT verified (--insecure)" if args.insecure else "certificate verified")
        if self.ws:
            self.tls = "WebSocket in " + self.tls if self.tls else "WebSocket"
        self.pump(lambda: self.connack is not None, 10, "CONNACK")
        if self.connack != 0:
            raise Fail("the MQTT broker at %s refused the connection: %s" % (self.addr, self.connack))

    def _on_connect(self, c, u, flags, rc, props=None):
        self.connack = rc

    def _on_disconnect(self, c, u, rc, props=None):
        self.closed = True

    def _on_subscribe(self, c, u, mid, granted, props=None):
        self.acked[mid] = granted

    def pump(self, cond, timeout, what):
        end = time.monotonic() + timeout
        while not cond():
            if self.closed:
                raise Fail("connection to %s lost while waiting for %s" % (self.addr, what))
            if time.monotonic() > end:
                raise Fail("timed out after %gs waiting for %s from %s" % (timeout, what, self.addr))
            self.c.loop(0.02)

    def subscribe(self, filters):
        rc, mid = self.c.subscribe([(f, QOS) for f in filters])
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise Fail("subscribing to %s: %s" % (", ".join(filters), mqtt.error_string(rc)))
        self.pump(lambda: mid in self.acked, 10, "SUBACK")
        for f, g in zip(filters, self.acked[mid]):
            code = g.value if hasattr(g, "value") else g
            if code >= 0x80:
                raise Fail("the broker refused the subscription to %s (0x%02x)" % (f, code))

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, QOS)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise Fail("publishing on %s: %s" % (topic, mqtt.error_string(info.rc)))
        self.pump(lambda: info.mid in self.acked, 10, "PUBACK")

    def next_message(self, deadline):
        while not self.msgs:
            if self.closed:
                raise Fail("connection to %s lost" % self.addr)
            if time.monotonic() > deadline:
                return None
            self.c.loop(0.02)
        return self.msgs.pop(0)

    def close(self):
        if not self.closed:
            self.c.disconnect()
            end = time.monotonic() + 2
            while not self.closed and time.monotonic() < end:
                self.c.loop(0.02)


def save_key(args, private_key, netid, side):
    if not args.save_keys:
        return None
    os.makedirs(args.save_keys, exist_ok=True)
    name = os.path.join(args.save_keys, "%s-%s-%d.pem" % (netid.replace("/", "_"), side, time.time_ns()))
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem(private_key))
    return name


def fingerprint(pem):
    """First 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo, as mqtap prints it."""
    der = load_public_key(pem).public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    h = hashes.Hash(hashes.SHA256())
    h.update(der)
    return h.finalize()[:8].hex()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- request

def run_request(args):
    params = load_parameters(args.dhparams)
    info = None if args.hkdf_info == "none" else b"\x00"
    netid, action = args.netid, args.action
    message = " ".join(args.message)
    kex_req, kex_resp = "%s/%s/request" % (netid, KEY_EXCHANGE), "%s/%s/response" % (netid, KEY_EXCHANGE)
    act_req, act_resp = "%s/%s/request" % (netid, action), "%s/%s/response" % (netid, action)

    private_key = generate_private_key(params)
    saved = save_key(args, private_key, netid, "request")
    if saved and args.verbose:
        log("saved the requester's private key to %s" % saved)
    peer = Peer(args, args.client_id or "labpeer-py-request-%s-%d" % (netid, os.getpid()))
    try:
        if peer.tls and args.verbose:
            log("connected to %s over %s" % (peer.addr, peer.tls))
        peer.subscribe([kex_resp, act_resp])
        pem = public_pem(private_key)
        peer.publish(kex_req, pem)
        if args.verbose:
            log("published the public key %s on %s" % (fingerprint(pem), kex_req))
        deadline = time.monotonic() + args.timeout
        fernet = None
        while fernet is None:
            m = peer.next_message(deadline)
            if m is None:
                raise Fail("no responder answered on %s within %s" % (kex_resp, fmt_secs(args.timeout)))
            if m.topic != kex_resp:
                continue
            try:
                fernet = derive_fernet(private_key, load_public_key(m.payload), info)
            except ValueError as e:
                log("ignoring a key-exchange response: %s" % e)
                continue
            if args.verbose:
                log("key exchange done with responder key %s" % fingerprint(m.payload))
        peer.publish(act_req, fernet.encrypt(message.encode()))
        deadline = time.monotonic() + args.timeout
        while True:
            m = peer.next_message(deadline)
            if m is None:
                raise Fail("no responder answered on %s within %s" % (act_resp, fmt_secs(args.timeout)))
            if m.topic == kex_resp:
                log("warning: another key-exchange response: ignored; more than one responder on %s?" % kex_resp)
                continue
            try:
                text = fernet.decrypt(m.payload).decode()
            except (InvalidToken, UnicodeDecodeError) as e:
                raise Fail("cannot decrypt the response on %s: %s" % (act_resp, type(e).__name__))
            print(text, flush=True)
            return
    finally:
        peer.close()


def fmt_secs(s):
    return ("%gs" % s)


# ---------------------------------------------------------------- respond

class Stop(BaseException):
    """SIGINT/SIGTERM. Not an Exception: paho 1.6's loop() swallows those."""


def run_respond(args):
    params = load_parameters(args.dhparams)
    info = None if args.hkdf_info == "none" else b"\x00"
    for n in args.netids:
        if not n or any(c in n for c in "/+#"):
            raise Fail("netid %r is not a single topic level" % n)
    # +/+/request covers <netid>/key-exchange/request too; subscribing to both would
    # make mosquitto deliver key-exchange requests twice to an MQTT 5 client.
    filters = ["%s/+/request" % n for n in args.netids] or ["+/+/request"]
    client_id = args.client_id or "labpeer-py-respond-%d" % os.getpid()

    def stop(signum, frame):
        raise Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    peer = Peer(args, client_id)
    fernets = {}
    answered = 0
    try:
        peer.subscribe(filters)
        log("ready: subscribed to %s at %s as %s%s" % (", ".join(filters), peer.addr, client_id,
                                                       " over " + peer.tls if peer.tls else ""))
        while args.count <= 0 or answered < args.count:
            m = peer.next_message(float("inf"))
            parts = m.topic.split("/")
            if len(parts) != 3 or parts[2] != "request" or not parts[0] or not parts[1]:
                log("%s: ignored (not <netid>/<action>/request)" % m.topic)
                continue
            netid, action = parts[0], parts[1]
            where = "%s %s" % (netid, action)
            if action == KEY_EXCHANGE:
                try:
                    requester = load_public_key(m.payload)
                    private_key = generate_private_key(params)
                    fernet = derive_fernet(private_key, requester, info)
                except (ValueError, TypeError) as e:
                    log("%s: ignored: %s" % (where, e))
                    continue
                saved = save_key(args, private_key, netid, "response")
                pem = public_pem(private_key)
                peer.publish("%s/%s/response" % (netid, KEY_EXCHANGE), pem)
                fernets[netid] = fernet
                line = "%s: answered requester key %s with key %s (info=%s)" % (
                    where, fingerprint(m.payload), fingerprint(pem), "None" if info is None else "00")
                if saved:
                    line += ", private key saved to " + saved
                log(line)
                continue
            if action not in ACTIONS:
                log("%s: ignored: unknown action (one of %s)" % (where, ", ".join(ACTIONS)))
                continue
            if netid not in fernets:
                log("%s: ignored: no key exchange with this netid yet" % where)
                continue
            try:
                text = fernets[netid].decrypt(m.payload).decode()
            except InvalidToken:
                log("%s: cannot decrypt the request: InvalidToken" % where)
                continue
            except UnicodeDecodeError:
                log("%s: ignored: the decrypted request is not UTF-8 text" % where)
                continue
            out = transform(action, text)
            peer.publish("%s/%s/response" % (netid, action), fernets[netid].encrypt(out.encode()))
            answered += 1
            log("%s: answered %r with %r" % (where, text, out))
    except Stop:
        pass
    finally:
        peer.close()


# ---------------------------------------------------------------- CLI

def parse_timeout(s):
    v = s.strip()
    try:
        if v.endswith("ms"):
            return float(v[:-2]) / 1000
        if v.endswith("s"):
            return float(v[:-1])
        if v.endswith("m"):
            return float(v[:-1]) * 60
        return float(v)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid duration %r (e.g. 10s, 500ms)" % s)


def main(argv):
    p = argparse.ArgumentParser(prog="labpeer.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)

    def common(sp):
        sp.add_argument("--host", default="localhost", help="broker host (default localhost)")
        sp.add_argument("--port", type=int, default=1884, help="broker port (default 1884)")
        sp.add_argument("--dhparams", default=DEFAULT_DHPARAMS, help="DH parameters PEM (default: the lab's dhparam4096.pem)")
        sp.add_argument("--save-keys", metavar="DIR", help="write every generated private key to DIR as PKCS#8 PEM")
        sp.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1", help="MQTT version (default 3.1.1)")
        sp.add_argument("--hkdf-info", choices=["zero", "none"], default="zero",
                        help="HKDF info: zero = 0x00 (the lab spec), none = info=None (the earlier template)")
        sp.add_argument("--client-id", help="MQTT client id")
        sp.add_argument("--tls", action="store_true",
                        help="MQTT over TLS (the port stays 1884 unless --port, e.g. --port 8883)")
        sp.add_argument("--cafile", metavar="FILE",
                        help="with --tls: trust the CA certificates in this PEM file instead of the system's")
        sp.add_argument("--insecure", action="store_true",
                        help="with --tls: do not verify the broker's certificate at all (chain nor name)")
        sp.add_argument("--keylog", metavar="FILE",
                        help="with --tls: append the TLS secrets to FILE (NSS key log format, SSLKEYLOGFILE)")
        sp.add_argument("--tls-version", choices=sorted(TLS_VERSIONS), help="with --tls: only this TLS version")
        sp.add_argument("--ciphers", metavar="CIPHERS",
                        help="with --tls: TLS 1.2 ciphers to offer, OpenSSL names separated by ':' or ',' "
                             "(e.g. ECDHE-RSA-AES128-GCM-SHA256, AES128-SHA)")
        sp.add_argument("--transport", choices=["tcp", "websockets"], default="tcp",
                        help="tcp (default) or websockets: MQTT over WebSocket (wss with --tls)")
        sp.add_argument("--ws-path", metavar="PATH",
                        help="with --transport websockets: the endpoint (default /mqtt)")

    rq = sub.add_parser("request", help="the lab's secure_mqtt_client")
    rq.add_argument("netid")
    rq.add_argument("action", choices=ACTIONS)
    rq.add_argument("message", nargs="+")
    common(rq)
    rq.add_argument("--timeout", type=parse_timeout, default=10.0, help="wait for each answer (default 10s)")
    rq.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")

    rs = sub.add_parser("respond", help="a responder for the given netids, or any")
    rs.add_argument("netids", nargs="*", metavar="NETID")
    common(rs)
    rs.add_argument("--count", type=int, default=0, help="exit after N answered action requests (default: never)")

    args = p.parse_args(argv)
    if not args.tls:
        for flag, value in (("--cafile", args.cafile), ("--insecure", args.insecure), ("--keylog", args.keylog),
                            ("--tls-version", args.tls_version), ("--ciphers", args.ciphers)):
            if value:
                p.error("%s needs --tls (MQTT over TLS)" % flag)
    if args.ws_path is not None and args.transport != "websockets":
        p.error("--ws-path needs --transport websockets")
    if args.ws_path is None:
        args.ws_path = "/mqtt"
    if not args.ws_path.startswith("/"):
        p.error("--ws-path %r must start with /" % args.ws_path)
    if args.ciphers and args.tls_version == "1.3":
        p.error("--ciphers chooses TLS 1.2 ciphers and --tls-version 1.3 rules TLS 1.2 out")
    try:
        if args.mode == "request":
            run_request(args)
        else:
            run_respond(args)
    except KeyboardInterrupt:
        print("labpeer.py: interrupted", file=sys.stderr)
        return 130
    except Fail as e:
        print("labpeer.py: %s" % e, file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print("labpeer.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
