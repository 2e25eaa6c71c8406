package session

import "testing"

func TestFramesText(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{
		{nil, "no frame"},
		{[]int{3}, "frame 3"},
		{[]int{3, 4}, "frames 3 and 4"},
		{[]int{3, 4, 7}, "frames 3, 4 and 7"},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8}, "frames 1, 2, 3, 4, 5, 6, 7 and 8"},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 40}, "frames 1, 2, 3, 4, 5, 6, … and 40 (10 frames)"},
	} {
		if got := framesText(c.in); got != c.want {
			t.Errorf("framesText(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
