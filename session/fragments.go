package session

// maxNesting bounds the IP layers reassembled one inside the other (a
// fragmented tunnel carrying fragments).
const maxNesting = 4

// fragment takes an IP fragment dec found in the current frame: when it
// completes its datagram, the datagram's payload is decoded on (its TCP
// segment, or a tunnel's inner packet, itself perhaps a fragment), and the
// segment belongs to this frame, as in Wireshark.
func (p *Pipeline) fragment(dec *LayerDecoder, seg Segment) {
	if p.defrag == nil {
		p.defrag = NewDefragmenter(DefragOptions{})
	}
	for range maxNesting {
		p.stats.Fragments++
		dg, ok := p.defrag.Add(Fragment{IPFragment: seg.Frag, Src: seg.Src, Dst: seg.Dst, Frame: p.stats.Frames, Time: p.now})
		p.fragmentProblems()
		if !ok {
			return
		}
		p.stats.Datagrams++
		seg = dec.DecodePayload(dg.V6, dg.Src, dg.Dst, dg.Proto, dg.Payload)
		switch {
		case seg.TCP:
			tcp := dec.Header()
			p.tcpSegment(seg, &tcp)
			return
		case !seg.Fragment:
			return
		}
	}
}

// fragmentProblems hands what the reassembler found wrong (overlapping
// fragments with different data, malformed or incomplete datagrams) to
// Options.OnFinding: no record carries them.
func (p *Pipeline) fragmentProblems() {
	for _, pr := range p.defrag.Problems() {
		if p.opts.OnFinding == nil {
			continue
		}
		frame := p.stats.Frames
		if n := len(pr.Frames); n > 0 {
			frame = pr.Frames[n-1]
		}
		p.opts.OnFinding(pr.Finding, frame)
	}
}
