package pcaps

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Secret is the content of one pcapng Decryption Secrets Block.
type Secret struct {
	Type uint32 // SecretsTLSKeyLog, or another registered secrets type
	Data []byte
}

// pcapng block types and the byte-order magic.
const (
	blockSHB              = 0x0a0d0d0a
	blockDSB              = 0x0000000a
	byteOrderMagic uint32 = 0x1a2b3c4d
	maxBlock              = 256 << 20 // larger blocks are taken for a corrupt file
)

// ReadSecrets returns the Decryption Secrets Blocks of the pcapng file at
// path (gzip-compressed or not), in file order, for example the TLS key log
// an export embeds. A pcap file has none. Packet data is skipped, not kept.
func ReadSecrets(path string) ([]Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: broken gzip stream: %v", path, err)
		}
		defer gz.Close()
		in = bufio.NewReaderSize(gz, 1<<16)
	}
	var out []Secret
	var order binary.ByteOrder = binary.LittleEndian
	var head [12]byte
	for first := true; ; first = false {
		if _, err := io.ReadFull(in, head[:8]); err != nil {
			if errors.Is(err, io.EOF) && !first {
				return out, nil
			}
			if first {
				return nil, fmt.Errorf("%s: not a pcapng file", path)
			}
			return out, fmt.Errorf("%s: truncated pcapng block header", path)
		}
		typ := binary.LittleEndian.Uint32(head[:4])
		if first && typ != blockSHB {
			return nil, nil // pcap: no secrets blocks
		}
		if typ == blockSHB {
			if _, err := io.ReadFull(in, head[8:12]); err != nil {
				return out, fmt.Errorf("%s: truncated section header", path)
			}
			switch byteOrderMagic {
			case binary.LittleEndian.Uint32(head[8:12]):
				order = binary.LittleEndian
			case binary.BigEndian.Uint32(head[8:12]):
				order = binary.BigEndian
			default:
				return out, fmt.Errorf("%s: section header with an unknown byte-order magic", path)
			}
		}
		typ = order.Uint32(head[:4])
		length := order.Uint32(head[4:8])
		read := uint32(8)
		if typ == blockSHB {
			read = 12
		}
		if length < read+4 || length > maxBlock || length%4 != 0 {
			return out, fmt.Errorf("%s: pcapng block of type %#x with an invalid length %d", path, typ, length)
		}
		if typ != blockDSB {
			if _, err := io.CopyN(io.Discard, in, int64(length-read)); err != nil {
				return out, fmt.Errorf("%s: truncated pcapng block", path)
			}
			continue
		}
		body := make([]byte, length-read)
		if _, err := io.ReadFull(in, body); err != nil {
			return out, fmt.Errorf("%s: truncated decryption secrets block", path)
		}
		if len(body) < 12 {
			return out, fmt.Errorf("%s: decryption secrets block too short", path)
		}
		n := order.Uint32(body[4:8])
		if uint64(n) > uint64(len(body)-12) {
			return out, fmt.Errorf("%s: decryption secrets block says %d bytes of secrets but holds %d", path, n, len(body)-12)
		}
		out = append(out, Secret{Type: order.Uint32(body[:4]), Data: body[8 : 8+n]})
	}
}
