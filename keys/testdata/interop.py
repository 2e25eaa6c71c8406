#!/usr/bin/python3
"""Interop checks for keys/interop_test.go, run with Debian's python3-cryptography.

Reads one JSON request on stdin, writes one JSON answer on stdout:
  go_keys:  [{priv, pub}]      Go-written PKCS#8 / SubjectPublicKeyInfo PEM.
            Python loads both, re-serializes them (must be byte-identical),
            checks y = g^x mod p, makes its own key in the same group and
            computes the exchange from both sides.
  params:   [pem]              Python loads the parameters and makes a key,
            as crypto.py does (load_pem_parameters, generate_private_key).
  tokens:   [{key_b64, token}] Fernet(key_b64).decrypt(token), no TTL.
"""
import base64
import json
import sys

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization

PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
NOENC = serialization.NoEncryption()


def go_key(k):
    priv = serialization.load_pem_private_key(k["priv"].encode(), password=None)
    pub = serialization.load_pem_public_key(k["pub"].encode())
    peer = priv.parameters().generate_private_key()
    peer_pub_pem = peer.public_key().public_bytes(PEM, SPKI)
    return {
        "priv_same": priv.private_bytes(PEM, PKCS8, NOENC).decode() == k["priv"],
        "pub_same": pub.public_bytes(PEM, SPKI).decode() == k["pub"],
        "y_match": priv.public_key().public_numbers().y == pub.public_numbers().y,
        "peer_priv": peer.private_bytes(PEM, PKCS8, NOENC).decode(),
        "peer_pub": peer_pub_pem.decode(),
        # Python's peer with the Go public key, and the Go key with Python's peer.
        "secret_peer": peer.exchange(pub).hex(),
        "secret_go_key": priv.exchange(serialization.load_pem_public_key(peer_pub_pem)).hex(),
    }


def params(pem):
    p = serialization.load_pem_parameters(pem.encode())
    priv = p.generate_private_key()
    return {
        "priv": priv.private_bytes(PEM, PKCS8, NOENC).decode(),
        "pub": priv.public_key().public_bytes(PEM, SPKI).decode(),
    }


def token(t):
    try:
        pt = Fernet(t["key_b64"].encode()).decrypt(t["token"].encode())
    except InvalidToken:
        return {"ok": False}
    return {"ok": True, "plaintext_b64": base64.b64encode(pt).decode()}


def main():
    req = json.load(sys.stdin)
    json.dump({
        "go_keys": [go_key(k) for k in req.get("go_keys") or []],
        "params": [params(p) for p in req.get("params") or []],
        "tokens": [token(t) for t in req.get("tokens") or []],
    }, sys.stdout)


if __name__ == "__main__":
    main()
