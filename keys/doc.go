// Package keys holds mqtap's key material and cryptography: loading PEM keys
// from --keys paths, Diffie-Hellman keys in the formats Python cryptography
// (OpenSSL) writes, the secure MQTT lab's HKDF derivations, and Fernet
// tokens with a precise reason when one cannot be decrypted.
//
// It imports no other mqtap package.
package keys
