package tlswire

import (
	"errors"
	"fmt"
	"strconv"
)

// cursor reads big-endian fields and length-prefixed vectors off a byte
// slice. The first failure sticks: later reads return zero values, so a
// parser reads a run of fields and checks err once. Its errors name the
// message (msg), the extension being read (ext, when hasExt), the item of a
// list being read (itemName and item, when itemName is set) and the field.
// The names are only formatted on failure, so a successful parse does not
// allocate for them.
type cursor struct {
	b        []byte
	msg      string
	ext      uint16
	hasExt   bool
	itemName string
	item     int
	err      error
}

// prefix formats the context of an error: "ClientHello: server_name
// extension: entry 2: ".
func (c *cursor) prefix() string {
	p := c.msg + ": "
	if c.hasExt {
		p += extName(c.ext) + " extension: "
	}
	if c.itemName != "" {
		p += c.itemName + " " + strconv.Itoa(c.item) + ": "
	}
	return p
}

// fail records the first error, prefixed with the context.
func (c *cursor) fail(format string, args ...any) {
	if c.err != nil {
		return
	}
	c.err = errors.New(c.prefix() + fmt.Sprintf(format, args...))
	c.b = nil
}

// need reports whether n more bytes are left for field, failing if not.
func (c *cursor) need(n int, field string) bool {
	if c.err != nil {
		return false
	}
	if len(c.b) < n {
		if len(c.b) == 0 {
			c.fail("message ends before %s", field)
		} else {
			c.fail("%s needs %d bytes, only %d left", field, n, len(c.b))
		}
		return false
	}
	return true
}

func (c *cursor) u8(field string) byte {
	if !c.need(1, field) {
		return 0
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v
}

func (c *cursor) u16(field string) uint16 {
	if !c.need(2, field) {
		return 0
	}
	v := uint16(c.b[0])<<8 | uint16(c.b[1])
	c.b = c.b[2:]
	return v
}

// fixed returns the next n bytes, uncopied.
func (c *cursor) fixed(n int, field string) []byte {
	if !c.need(n, field) {
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

// vec reads a vector whose length prefix is prefixLen (1, 2 or 3) bytes,
// checking the length against the bounds min and max of its definition and
// against the bytes left. It returns the vector's contents, uncopied.
func (c *cursor) vec(prefixLen, min, max int, field string) []byte {
	if c.err != nil {
		return nil
	}
	if len(c.b) < prefixLen {
		if len(c.b) == 0 {
			c.fail("message ends before %s length", field)
		} else {
			c.fail("%s length needs %d bytes, only %d left", field, prefixLen, len(c.b))
		}
		return nil
	}
	n := 0
	for _, x := range c.b[:prefixLen] {
		n = n<<8 | int(x)
	}
	c.b = c.b[prefixLen:]
	if n < min || n > max {
		c.fail("%s length %d is outside %d..%d", field, n, min, max)
		return nil
	}
	if n > len(c.b) {
		c.fail("%s length %d exceeds the message (%d bytes left)", field, n, len(c.b))
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

// end fails when bytes are left over after the last field.
func (c *cursor) end(after string) {
	if c.err == nil && len(c.b) != 0 {
		c.fail("%d bytes left over after %s", len(c.b), after)
	}
}

// inExt returns a cursor over the data of extension typ, for errors that
// name the extension.
func (c *cursor) inExt(data []byte, typ uint16) cursor {
	return cursor{b: data, msg: c.msg, ext: typ, hasExt: true}
}

// inItem returns a cursor over v, item number i (from 1) of a list of
// itemName, keeping c's message and extension for errors.
func (c *cursor) inItem(v []byte, itemName string, i int) cursor {
	return cursor{b: v, msg: c.msg, ext: c.ext, hasExt: c.hasExt, itemName: itemName, item: i}
}

// take moves the first error of a sub-cursor into c.
func (c *cursor) take(sub *cursor) {
	if sub.err != nil && c.err == nil {
		c.err = sub.err
		c.b = nil
	}
}
