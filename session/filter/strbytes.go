package filter

import "unsafe"

// stringBytes returns the bytes of s without copying them. The result must
// never be written to: the evaluator only reads it (comparisons, searches,
// regular expressions), which is what lets Match run without allocating on
// the string fields a Record holds as Go strings.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
