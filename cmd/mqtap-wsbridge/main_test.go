package main

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/session/brokertest"
)

func TestParse(t *testing.T) {
	f, err := parse([]string{"--broker", "127.0.0.1:1883", "--split", "connack,PUBLISH", "--cuts", "1, 2", "--ping", "--join",
		"--compression", "no-context-takeover", "--subprotocols", "chat"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := brokertest.Framing{SplitTypes: []byte{2, 3}, Cuts: []int{1, 2}, Ping: true, Join: true}
	if !reflect.DeepEqual(f.opts.Framing, want) || f.opts.Compression != brokertest.CompressionNoContextTakeover ||
		!reflect.DeepEqual(f.opts.Subprotocols, []string{"chat"}) || f.listen != "127.0.0.1:8080" || f.opts.Path != "/mqtt" {
		t.Errorf("options %+v", f.opts)
	}
	if f, err := parse([]string{"--broker", "b:1", "--subprotocols", ""}, io.Discard); err != nil || f.opts.Subprotocols == nil || len(f.opts.Subprotocols) != 0 {
		t.Errorf("--subprotocols '': %+v, %v (want an empty, non-nil list)", f, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--broker HOST:PORT is required"},
		{[]string{"--broker", "b:1", "--split", "PUBLISHED"}, `unknown MQTT packet type "PUBLISHED"`},
		{[]string{"--broker", "b:1", "--cuts", "0"}, "not a fragment size"},
		{[]string{"--broker", "b:1", "--compression", "gzip"}, "unknown compression"},
		{[]string{"--broker", "b:1", "--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"--broker", "b:1", "--keylog", "k"}, "--keylog needs them"},
		{[]string{"--broker", "b:1", "extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "flag provided but not defined"},
	} {
		if _, err := parse(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
