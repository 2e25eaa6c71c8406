package tlskeys

import (
	"crypto"
	"fmt"
	"strings"
)

// Suite describes a cipher suite of the IANA TLS registry. Suites
// returned by SuiteByID are shared and must not be modified.
type Suite struct {
	// ID is the suite's two-byte code point.
	ID uint16
	// Name is the IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	// or "TLS_AES_128_GCM_SHA256".
	Name string
	// TLS13 is set for the TLS 1.3 suites (RFC 8446 B.4), which name no
	// key exchange.
	TLS13 bool
	// Weak says why the suite is weak, as a short phrase ("" when it is
	// not): NULL, export-grade, RC4, DES, 3DES ciphers, anonymous or non
	// forward-secret key exchange, CBC with HMAC-SHA1 or HMAC-MD5.
	Weak string

	cipher bulkCipher
	keyLen int // encryption key bytes
	// fixedIV is the IV bytes of the key block (TLS 1.2: the GCM/CCM salt,
	// the ChaCha20 IV; TLS 1.0 CBC: the first IV) or of TLS 1.3's
	// HKDF-Expand-Label "iv".
	fixedIV   int
	recordIV  int // explicit nonce or IV carried in each record (TLS 1.1+)
	tagLen    int // AEAD tag bytes
	blockSize int // CBC block bytes
	mac       crypto.Hash
	prf       crypto.Hash // TLS 1.2 PRF, TLS 1.3 HKDF hash
}

// bulkCipher is the record protection of a suite.
type bulkCipher uint8

// The record protections; only the first four are decrypted.
const (
	cipherOther bulkCipher = iota // Camellia, ARIA, SEED, IDEA, RC2: not decrypted
	cipherAESGCM
	cipherChaCha20
	cipherAESCBC
	cipherAESCCM
	cipherNull
	cipherRC4
	cipherDES
	cipher3DES
)

// CanDecrypt reports whether mqtap decrypts records of the suite: in TLS
// 1.0-1.2 AES-128/256-GCM, ChaCha20-Poly1305, AES-128/256-CCM(_8) and
// AES-128/256-CBC with HMAC-SHA1, SHA256 or SHA384; in TLS 1.3 all five
// suites.
func (s *Suite) CanDecrypt() bool {
	if s == nil {
		return false
	}
	switch s.cipher {
	case cipherAESGCM, cipherChaCha20, cipherAESCCM:
		return true
	case cipherAESCBC:
		return !s.TLS13 && (s.mac == crypto.SHA1 || s.mac == crypto.SHA256 || s.mac == crypto.SHA384)
	}
	return false
}

// SuiteByID returns the suite with code point id. It knows the TLS 1.3
// suites and the TLS 1.2 and earlier suites commonly seen (RSA, DHE, ECDHE,
// static and anonymous (EC)DH, PSK with AES, ChaCha20, 3DES, RC4, NULL,
// export ciphers); ok is false for other code points (GREASE, signalling
// values, Camellia/ARIA suites not listed, private use).
func SuiteByID(id uint16) (*Suite, bool) {
	s, ok := suites[id]
	return s, ok
}

// VersionName names a protocol version: "SSL 3.0", "TLS 1.0" to
// "TLS 1.3", or "0x%04x" for others.
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// suites is the registry, built once from suiteNames and read only.
var suites = buildSuites()

