package output

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/source/file"
)

// TestMutatedSamples runs damaged copies of every sample (random bytes
// overwritten, cut at a random offset) through the whole read path: the
// file source, the pipeline, the analysis chain with the sample's keys and
// every output format. Nothing panics, and a capture that cannot be read
// on fails with a one-line error.
func TestMutatedSamples(t *testing.T) {
	samples, err := filepath.Glob("../../../pcaps/samples/*.pcap*")
	if err != nil || len(samples) < 20 {
		t.Fatalf("samples: %v (%d)", err, len(samples))
	}
	rng := rand.New(rand.NewPCG(17, 2026))
	dir := t.TempDir()
	runs, records := 0, 0
	for _, path := range samples {
		if strings.HasSuffix(path, ".gz") {
			continue // a damaged gzip stream ends at the first bad byte
		}
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		store := sampleKeys(t, path)
		for k := range 8 {
			b := append([]byte(nil), orig...)
			if k < 5 {
				for n := len(b) / 400; n >= 0; n-- {
					b[64+rng.IntN(len(b)-64)] = byte(rng.Uint32())
				}
			} else {
				b = b[:24+rng.IntN(len(b)-24)]
			}
			mutant := filepath.Join(dir, "mutant"+filepath.Ext(path))
			if err := os.WriteFile(mutant, b, 0o644); err != nil {
				t.Fatal(err)
			}
			chain, err := analysis.New(store)
			if err != nil {
				t.Fatal(err)
			}
			n, err := readAllFormats(mutant, chain)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("%s mutant %d: a multi-line error: %q", filepath.Base(path), k, err)
			}
			runs++
			records += n
		}
	}
	if runs < 150 || records == 0 {
		t.Errorf("%d damaged captures read, %d records: the test read almost nothing", runs, records)
	}
}

// readAllFormats reads a capture through the chain into a writer of every
// format and returns the records.
func readAllFormats(path string, chain *analysis.Chain) (int, error) {
	src, err := file.Open(path, file.Options{})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	var ws []*Writer
	for _, opts := range []Options{{}, {Verbose: true}, {Format: JSON}, {Format: NDJSON, Workers: 2},
		{Format: Fields, FieldNames: []string{"frame.number", "mqtt.topic", "mqtt.msg", "mqtap.plaintext", "mqtap.findings"}}} {
		w, err := New(io.Discard, opts)
		if err != nil {
			return 0, err
		}
		ws = append(ws, w)
	}
	n := 0
	p := session.New(chain.Options(session.Options{}), func(r *session.Record) error {
		chain.Observe(r)
		n++
		for _, w := range ws {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		return nil
	})
	err = src.Run(context.Background(), p)
	for _, w := range ws {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	return n, err
}
