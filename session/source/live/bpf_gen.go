// Code generation: the classic BPF program of a lowered capture filter,
// with loads shared between tests and jumps resolved.

package live

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// regState is what the registers are known to hold at a point.
type regState struct {
	aKnown bool
	a      bload
	xKnown bool // X holds the IPv4 header length
}

func (s regState) merge(o regState) regState {
	if !s.aKnown || !o.aKnown || s.a != o.a {
		s.aKnown = false
	}
	s.xKnown = s.xKnown && o.xKnown
	return s
}

type pinsn struct {
	ins    bpf.Instruction // a non-jump
	jump   int             // 0: ins; 1: conditional; 2: ja
	cond   bpf.JumpTest
	val    uint32
	jt, jf int // labels
}

type labelInfo struct {
	pos   int // -1 until bound
	seen  bool
	state regState
}

type filterEmitter struct {
	ipOff  uint32
	prog   []pinsn
	labels []labelInfo
	cur    regState
	fall   bool // the current position is reached by falling through
}

func (e *filterEmitter) newLabel() int {
	e.labels = append(e.labels, labelInfo{pos: -1})
	return len(e.labels) - 1
}

func (e *filterEmitter) ref(label int) {
	li := &e.labels[label]
	if !li.seen {
		li.seen, li.state = true, e.cur
	} else {
		li.state = li.state.merge(e.cur)
	}
}

func (e *filterEmitter) bind(label int) {
	li := &e.labels[label]
	li.pos = len(e.prog)
	st, any := regState{}, false
	if e.fall {
		st, any = e.cur, true
	}
	if li.seen {
		if any {
			st = st.merge(li.state)
		} else {
			st = li.state
		}
	}
	e.cur = st
	e.fall = true
}

func (e *filterEmitter) emit(ins bpf.Instruction) {
	e.prog = append(e.prog, pinsn{ins: ins})
	e.fall = true
}

func (e *filterEmitter) load(ld bload) {
	if e.cur.aKnown && e.cur.a == ld {
		return
	}
	if unmasked := ld; ld.mask != 0 {
		unmasked.mask = 0
		if e.cur.aKnown && e.cur.a == unmasked {
			e.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ld.mask})
			e.cur.a = ld
			return
		}
	}
	if ld.ind {
		if !e.cur.xKnown {
			e.emit(bpf.LoadMemShift{Off: e.ipOff})
			e.cur.xKnown = true
		}
		e.emit(bpf.LoadIndirect{Off: ld.off, Size: int(ld.size)})
	} else {
		e.emit(bpf.LoadAbsolute{Off: ld.off, Size: int(ld.size)})
	}
	if ld.mask != 0 {
		e.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ld.mask})
	}
	e.cur.aKnown, e.cur.a = true, ld
}

func (e *filterEmitter) compile(b bexpr, t, f int) {
	switch b := b.(type) {
	case bAnd:
		mid := e.newLabel()
		e.compile(b.l, mid, f)
		e.bind(mid)
		e.compile(b.r, t, f)
	case bOr:
		mid := e.newLabel()
		e.compile(b.l, t, mid)
		e.bind(mid)
		e.compile(b.r, t, f)
	case bNot:
		e.compile(b.x, f, t)
	case bconst:
		target := f
		if b {
			target = t
		}
		e.ref(target)
		e.prog = append(e.prog, pinsn{jump: 2, jt: target})
		e.fall = false
	case bTest:
		e.load(b.ld)
		e.ref(t)
		e.ref(f)
		e.prog = append(e.prog, pinsn{jump: 1, cond: b.cond, val: b.val, jt: t, jf: f})
		e.fall = false
	default:
		panic(fmt.Sprintf("capture: unknown filter expression %T", b))
	}
}

// filterGen generates the program of b, which returns snaplen when b holds
// and 0 otherwise.
func filterGen(b bexpr, ipOff uint32, snaplen uint32) ([]bpf.RawInstruction, error) {
	var insns []bpf.Instruction
	switch b {
	case bconst(true):
		insns = []bpf.Instruction{bpf.RetConstant{Val: snaplen}}
	case bconst(false):
		insns = []bpf.Instruction{bpf.RetConstant{Val: 0}}
	default:
		e := &filterEmitter{ipOff: ipOff, fall: true}
		t, f := e.newLabel(), e.newLabel()
		e.compile(b, t, f)
		e.bind(t)
		e.emit(bpf.RetConstant{Val: snaplen})
		e.bind(f)
		e.emit(bpf.RetConstant{Val: 0})
		if len(e.prog) > filterMaxInstructions {
			return nil, fmt.Errorf("%w (%d instructions, the kernel takes %d)", errFilterTooLong, len(e.prog), filterMaxInstructions)
		}
		insns = make([]bpf.Instruction, len(e.prog))
		for i, pi := range e.prog {
			switch pi.jump {
			case 0:
				insns[i] = pi.ins
				continue
			case 2:
				skip := e.labels[pi.jt].pos - i - 1
				if e.labels[pi.jt].pos < 0 || skip < 0 {
					return nil, errors.New("capture filter: internal error: unresolved jump")
				}
				insns[i] = bpf.Jump{Skip: uint32(skip)}
				continue
			}
			jt, jf := e.labels[pi.jt].pos-i-1, e.labels[pi.jf].pos-i-1
			if e.labels[pi.jt].pos < 0 || e.labels[pi.jf].pos < 0 || jt < 0 || jf < 0 {
				return nil, errors.New("capture filter: internal error: unresolved jump")
			}
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("%w (a jump over more than 255 instructions)", errFilterTooLong)
			}
			insns[i] = bpf.JumpIf{Cond: pi.cond, Val: pi.val, SkipTrue: uint8(jt), SkipFalse: uint8(jf)}
		}
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("capture filter: %w", err)
	}
	return raw, nil
}
