package pcaps

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket"
)

// Secret is the content of one pcapng Decryption Secrets Block.
type Secret struct {
	Type uint32 // SecretsTLSKeyLog, or another registered secrets type
	Data []byte
}

// ReadSecrets returns the Decryption Secrets Blocks of the capture at path
// (gzip-compressed or not, "-" for standard input), in file order, for
// example the TLS key log an export embeds. A pcap file has none. When the
// file is truncated or has malformed blocks it returns the secrets it could
// read with an error that names the first problem.
func ReadSecrets(path string) ([]Secret, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Secret
	var problems []string
	r.SetHooks(Hooks{
		Secrets: func(s Secret) { out = append(out, s) },
		Warning: func(w string) { problems = append(problems, w) },
	})
	if err := r.Each(func([]byte, gopacket.CaptureInfo) error { return nil }); err != nil {
		return out, err
	}
	if r.Truncated() {
		return out, fmt.Errorf("%s: %w", r.Path, ErrTruncated)
	}
	switch len(problems) {
	case 0:
		return out, nil
	case 1:
		return out, errors.New(problems[0])
	}
	return out, fmt.Errorf("%s (and %d more problems)", problems[0], len(problems)-1)
}
