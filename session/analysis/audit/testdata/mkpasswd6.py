#!/usr/bin/env python3
"""Writes passwd6, a mosquitto password_file with $6$ hashes made exactly as
mosquitto 1.6's mosquitto_passwd made them (src/password_mosq.c and
apps/mosquitto_passwd/mosquitto_passwd.c of 1.6.x):

    salt   = 12 random bytes (RAND_bytes(salt, SALT_LEN), SALT_LEN 12)
    digest = SHA-512(password || salt)   (EVP_DigestUpdate(password, strlen),
                                          then EVP_DigestUpdate(salt, 12))
    line   = "%s:$6$%s$%s\n" % (username, base64(salt), base64(digest))

The only change: the salt is derived from the username instead of drawn at
random, so that running this script again writes the same file. Run it from
this directory: python3 mkpasswd6.py. The passwords are listed in
../passwd_test.go.
"""
import base64
import hashlib

USERS = [
    ("carol", b"carol-1.6-pass"),
    ("dave", "p\u00e4ss:w\u00f6rd with spaces".encode("utf-8")),
    ("erin", b"x"),
]


def mosquitto16_hash(password: bytes, salt: bytes) -> str:
    digest = hashlib.sha512(password + salt).digest()
    return "$6$%s$%s" % (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


with open("passwd6", "w") as f:
    for user, password in USERS:
        salt = hashlib.sha256(b"mqtap passwd6 fixture " + user.encode()).digest()[:12]
        f.write("%s:%s\n" % (user, mosquitto16_hash(password, salt)))
