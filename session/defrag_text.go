package session

import (
	"fmt"
	"strconv"
	"strings"
)

// maxFramesListed is how many frames a fragment problem's text lists
// before it shortens the list.
const maxFramesListed = 8

// framesText names frames (ascending, each once) in a sentence: "frame 3",
// "frames 3 and 4", "frames 3, 4 and 7"; a long list shows its first and
// last frames and its length.
func framesText(frames []int) string {
	switch len(frames) {
	case 0:
		return "no frame"
	case 1:
		return "frame " + strconv.Itoa(frames[0])
	}
	var b strings.Builder
	b.WriteString("frames ")
	short := len(frames) > maxFramesListed
	list := frames
	if short {
		list = frames[:maxFramesListed-2]
	}
	for i, f := range list[:len(list)-1] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(f))
	}
	if short {
		fmt.Fprintf(&b, ", %d, … and %d (%d frames)", list[len(list)-1], frames[len(frames)-1], len(frames))
		return b.String()
	}
	fmt.Fprintf(&b, " and %d", list[len(list)-1])
	return b.String()
}

// framesWithout returns frames less f.
func framesWithout(frames []int, f int) []int {
	out := make([]int, 0, len(frames))
	for _, x := range frames {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}
