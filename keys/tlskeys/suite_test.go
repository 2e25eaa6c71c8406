package tlskeys

import (
	"crypto"
	"crypto/tls"
	"strings"
	"testing"
)

func TestSuiteTable(t *testing.T) {
	if len(suites) != len(suiteNames) {
		t.Fatalf("%d suites from %d names: a code point twice", len(suites), len(suiteNames))
	}
	names := map[string]bool{}
	for _, e := range suiteNames {
		s, ok := SuiteByID(e.id)
		if !ok || s.ID != e.id || s.Name != e.name {
			t.Fatalf("0x%04x: %+v %v", e.id, s, ok)
		}
		if names[s.Name] {
			t.Errorf("%s twice", s.Name)
		}
		names[s.Name] = true
		if s.TLS13 != (e.id>>8 == 0x13) {
			t.Errorf("%s: TLS13 %v", s.Name, s.TLS13)
		}
		if s.CanDecrypt() {
			if s.keyLen != 16 && s.keyLen != 32 {
				t.Errorf("%s: key of %d bytes", s.Name, s.keyLen)
			}
			aead := s.tagLen > 0
			if aead == (s.cipher == cipherAESCBC) || !aead && s.mac.Size() == 0 {
				t.Errorf("%s: tag %d, MAC %v", s.Name, s.tagLen, s.mac)
			}
			if (s.prf == crypto.SHA384) != strings.HasSuffix(s.Name, "SHA384") {
				t.Errorf("%s: PRF %v", s.Name, s.prf)
			}
		}
	}
}

// TestSuitesOfGo compares the table with the suites crypto/tls knows.
func TestSuitesOfGo(t *testing.T) {
	for _, gs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		s, ok := SuiteByID(gs.ID)
		if !ok {
			t.Errorf("%s (0x%04x) unknown", gs.Name, gs.ID)
			continue
		}
		if s.Name != gs.Name {
			t.Errorf("0x%04x: %s, Go says %s", gs.ID, s.Name, gs.Name)
		}
		// Go calls its CBC-SHA256 suites insecure for its own
		// implementation (Lucky13), and keeps ECDHE CBC-SHA1 suites secure.
		if gs.Insecure && s.Weak == "" && !strings.Contains(s.Name, "CBC_SHA256") {
			t.Errorf("%s: Go insecure, Weak %q", s.Name, s.Weak)
		}
		rc4 := strings.Contains(s.Name, "RC4") || strings.Contains(s.Name, "3DES")
		if s.CanDecrypt() == rc4 {
			t.Errorf("%s: CanDecrypt %v", s.Name, s.CanDecrypt())
		}
	}
}

func TestSuiteProperties(t *testing.T) {
	cases := []struct {
		id         uint16
		name       string
		tls13, dec bool
		weak       string // a substring of Weak, "" for none
	}{
		{0x1301, "TLS_AES_128_GCM_SHA256", true, true, ""},
		{0x1302, "TLS_AES_256_GCM_SHA384", true, true, ""},
		{0x1303, "TLS_CHACHA20_POLY1305_SHA256", true, true, ""},
		{0x1304, "TLS_AES_128_CCM_SHA256", true, true, ""},
		{0x1305, "TLS_AES_128_CCM_8_SHA256", true, true, ""},
		{0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, true, ""},
		{0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false, true, ""},
		{0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", false, true, ""},
		{0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", false, true, "CBC with HMAC-SHA1"},
		{0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", false, true, "RSA key exchange (no forward secrecy)"},
		{0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", false, true, "CBC with HMAC-SHA1, RSA key exchange (no forward secrecy)"},
		{0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", false, true, "PSK key exchange"},
		{0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", false, true, ""},
		{0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false, true, ""},
		{0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", false, true, ""},
		{0x0005, "TLS_RSA_WITH_RC4_128_SHA", false, false, "RC4"},
		{0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", false, false, "3DES"},
		{0x0000, "TLS_NULL_WITH_NULL_NULL", false, false, "NULL cipher"},
		{0x0002, "TLS_RSA_WITH_NULL_SHA", false, false, "NULL cipher"},
		{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", false, false, "export-grade"},
		{0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", false, true, "anonymous key exchange"},
		{0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", false, true, "static (EC)DH"},
		{0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", false, false, "RSA key exchange"},
	}
	for _, c := range cases {
		s, ok := SuiteByID(c.id)
		if !ok || s.Name != c.name || s.TLS13 != c.tls13 || s.CanDecrypt() != c.dec ||
			(c.weak == "") != (s.Weak == "") || !strings.Contains(s.Weak, c.weak) {
			t.Errorf("0x%04x: %v %+v, want %s TLS13 %v decrypt %v weak %q", c.id, ok, s, c.name, c.tls13, c.dec, c.weak)
		}
	}
	for _, id := range []uint16{0x0A0A, 0x00FF, 0x5600, 0xFFFF, 0x1306} {
		if s, ok := SuiteByID(id); ok || s != nil || s.CanDecrypt() {
			t.Errorf("0x%04x: known", id)
		}
	}
}

func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{
		0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3",
		0x0200: "0x0200", 0x7f1c: "0x7f1c", 0xfefd: "0xfefd",
	} {
		if got := VersionName(v); got != want {
			t.Errorf("0x%04x: %q, want %q", v, got, want)
		}
	}
}
