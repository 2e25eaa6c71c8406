#!/usr/bin/python3
"""signed_sender.py: the ECDSA-signed MQTT sender and receiver of the ECDSA lab,
ported to Python 3, for interoperability tests and sample captures.

    signed_sender.py publish --key private.pem [--topic T] [--message M] [--count N]
                     [--interval S] [--history FILE] [--replay [N] | --tamper |
                     --forge OTHER.pem | --stale | --timestamp T] [MQTT options]
    signed_sender.py listen --public-key public.pem [--topic FILTER] [--count N]
                     [MQTT options]
    signed_sender.py verify --public-key public.pem [--broker-port 1883] < FIELDS

MQTT options: --host H (127.0.0.1) --port P (1883) -u USER -P PASSWORD
--client-id ID --qos 0|1|2 (1) --protocol 3.1.1|5 (3.1.1).

publish signs exactly as the lab's sender does, with python-ecdsa
(Debian's python3-ecdsa) and paho-mqtt 1.6 (python3-paho-mqtt):

    sk = SigningKey.from_pem(open(key).read())
    message = str(int(time.time())) + message
    sig = sk.sign(message.encode())          # python-ecdsa default: SHA-1, raw r||s
    out = message + ":" + base64.b64encode(sig).decode()

and publishes `out` on --topic (default user/meinuser/dsa-test), one
connection per run, --count messages --interval seconds apart (default 1.1 s,
so that the whole-second timestamps increase). The message text defaults to
the lab's "Testmessage_<0-99>". Every payload sent is appended to --history
(JSON lines: mode, timestamp, payload), which the attack modes read:

  --replay [N]   re-publish history entry N (1-based, default 1; negative counts
                 from the end) byte for byte: same timestamp, so the receiver's
                 rule (timestamp must increase) rejects it; the signature is valid.
  --tamper       sign the message, then change its last character (a digit is
                 incremented modulo 10, anything else becomes "X", an "X" "Y"):
                 fresh timestamp, invalid signature.
  --forge PEM    sign with another key (e.g. another secp256k1 key): invalid
                 signature for the receiver's public key.
  --stale        a valid signature over a timestamp one second lower than the
                 lowest timestamp in the history (now - 3600 without history):
                 the receiver's rule rejects it.
  --timestamp T  use T instead of the current time (valid signature).

publish prints one line per message on stdout: "<mode> <payload>".

listen is the lab's receiver: last = int(time.time()) at start; for each
message, a timestamp (first 10 characters) <= last is "replay" (the signature
is not even checked), otherwise the signature is verified
(VerifyingKey.from_pem, vk.verify(sig, cleartext)): "ok" (and last = the
timestamp) or "bad". It prints "ready: ..." on stderr once subscribed, then one
line per message on stdout: "<verdict> <topic> <timestamp> <message>", and
exits after --count messages or on SIGINT/SIGTERM.

verify reads tshark fields on stdin, one PUBLISH per line:
frame.number, tcp.srcport, mqtt.topic, mqtt.msg (hex), tab-separated
(`tshark -Y mqtt.msgtype==3 -T fields -e frame.number -e tcp.srcport -e
mqtt.topic -e mqtt.msg`), and prints for each: frame, direction (c2b: a client
to the broker, b2c: the broker to a subscriber, by --broker-port), topic,
signature verdict (ok | bad | malformed), timestamp verdict (fresh | replay:
not above the highest timestamp with a valid signature seen so far on that
topic in that direction), "dup" when a c2b payload repeats an earlier c2b
payload byte for byte ("-" otherwise), the form of a 64-byte signature
(high-s: s > n/2, as python-ecdsa produces about half the time, never
normalized; low-s), and the message.

Exit status: 0 on success, 1 on a runtime error, 2 on a usage error.
Run it with /usr/bin/python3 (python3-ecdsa, python3-paho-mqtt).
"""

import argparse
import base64
import json
import os
import random
import signal
import sys
import time

try:
    from ecdsa import BadSignatureError, SigningKey, VerifyingKey
    from mqttpeer import Fail, Peer, Stop