// suiteNames lists the code points known, with their IANA names, from
// which every other property is derived (see parseSuite).
var suiteNames = []struct {
	id   uint16
	name string
}{
	// TLS 1.3 (RFC 8446).
	{0x1301, "TLS_AES_128_GCM_SHA256"},
	{0x1302, "TLS_AES_256_GCM_SHA384"},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
	{0x1304, "TLS_AES_128_CCM_SHA256"},
	{0x1305, "TLS_AES_128_CCM_8_SHA256"},

	// NULL, RSA key exchange (RFC 5246, 5288, 6655, 4346).
	{0x0000, "TLS_NULL_WITH_NULL_NULL"},
	{0x0001, "TLS_RSA_WITH_NULL_MD5"},
	{0x0002, "TLS_RSA_WITH_NULL_SHA"},
	{0x003B, "TLS_RSA_WITH_NULL_SHA256"},
	{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
	{0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
	{0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
	{0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
	{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
	{0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
	{0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
	{0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
	{0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
	{0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
	{0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
	{0xC09C, "TLS_RSA_WITH_AES_128_CCM"},
	{0xC09D, "TLS_RSA_WITH_AES_256_CCM"},
	{0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8"},
	{0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8"},

	// Static DH, DHE, anonymous DH.
	{0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"},
	{0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"},
	{0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"},
	{0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"},
	{0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},
	{0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
	{0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
	{0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
	{0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
	{0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
	{0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
	{0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
	{0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
	{0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
	{0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
	{0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"},
	{0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"},
	{0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"},
	{0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"},
	{0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"},
	{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
	{0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
	{0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
	{0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"},
	{0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"},
	{0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"},
	{0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"},
	{0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},

	// ECDH and ECDHE (RFC 8422, 5289, 7905, 7251).
	{0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"},
	{0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
	{0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"},
	{0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
	{0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"},
	{0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"},
	{0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
	{0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
	{0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"},
	{0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
	{0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
	{0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
	{0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"},
	{0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
	{0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"},
	{0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
	{0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"},
	{0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
	{0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"},
	{0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"},
	{0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"},
	{0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"},
	{0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
	{0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
	{0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
	{0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},

	// PSK (RFC 4279, 4785, 5487, 5489, 6655, 7905, 8442).
	{0x002C, "TLS_PSK_WITH_NULL_SHA"},
	{0x002D, "TLS_DHE_PSK_WITH_NULL_SHA"},
	{0x002E, "TLS_RSA_PSK_WITH_NULL_SHA"},
	{0x008A, "TLS_PSK_WITH_RC4_128_SHA"},
	{0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA"},
	{0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA"},
	{0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA"},
	{0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA"},
	{0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA"},
	{0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA"},
	{0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA"},
	{0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA"},
	{0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256"},
	{0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384"},
	{0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256"},
	{0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"},
	{0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256"},
	{0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384"},
	{0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256"},
	{0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384"},
	{0x00B0, "TLS_PSK_WITH_NULL_SHA256"},
	{0x00B1, "TLS_PSK_WITH_NULL_SHA384"},
	{0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256"},
	{0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384"},
	{0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256"},
	{0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384"},
	{0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256"},
	{0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384"},
	{0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256"},
	{0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384"},
	{0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA"},
	{0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA"},
	{0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"},
	{0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384"},
	{0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA"},
	{0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256"},
	{0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384"},
	{0xC0A4, "TLS_PSK_WITH_AES_128_CCM"},
	{0xC0A5, "TLS_PSK_WITH_AES_256_CCM"},
	{0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM"},
	{0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM"},
	{0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8"},
	{0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8"},
	{0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8"},
	{0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8"},
	{0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"},
	{0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384"},
	{0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256"},
	{0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"},
}

// buildSuites parses every name of suiteNames. A name it cannot
// parse is a programming error, caught by the tests.
func buildSuites() map[uint16]*Suite {
	m := make(map[uint16]*Suite, len(suiteNames))
	for _, e := range suiteNames {
		m[e.id] = parseSuite(e.id, e.name)
	}
	return m
}

// parseSuite derives a suite's properties from its IANA name:
// TLS_<key exchange>_WITH_<cipher>_<MAC> (TLS 1.2 and earlier; AEAD suites
// name their PRF hash in place of the MAC, CCM suites none), or
// TLS_<AEAD>_<hash> (TLS 1.3). Weak lists the weaknesses of the cipher,
// then of the MAC, then of the key exchange.
func parseSuite(id uint16, name string) *Suite {
	s := &Suite{ID: id, Name: name, prf: crypto.SHA256}
	kx, bulk, hashName := splitSuiteName(name)
	s.TLS13 = kx == ""
	if hashName == "SHA384" {
		s.prf = crypto.SHA384
	}
	weak := s.setCipher(name, bulk)
	weak = append(weak, s.setMAC(hashName)...)
	if w := keyExchangeWeakness(kx); w != "" {
		weak = append(weak, w)
	}
	s.Weak = strings.Join(weak, ", ")
	return s
}

// splitSuiteName splits a suite's IANA name into its key exchange (""
// for TLS 1.3 suites, which name none), its cipher and the name of its
// MAC or PRF hash ("SHA384", "SHA256", "SHA", "MD5", or "" for CCM
// suites).
func splitSuiteName(name string) (kx, bulk, hashName string) {
	rest := strings.TrimPrefix(name, "TLS_")
	kx, bulk, found := strings.Cut(rest, "_WITH_")
	if !found {
		kx, bulk = "", rest
	}
	for _, h := range []string{"_SHA384", "_SHA256", "_SHA", "_MD5"} {
		if strings.HasSuffix(bulk, h) {
			return kx, strings.TrimSuffix(bulk, h), h[1:]
		}
	}
	return kx, bulk, ""
}

// setCipher sets the record protection of the suite from its cipher (bulk,
// name for export suites) and returns the cipher's weaknesses.
func (s *Suite) setCipher(name, bulk string) []string {
	var weak []string
	switch {
	case bulk == "NULL" || bulk == "NULL_NULL":
		s.cipher = cipherNull
		weak = append(weak, "NULL cipher (no encryption)")
	case strings.Contains(name, "EXPORT"):
		s.cipher = cipherOther
		if strings.Contains(bulk, "RC4") {
			s.cipher = cipherRC4
		}
		weak = append(weak, "export-grade 40-bit cipher")
	case bulk == "AES_128_GCM" || bulk == "AES_256_GCM":
		s.cipher, s.tagLen = cipherAESGCM, 16
		s.fixedIV, s.recordIV = 4, 8
		if s.TLS13 {
			s.fixedIV, s.recordIV = 12, 0
		}
	case bulk == "CHACHA20_POLY1305":
		s.cipher, s.keyLen, s.tagLen, s.fixedIV = cipherChaCha20, 32, 16, 12
	case strings.HasPrefix(bulk, "AES_") && strings.Contains(bulk, "_CCM"):
		s.cipher, s.tagLen = cipherAESCCM, 16
		if strings.HasSuffix(bulk, "_CCM_8") {
			s.tagLen = 8
		}
		s.fixedIV, s.recordIV = 4, 8
		if s.TLS13 {
			s.fixedIV, s.recordIV = 12, 0
		}
	case bulk == "AES_128_CBC" || bulk == "AES_256_CBC":
		s.cipher, s.blockSize, s.recordIV = cipherAESCBC, 16, 16
	case strings.HasPrefix(bulk, "RC4"):
		s.cipher = cipherRC4
		weak = append(weak, "RC4 cipher (broken, RFC 7465)")
	case bulk == "3DES_EDE_CBC":
		s.cipher = cipher3DES
		weak = append(weak, "3DES cipher (64-bit blocks, Sweet32)")
	case bulk == "DES_CBC":
		s.cipher = cipherDES
		weak = append(weak, "single DES cipher (56-bit key)")
	case strings.HasPrefix(bulk, "IDEA"):
		weak = append(weak, "IDEA cipher (64-bit blocks)")
	}
	switch {
	case strings.Contains(bulk, "AES_128"):
		s.keyLen = 16
	case strings.Contains(bulk, "AES_256"):
		s.keyLen = 32
	}
	return weak
}

// setMAC sets the HMAC hash of a suite that is not AEAD (nor TLS 1.3)
// and returns its weakness.
func (s *Suite) setMAC(hashName string) []string {
	aead := s.cipher == cipherAESGCM || s.cipher == cipherChaCha20 || s.cipher == cipherAESCCM
	if aead || s.TLS13 {
		return nil
	}
	hashes := map[string]crypto.Hash{"SHA384": crypto.SHA384, "SHA256": crypto.SHA256, "SHA": crypto.SHA1, "MD5": crypto.MD5}
	s.mac = hashes[hashName]
	switch {
	case s.cipher == cipherNull || s.cipher == cipherRC4:
	case s.mac == crypto.SHA1:
		return []string{"CBC with HMAC-SHA1"}
	case s.mac == crypto.MD5:
		return []string{"HMAC-MD5"}
	}
	return nil
}

// keyExchangeWeakness says why a key exchange is weak ("" when it is
// not).
func keyExchangeWeakness(kx string) string {
	switch {
	case kx == "NULL":
		return "no key exchange"
	case strings.Contains(kx, "anon"):
		return "anonymous key exchange (no server authentication)"
	case kx == "RSA" || kx == "RSA_EXPORT" || kx == "RSA_PSK":
		return "RSA key exchange (no forward secrecy)"
	case kx == "PSK":
		return "PSK key exchange (no forward secrecy)"
	case strings.HasPrefix(kx, "DH_") || strings.HasPrefix(kx, "ECDH_"):
		return "static (EC)DH key exchange (no forward secrecy)"
	}
	return ""
}
