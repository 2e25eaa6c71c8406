// Checks of topic names and topic filters (wildcards, shared
// subscriptions).

package decode

import "bytes"

// topicName checks a topic name that is not a filter (will topic).
func (d *decoder) topicName(t []byte, off int, what string) {
	if bytes.IndexByte(t, '+') >= 0 || bytes.IndexByte(t, '#') >= 0 {
		d.violf(d.r("MQTT-4.7.1-1", "MQTT-4.7.0-1"), off, len(t), "%s contains a wildcard character", what)
	}
}

// topicFilter checks a topic filter and reports whether it is an MQTT 5
// shared subscription.
func (d *decoder) topicFilter(f []byte, off int) (shared bool) {
	if len(f) == 0 {
		d.viol("MQTT-4.7.3-1", "zero-length topic filter", off-2, 2)
		return false
	}
	if d.ver == V5 && bytes.HasPrefix(f, []byte("$share/")) {
		shared = true
		rest := f[len("$share/"):]
		i := bytes.IndexByte(rest, '/')
		switch {
		case i <= 0:
			d.viol("MQTT-4.8.2-1", "shared subscription without a ShareName followed by '/'", off, len(f))
			return shared
		case bytes.ContainsAny(rest[:i], "+#"):
			d.viol("MQTT-4.8.2-2", "ShareName contains '+' or '#'", off, len(f))
		case i == len(rest)-1:
			d.viol("MQTT-4.8.2-2", "shared subscription has no topic filter after the ShareName", off, len(f))
			return shared
		}
		f = rest[i+1:]
	}
	for lvl := range bytes.SplitSeq(f, []byte("/")) {
		if bytes.IndexByte(lvl, '#') >= 0 {
			if len(lvl) != 1 || &lvl[0] != &f[len(f)-1] {
				d.viol(d.r("MQTT-4.7.1-2", "MQTT-4.7.1-1"), "multi-level wildcard '#' is not alone in the last level of the topic filter", off, len(f))
				return shared
			}
		}
		if bytes.IndexByte(lvl, '+') >= 0 && len(lvl) != 1 {
			d.viol(d.r("MQTT-4.7.1-3", "MQTT-4.7.1-2"), "single-level wildcard '+' does not occupy an entire level of the topic filter", off, len(f))
			return shared
		}
	}
	return shared
}
