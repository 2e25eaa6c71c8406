#!/usr/bin/python3
"""sealed_sender.py: the RSA-OAEP + per-client HMAC MQTT sender and listener of
the RSA-OAEP + HMAC lab, in Python 3, for interoperability tests and sample captures.

    sealed_sender.py publish --public-key rsa-public.pem --hmac-key-hex HEX
                     [--client clientAAA] [--topic T] [--message M]... [--count N]
                     [--interval S] [--history FILE] [--bad-mac | --replay [N]]
                     [--hmac-hash sha256] [--layout trailer|prefix] [MQTT options]
    sealed_sender.py listen --keyring keyring.toml [--topic FILTER] [--count N]
                     [MQTT options]
    sealed_sender.py verify --keyring keyring.toml [--broker-port 1883] < FIELDS

MQTT options: --host H (127.0.0.1) --port P (1883) -u USER -P PASSWORD
--client-id ID (default: --client for publish) --qos 0|1|2 (1)
--protocol 3.1.1|5 (3.1.1).

publish encrypts each message to the listener's RSA public key with
python3-cryptography, exactly as OpenSSL's RSA_PKCS1_OAEP_PADDING does
(SHA-1, MGF1-SHA-1, no label; the lab's C sender asserts
len(message) < RSA_size - 41):

    ct = pub.encrypt(message, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                           algorithm=hashes.SHA1(), label=None))
    mac = hmac.new(client_key, ct, hashlib.sha256).digest()
    payload = ct + mac                     # layout "trailer" (mac + ct: "prefix")

and publishes it on the client's own topic (--topic, default the --client
name, e.g. "clientAAA"), QoS 1, one connection per run, one message per
--message (or --count generated ones: '{"client":"<client>","seq":<n>,
"temp":<t>}'), --interval seconds apart. Every payload sent is appended
to --history (JSON lines: mode, client, topic, payload hex). Attack modes:

  --bad-mac      flip the last byte of the MAC (xor 0xff): the listener drops
                 it before decrypting (the ciphertext itself is fine).
  --replay [N]   re-publish history entry N (1-based, default 1; negative counts
                 from the end) byte for byte (valid MAC, decrypts), on that
                 entry's topic and as that entry's client unless --topic or
                 --client say otherwise.

Signing with another client's key is just --hmac-key-hex of that client.
publish prints one line per message on stdout: "<mode> <topic> <plaintext>".

listen is the lab's listener: it subscribes to --topic (default "#"); for each
message it takes the [[rule]] of --keyring whose topics match, checks the HMAC
first (hmac.compare_digest) and drops the message on mismatch, then decrypts.
It prints "ready: ..." on stderr once subscribed, then one line per message on
stdout: "<verdict> <topic> <plaintext>", verdict ok | bad-mac | no-rule |
decrypt-failed, with " (dup)" after ok when the same payload came before; it
exits after --count messages or on SIGINT/SIGTERM.

verify reads tshark fields on stdin, one PUBLISH per line: frame.number,
tcp.srcport, mqtt.topic, mqtt.msg (hex), tab-separated, and prints for each:
frame, direction (c2b | b2c, by --broker-port), topic, verdict (ok | bad-mac |
no-rule | decrypt-failed), "dup" when a c2b payload repeats an earlier c2b
payload byte for byte ("-" otherwise), and the plaintext.

The keyring is mqtap's TOML format (DESIGN.md, "Keys"); this script reads its
[[rule]] blocks with topics, hmac = { algorithm, key_hex | key_base64 |
key_file, layout } and rsa_oaep = { private_key, hash }.

Exit status: 0 on success, 1 on a runtime error, 2 on a usage error.
Run it with /usr/bin/python3 (python3-cryptography, python3-paho-mqtt).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import sys
import time
import tomllib

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from mqttpeer import Fail, Peer, Stop
    from cryptography.hazmat.primitives.asymmetric import padding
except ImportError as e:  # pragma: no cover
    sys.exit("sealed_sender.py: %s (install python3-paho-mqtt and python3-cryptography, "
             "and run this script with /usr/bin/python3)" % e)

OAEP_OVERHEAD = 41  # the lab's figure for RSA_PKCS1_OAEP_PADDING: len < RSA_size - 41
HMAC_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
OAEP_HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


# ---------------------------------------------------------------- the RSA-OAEP + HMAC lab

def oaep(hash_name="sha1"):
    h = OAEP_HASHES[hash_name]
    return padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None)


def load_public_key(path):
    try:
        with open(path, "rb") as f:
            return serialization.load_pem_public_key(f.read())
    except (OSError, ValueError) as e:
        raise Fail("cannot read the RSA public key %s: %s" % (path, e))


def load_private_key(path):
    try:
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise Fail("cannot read the RSA private key %s: %s" % (path, e))


def seal(pub, key, message, hmac_hash="sha256", layout="trailer"):
    size = pub.key_size // 8
    if not len(message) < size - OAEP_OVERHEAD:
        raise Fail("message of %d bytes too long: RSA-OAEP with a %d-bit key takes fewer than %d" % (
            len(message), pub.key_size, size - OAEP_OVERHEAD))
    ct = pub.encrypt(message, oaep("sha1"))
    mac = hmac.new(key, ct, HMAC_HASHES[hmac_hash]).digest()
    return ct + mac if layout == "trailer" else mac + ct


def flip_mac(payload, hmac_hash="sha256", layout="trailer"):
    n = HMAC_HASHES[hmac_hash]().digest_size
    b = bytearray(payload)
    i = len(b) - 1 if layout == "trailer" else n - 1
    b[i] ^= 0xFF
    return bytes(b)


def read_history(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def append_history(path, mode, client, topic, payload):
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"mode": mode, "client": client, "topic": topic, "payload": payload.hex()}) + "\n")


def run_publish(args):
    client = args.client or "clientAAA"
    jobs = []
    if args.replay is not None:
        history = read_history(args.history)
        if not history:
            raise Fail("--replay needs an earlier payload in --history, and %s has none" % (args.history or "no file"))
        try:
            entry = history[args.replay - 1] if args.replay > 0 else history[args.replay]
        except IndexError:
            raise Fail("--replay %d: %s holds %d payloads" % (args.replay, args.history, len(history)))
        jobs.append(("replay", bytes.fromhex(entry["payload"]), "(replay of entry %d)" % args.replay))
        client = args.client or entry["client"]
        topic = args.topic or entry["topic"]
    else:
        pub = load_public_key(args.public_key)
        try:
            key = bytes.fromhex(args.hmac_key_hex)
        except ValueError:
            raise Fail("--hmac-key-hex is not hexadecimal")
        topic = args.topic or client
        texts = args.message or ['{"client":"%s","seq":%d,"temp":%.1f}' % (client, i + 1, random.uniform(18, 25))
                                 for i in range(args.count)]
        for text in texts:
            payload = seal(pub, key, text.encode(), args.hmac_hash, args.layout)
            mode = "good"
            if args.bad_mac:
                payload = flip_mac(payload, args.hmac_hash, args.layout)
                mode = "bad-mac"
            jobs.append((mode, payload, text))
    peer = Peer(args, args.client_id or client)
    try:
        for i, (mode, payload, text) in enumerate(jobs):
            if i > 0:
                time.sleep(args.interval)
            peer.publish(topic, payload, args.qos)
            append_history(args.history, mode, client, topic, payload)
            print(mode, topic, text, flush=True)
    finally:
        peer.close()
    return 0


# ---------------------------------------------------------------- keyring

def topic_matches(flt, topic):
    f, t = flt.split("/"), topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t):
            return False
        if level != "+" and level != t[i]:
            return False
    return len(f) == len(t)


class Rule:
    def __init__(self, base, r):
        self.topics = r["topics"]
        h = r.get("hmac")
        self.hmac = None
        if h:
            if "key_hex" in h:
                key = bytes.fromhex(h["key_hex"])
            elif "key_base64" in h:
                key = base64.b64decode(h["key_base64"])
            else:
                with open(os.path.join(base, h["key_file"]), "rb") as f:
                    key = f.read()
            self.hmac = (key, h.get("algorithm", "sha256"), h.get("layout", "trailer"))
        o = r.get("rsa_oaep")
        self.rsa = None
        if o:
            self.rsa = (load_private_key(os.path.join(base, o["private_key"])), o.get("hash", "sha1"))

    def open(self, payload):
        """(verdict, plaintext bytes or None)"""
        data = payload
        if self.hmac:
            key, alg, layout = self.hmac
            n = HMAC_HASHES[alg]().digest_size
            if len(payload) < n:
                return "bad-mac", None
            if layout == "trailer":
                data, mac = payload[:-n], payload[-n:]
            else:
                mac, data = payload[:n], payload[n:]
            if not hmac.compare_digest(mac, hmac.new(key, data, HMAC_HASHES[alg]).digest()):
                return "bad-mac", None  # dropped before any decryption, as the lab says
        if self.rsa:
            priv, h = self.rsa
            try:
                data = priv.decrypt(data, oaep(h))
            except ValueError:
                return "decrypt-failed", None
        return "ok", data


def load_keyring(path):
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Fail("cannot read the keyring %s: %s" % (path, e))
    base = os.path.dirname(os.path.abspath(path))
    return [Rule(base, r) for r in doc.get("rule", [])]


def open_payload(rules, topic, payload):
    for r in rules:
        if any(topic_matches(f, topic) for f in r.topics):
            return r.open(payload)
    return "no-rule", None


def text(b):
    if b is None:
        return ""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + b.hex()


def run_listen(args):
    rules = load_keyring(args.keyring)

    def stop(signum, frame):
        raise Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    peer = Peer(args, args.client_id or "listener")
    seen = set()
    n = 0
    try:
        peer.subscribe(args.topic, args.qos)
        print("ready: subscribed to %s with %d rules" % (args.topic, len(rules)), file=sys.stderr, flush=True)
        while args.count == 0 or n < args.count:
            while not peer.msgs:
                if peer.closed:
                    raise Fail("connection to %s lost" % peer.addr)
                peer.c.loop(0.05)
            m = peer.msgs.pop(0)
            verdict, plain = open_payload(rules, m.topic, m.payload)
            if verdict == "ok" and m.payload in seen:
                verdict = "ok (dup)"
            seen.add(m.payload)
            print(verdict, m.topic, text(plain), flush=True)
            n += 1
    except Stop:
        pass
    finally:
        for _ in range(5):
            peer.c.loop(0.02)
        peer.close()
    return 0


def run_verify(args):
    rules = load_keyring(args.keyring)
    seen = set()
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        f = line.split("\t")
        if len(f) < 4:
            raise Fail("verify: want 4 tab-separated fields, got %r" % line)
        frame, sport, topic, hexmsg = f[0], int(f[1]), f[2], f[3].replace(":", "")
        payload = bytes.fromhex(hexmsg)
        direction = "b2c" if sport == args.broker_port else "c2b"
        verdict, plain = open_payload(rules, topic, payload)
        dup = "-"
        if direction == "c2b":
            if payload in seen:
                dup = "dup"
            seen.add(payload)
        print(frame, direction, topic, verdict, dup, text(plain), sep="\t")
    return 0


# ---------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser(prog="sealed_sender.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def mqtt_opts(sp):
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=1883)
        sp.add_argument("-u", "--username")
        sp.add_argument("-P", "--password")
        sp.add_argument("--client-id")
        sp.add_argument("--qos", type=int, choices=[0, 1, 2], default=1)
        sp.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")

    p = sub.add_parser("publish", help="encrypt, MAC and publish")
    mqtt_opts(p)
    p.add_argument("--public-key", help="the listener's RSA public key (PEM)")
    p.add_argument("--hmac-key-hex", help="the client's shared HMAC key")
    p.add_argument("--client", help="client name: default topic and client id (default clientAAA; "
                   "with --replay, the replayed entry's)")
    p.add_argument("--topic")
    p.add_argument("--message", action="append", help="the plaintext; repeat it to send several on one connection")
    p.add_argument("--count", type=int, default=1, help="without --message: how many generated messages")
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--history")
    p.add_argument("--hmac-hash", choices=sorted(HMAC_HASHES), default="sha256")
    p.add_argument("--layout", choices=["trailer", "prefix"], default="trailer")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--bad-mac", action="store_true")
    g.add_argument("--replay", type=int, nargs="?", const=1, metavar="N")

    p = sub.add_parser("listen", help="the lab's listener")
    mqtt_opts(p)
    p.add_argument("--keyring", required=True)
    p.add_argument("--topic", default="#")
    p.add_argument("--count", type=int, default=0)

    p = sub.add_parser("verify", help="check PUBLISH payloads given as tshark fields on stdin")
    p.add_argument("--keyring", required=True)
    p.add_argument("--broker-port", type=int, default=1883)

    args = ap.parse_args(argv)
    if args.cmd == "publish":
        if args.replay is None and not (args.public_key and args.hmac_key_hex):
            ap.error("publish needs --public-key and --hmac-key-hex (except with --replay)")
        if args.count < 1:
            ap.error("--count must be at least 1")
        if args.replay is not None and (args.count != 1 or args.message):
            ap.error("--replay sends one earlier payload: no --count or --message")
    try:
        if args.cmd == "publish":
            return run_publish(args)
        if args.cmd == "listen":
            return run_listen(args)
        return run_verify(args)
    except Fail as e:
        print("sealed_sender.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
