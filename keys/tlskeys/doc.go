// Package tlskeys removes the record protection of captured TLS
// connections with the secrets of a key log.
//
// # Key logs
//
// ParseKeyLog reads NSS key logs (SSLKEYLOGFILE, as browsers, curl,
// OpenSSL and Go's tls.Config.KeyLogWriter write them) into a KeyLog of
// Secrets by client random; KeyLog.Add reads the lines appended to a key
// log since it was last read.
//
// # Cipher suites
//
// SuiteByID describes the cipher suites of the IANA registry commonly
// seen: their names, whether mqtap decrypts them and why they are weak.
//
// # Records
//
// A Decrypter removes the protection of the records of one direction of a
// connection: TLS 1.0-1.2 (NewDecrypter12, from the master secret and the
// hellos' randoms) and TLS 1.3 (NewDecrypter13, from a traffic secret,
// with key updates), for AES-GCM, AES-CCM, ChaCha20-Poly1305 and AES-CBC
// with HMAC (MAC-then-encrypt and encrypt-then-MAC).
//
// It imports no other mqtap package.
package tlskeys