except ImportError as e:  # pragma: no cover
    sys.exit("signed_sender.py: %s (install python3-paho-mqtt and python3-ecdsa, "
             "and run this script with /usr/bin/python3)" % e)

DEFAULT_TOPIC = "user/meinuser/dsa-test"


# ---------------------------------------------------------------- the ECDSA lab

def load_signing_key(path):
    try:
        return SigningKey.from_pem(open(path).read())
    except (OSError, ValueError) as e:
        raise Fail("cannot read the private key %s: %s" % (path, e))


def load_verifying_key(path):
    try:
        return VerifyingKey.from_pem(open(path).read())
    except (OSError, ValueError) as e:
        raise Fail("cannot read the public key %s: %s" % (path, e))


def sign(sk, message, timestamp=None):
    """The lab's publish_signed, minus the publish: the payload as str."""
    message = str(int(time.time()) if timestamp is None else timestamp) + message
    signed_message = sk.sign(message.encode())
    return message + ":" + base64.b64encode(signed_message).decode()


def tamper(payload):
    """Change the last character of the signed message (not the signature)."""
    message, sig = payload.rsplit(":", 1)
    last = message[-1]
    if last.isdigit():
        new = str((int(last) + 1) % 10)
    else:
        new = "Y" if last == "X" else "X"
    return message[:-1] + new + ":" + sig


def read_history(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def append_history(path, mode, payload):
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"mode": mode, "timestamp": int(payload[:10]), "payload": payload}) + "\n")


def run_publish(args):
    history = read_history(args.history)
    sk = None
    jobs = []  # (mode, payload)
    if args.replay is not None:
        if not history:
            raise Fail("--replay needs an earlier payload in --history, and %s has none" % (args.history or "no file"))
        n = args.replay
        try:
            entry = history[n - 1] if n > 0 else history[n]
        except IndexError:
            raise Fail("--replay %d: %s holds %d payloads" % (n, args.history, len(history)))
        jobs.append(("replay", entry["payload"]))
    else:
        sk = load_signing_key(args.key)
        for i in range(args.count):
            jobs.append((None, None))
    peer = Peer(args, args.client_id)
    try:
        for i, (mode, payload) in enumerate(jobs):
            if i > 0:
                time.sleep(args.interval)
            if payload is None:
                message = args.message if args.message is not None else \
                    "Testmessage" + "_" + str(random.randrange(0, 100))
                ts = args.timestamp
                mode = "good"
                if args.stale:
                    stamps = [h["timestamp"] for h in history]
                    ts = min(stamps) - 1 if stamps else int(time.time()) - 3600
                    mode = "stale"
                if args.forge:
                    payload = sign(load_signing_key(args.forge), message, ts)
                    mode = "forged"
                else:
                    payload = sign(sk, message, ts)
                if args.tamper:
                    payload = tamper(payload)
                    mode = "tampered"
            peer.publish(args.topic, payload.encode(), args.qos)
            append_history(args.history, mode, payload)
            history = read_history(args.history) if args.history else history
            print(mode, payload, flush=True)
    finally:
        peer.close()
    return 0


def receive(vk, payload, last):
    """The lab's on_message: (verdict, timestamp, message, new last)."""
    try:
        ts = int(payload[0:10])
    except ValueError:
        return "malformed", None, payload, last
    if ts <= last:
        return "replay", ts, payload[10:].rsplit(b":", 1)[0], last
    try:
        cleartext, b64sig = payload.rsplit(b":", 1)
        signature = base64.b64decode(b64sig, validate=True)
    except ValueError:
        return "malformed", ts, payload, last
    try:
        vk.verify(signature, cleartext)
        return "ok", ts, cleartext[10:], ts
    except BadSignatureError:
        return "bad", ts, cleartext[10:], last


