#!/usr/bin/python3
"""Make the keys package's test fixtures, exactly as the lab's crypto.py does it.

Run once from this directory with Debian's python3-cryptography:

    cd keys/testdata && /usr/bin/python3 make-fixtures.py

It overwrites the fixture files and vectors.json. The lab group is a copy
of the lab's dhparam4096.pem, as embedded in cmd/mqtap/internal/labpeer (PKCS#3 {p, g=2}); the other
groups are made here with cryptography's generate_parameters (PKCS#3) and
from DSA parameters (X9.42 with q); one X9.42 group with validation
parameters comes from `openssl genpkey -genparam -algorithm DHX`.
"""
import base64
import json
import os
import shutil
import subprocess
import sys

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, dsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LAB_PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "../../cmd/mqtap/internal/labpeer/dhparam4096.pem")

PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
NOENC = serialization.NoEncryption()


def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def derive(shared, info):
    # crypto.py: HKDF(algorithm=SHA256(), length=32, salt=b"\x00", info=b"\x00")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00", info=info).derive(shared)


def save_key(priv, path):
    write(path + ".pem", priv.private_bytes(PEM, PKCS8, NOENC))
    write(path + ".pub.pem", priv.public_key().public_bytes(PEM, SPKI))


def exchange_case(name, params_file, params, a_path, b_path, a=None, b=None, plaintexts=()):
    """Alice and Bob exchange, derive both HKDF variants, encrypt with each."""
    a = a or params.generate_private_key()
    b = b or params.generate_private_key()
    save_key(a, a_path)
    save_key(b, b_path)
    b_pub = serialization.load_pem_public_key(priv_pub_bytes(b))
    shared = a.exchange(b_pub)
    assert shared == b.exchange(serialization.load_pem_public_key(priv_pub_bytes(a)))
    k00 = derive(shared, b"\x00")
    knone = derive(shared, None)
    tokens = []
    for variant, key in (("hkdf-sha256 salt=00 info=00", k00), ("hkdf-sha256 salt=00 info=none", knone)):
        f = Fernet(base64.b64encode(key))  # crypto.py hands Fernet the standard base64
        for pt in plaintexts:
            tok = f.encrypt(pt)
            tokens.append({"variant": variant, "plaintext": pt.decode(), "token": tok.decode(),
                           "time": f.extract_timestamp(tok)})
    return {
        "name": name,
        "params": params_file,
        "alice": a_path + ".pem",
        "alice_pub": a_path + ".pub.pem",
        "bob": b_path + ".pem",
        "bob_pub": b_path + ".pub.pem",
        "secret_hex": shared.hex(),
        "key_info00_hex": k00.hex(),
        "key_infonone_hex": knone.hex(),
        "key_info00_b64": base64.b64encode(k00).decode(),
        "tokens": tokens,
    }


def priv_pub_bytes(priv):
    return priv.public_key().public_bytes(PEM, SPKI)


def main():
    cases = []

    # The real lab group, as crypto.py loads it.
    shutil.copyfile(LAB_PARAMS, "lab/dhparam4096.pem")
    lab = serialization.load_pem_parameters(open("lab/dhparam4096.pem", "rb").read())
    cases.append(exchange_case("lab4096", "lab/dhparam4096.pem", lab, "lab/alice", "lab/bob",
                               plaintexts=[b"Networking is the best!", b"NETWORKING IS THE BEST!"]))

    # A 2048-bit PKCS#3 group made with generate_parameters.
    g2048 = dh.generate_parameters(generator=2, key_size=2048)
    write("g2048/params.pem", g2048.parameter_bytes(PEM, serialization.ParameterFormat.PKCS3))
    cases.append(exchange_case("g2048", "g2048/params.pem", g2048, "g2048/alice", "g2048/bob",
                               plaintexts=[b"hello", b"", b"x" * 100]))

    # A pair in the same group whose shared secret starts with a zero byte.
    for tries in range(1, 100000):
        a, b = g2048.generate_private_key(), g2048.generate_private_key()
        if a.exchange(b.public_key())[0] == 0:
            break
    print("leading-zero secret after", tries, "tries", file=sys.stderr)
    cases.append(exchange_case("g2048-zero", "g2048/params.pem", g2048, "g2048/zero-alice", "g2048/zero-bob",
                               a=a, b=b, plaintexts=[b"leading zero"]))

    # An X9.42 group with q (from DSA parameters), as dh.DHParameterNumbers(p, g, q).
    dp = dsa.generate_parameters(key_size=2048).parameter_numbers()
    x942 = dh.DHParameterNumbers(dp.p, dp.g, dp.q).parameters()
    write("x942/params.pem", x942.parameter_bytes(PEM, serialization.ParameterFormat.PKCS3))
    cases.append(exchange_case("x942", "x942/params.pem", x942, "x942/alice", "x942/bob",
                               plaintexts=[b"x9.42 group"]))

    # An X9.42 group as OpenSSL itself makes one: {p, g, q, validationParms
    # {seed, pgenCounter}}, which OpenSSL also writes into every key.
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DHX",
                    "-pkeyopt", "dh_paramgen_prime_len:2048", "-pkeyopt", "dh_paramgen_subprime_len:256",
                    "-out", "x942-openssl/params.pem"], check=True, stderr=subprocess.DEVNULL)
    dhx = serialization.load_pem_parameters(open("x942-openssl/params.pem", "rb").read())
    cases.append(exchange_case("x942-openssl", "x942-openssl/params.pem", dhx, "x942-openssl/alice",
                               "x942-openssl/bob", plaintexts=[b"openssl x9.42 group"]))

    # A weak 1024-bit group and one key in it.
    g1024 = dh.generate_parameters(generator=2, key_size=1024)
    write("weak1024/params.pem", g1024.parameter_bytes(PEM, serialization.ParameterFormat.PKCS3))
    cases.append(exchange_case("weak1024", "weak1024/params.pem", g1024, "weak1024/alice", "weak1024/bob",
                               plaintexts=[b"weak"]))

    # A passphrase-protected PKCS#8 key (passphrase "lab").
    enc = g2048.generate_private_key().private_bytes(
        PEM, PKCS8, serialization.BestAvailableEncryption(b"lab"))
    write("encrypted/encrypted.pem", enc)

    with open("vectors.json", "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
