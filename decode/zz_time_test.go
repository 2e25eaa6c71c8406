package decode

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZTime(t *testing.T) {
	files, _ := filepath.Glob("/root/.cache/go-build/fuzz/github.com/mqtap/mqtap/decode/FuzzDecode/*")
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		lines := strings.Split(string(b), "\n")
		q := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
		data, err := strconv.Unquote(q)
		if err != nil {
			t.Logf("%s: %v", fn, err)
			continue
		}
		start := time.Now()
		var c Conn
		var p Packet
		d := []byte(data)
		for i := 0; len(d) > 0; i++ {
			n := len(d)
			if h, err := ParseHeader(d); err == nil && h.Total() < n {
				n = h.Total()
			}
			c.Decode(d[:n], i%2 == 0, &p)
			checkInvariants(t, &p)
			Plausible(d[:n], 0, 1<<28)
			d = d[n:]
		}
		if el := time.Since(start); el > time.Millisecond {
			t.Logf("%s: %d bytes %v", filepath.Base(fn), len(data), el)
		}
	}
}