def run_listen(args):
    vk = load_verifying_key(args.public_key)
    last = int(time.time())

    def stop(signum, frame):
        raise Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    peer = Peer(args, args.client_id)
    seen = 0
    try:
        peer.subscribe(args.topic, args.qos)
        print("ready: subscribed to %s, last timestamp %d" % (args.topic, last), file=sys.stderr, flush=True)
        while args.count == 0 or seen < args.count:
            while not peer.msgs:
                if peer.closed:
                    raise Fail("connection to %s lost" % peer.addr)
                peer.c.loop(0.05)
            m = peer.msgs.pop(0)
            verdict, ts, text, last = receive(vk, m.payload, last)
            print(verdict, m.topic, ts, text.decode("utf-8", "replace"), flush=True)
            seen += 1
    except Stop:
        pass
    finally:
        # acknowledge what is still queued before leaving
        for _ in range(5):
            peer.c.loop(0.02)
        peer.close()
    return 0


def run_verify(args):
    vk = load_verifying_key(args.public_key)
    last = {}  # (direction, topic) -> highest timestamp with a valid signature
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
        try:
            ts = int(payload[0:10])
            cleartext, b64sig = payload.rsplit(b":", 1)
            sig = base64.b64decode(b64sig, validate=True)
        except ValueError:
            print(frame, direction, topic, "malformed", "-", "-", "-", payload.decode("utf-8", "replace"), sep="\t")
            continue
        try:
            vk.verify(sig, cleartext)
            verdict = "ok"
        except BadSignatureError:
            verdict = "bad"
        key = (direction, topic)
        fresh = "-"
        if verdict == "ok":
            fresh = "fresh" if ts > last.get(key, -1) else "replay"
            last[key] = max(ts, last.get(key, -1))
        dup = "-"
        if direction == "c2b":
            if payload in seen:
                dup = "dup"
            seen.add(payload)
        form = "-"
        if len(sig) == 64:
            form = "high-s" if int.from_bytes(sig[32:], "big") > vk.curve.order // 2 else "low-s"
        print(frame, direction, topic, verdict, fresh, dup, form, cleartext[10:].decode("utf-8", "replace"), sep="\t")
    return 0


# ---------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser(prog="signed_sender.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def mqtt_opts(sp, default_qos=1):
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=1883)
        sp.add_argument("-u", "--username")
        sp.add_argument("-P", "--password")
        sp.add_argument("--client-id")
        sp.add_argument("--qos", type=int, choices=[0, 1, 2], default=default_qos)
        sp.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")

    p = sub.add_parser("publish", help="sign and publish")
    mqtt_opts(p)
    p.add_argument("--key", help="the sender's private key (PEM, secp256k1)")
    p.add_argument("--topic", default=DEFAULT_TOPIC)
    p.add_argument("--message")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--interval", type=float, default=1.1)
    p.add_argument("--history")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--replay", type=int, nargs="?", const=1, metavar="N")
    g.add_argument("--tamper", action="store_true")
    g.add_argument("--forge", metavar="PEM")
    g.add_argument("--stale", action="store_true")
    g.add_argument("--timestamp", type=int)

    p = sub.add_parser("listen", help="the lab's receiver")
    mqtt_opts(p)
    p.add_argument("--public-key", required=True)
    p.add_argument("--topic", default="user/meinuser/#")
    p.add_argument("--count", type=int, default=0)

    p = sub.add_parser("verify", help="verify PUBLISH payloads given as tshark fields on stdin")
    p.add_argument("--public-key", required=True)
    p.add_argument("--broker-port", type=int, default=1883)

    args = ap.parse_args(argv)
    if args.cmd == "publish":
        if args.replay is None and not args.key:
            ap.error("publish needs --key (except with --replay)")
        if args.count < 1:
            ap.error("--count must be at least 1")
        if args.count > 1 and (args.replay is not None or args.stale or args.timestamp is not None):
            ap.error("--count > 1 goes with normal, --tamper or --forge messages only")
    try:
        if args.cmd == "publish":
            return run_publish(args)
        if args.cmd == "listen":
            return run_listen(args)
        return run_verify(args)
    except Fail as e:
        print("signed_sender.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
