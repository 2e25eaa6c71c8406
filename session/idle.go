package session

// idleList holds the open connections in the order they were last active,
// least recently first, so that ending idle connections costs the number
// of connections ended, not the number open (a fleet capture holds hundreds
// of thousands). A connection is moved to the back each time it carries a
// segment; with capture times that go backwards the order is that of the
// segments, which only delays the end of a connection.
type idleList struct {
	front, back *conn
}

// touch moves c to the back of the list (adding it when it is not in it).
func (l *idleList) touch(c *conn) {
	if l.back == c {
		return
	}
	l.remove(c)
	c.older, c.listed = l.back, true
	if l.back != nil {
		l.back.newer = c
	} else {
		l.front = c
	}
	l.back = c
}

// remove takes c out of the list, if it is in it.
func (l *idleList) remove(c *conn) {
	if !c.listed {
		return
	}
	if c.older != nil {
		c.older.newer = c.newer
	} else {
		l.front = c.newer
	}
	if c.newer != nil {
		c.newer.older = c.older
	} else {
		l.back = c.older
	}
	c.older, c.newer, c.listed = nil, nil, false
}
