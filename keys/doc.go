// Package keys holds mqtap's key material and cryptography: loading PEM keys
// and keyring files (*.toml) from --keys paths, Diffie-Hellman keys in the
// formats Python cryptography (OpenSSL) writes, the secure MQTT lab's HKDF
// derivations, Fernet tokens with a precise reason when one cannot be
// decrypted, and the per-topic payload schemes of keyring rules: HMAC
// (verified in constant time, before anything else), RSA-OAEP decryption
// and ECDSA signatures (secp256k1 as python-ecdsa makes them, or P-256);
// and TLS: NSS key logs (SSLKEYLOGFILE), the cipher suite table, and the
// removal of TLS 1.0-1.3 record protection (AES-GCM, AES-CCM,
// ChaCha20-Poly1305, AES-CBC with HMAC, key updates) for captured MQTT over
// TLS.
//
// It imports no other mqtap package.
package keys
