// Package keys holds mqtap's key material and cryptography.
//
// # Key files
//
// Load reads PEM keys, keyring files (*.toml) and TLS key logs from the
// --keys paths into a Store, and Reload reads what changed since.
//
// # Cryptography
//
// Diffie-Hellman keys in the formats Python cryptography (OpenSSL)
// writes, the secure MQTT lab's HKDF derivations, Fernet tokens with a
// precise reason when one cannot be decrypted, and the per-topic payload
// schemes of keyring rules: HMAC (verified in constant time, before
// anything else), RSA-OAEP decryption and ECDSA signatures (secp256k1 as
// python-ecdsa makes them, or P-256).
//
// # TLS
//
// The key logs a Store reads are tlskeys key logs (Store.TLSKeyLog);
// package tlskeys removes the TLS record protection of captured MQTT over
// TLS with them.
//
// It imports no other mqtap package but keys/tlskeys.
package keys
