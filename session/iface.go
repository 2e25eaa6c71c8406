package session

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

// Interface is a capture interface frames arrive on. A pcapng file
// declares one per Interface Description Block, each with its own link
// type; a pcap file and a live capture have one.
type Interface struct {
	Index int             // CaptureInfo.InterfaceIndex of its frames: unique in the capture
	ID    int             // frame.interface_id, as Wireshark numbers it (it restarts in each pcapng section)
	Name  string          // frame.interface_name ("unknown" for a described interface without a name, as in Wireshark)
	Link  layers.LinkType // link-layer header type of its frames
	// Described is set for interfaces the capture declares (pcapng), whose
	// records carry frame.interface_id and frame.interface_name as in
	// Wireshark; a pcap file's implicit interface is not described.
	Described bool

	name []byte // Name, for records
}

// iface is an interface with the decoder of its link type.
type iface struct {
	Interface
	dec *LayerDecoder // nil when the link type is not supported
}

// AddInterface declares the interface of index ifc.Index (replacing an
// earlier one with the same index, such as the implicit interface 0 of
// NewPipeline). It
// returns an error naming the interface and its link type when mqtap cannot
// decode its frames: they are then counted in Stats.Unsupported and
// skipped.
func (p *Pipeline) AddInterface(ifc Interface) error {
	if ifc.Index < 0 || ifc.Index > 1<<20 {
		return fmt.Errorf("interface index %d is out of range", ifc.Index)
	}
	for len(p.ifaces) <= ifc.Index {
		p.ifaces = append(p.ifaces, nil)
	}
	if ifc.Described && ifc.Name == "" {
		ifc.Name = "unknown" // what Wireshark names an interface whose description has no name
	}
	ifc.name = []byte(ifc.Name)
	f := &iface{Interface: ifc}
	p.ifaces[ifc.Index] = f
	for _, o := range p.ifaces {
		if o != nil && o != f && o.Link == ifc.Link && o.dec != nil {
			f.dec = o.dec // one decoder per link type: frames are decoded one at a time
			return nil
		}
	}
	dec, err := NewLayerDecoder(ifc.Link)
	if err != nil {
		if ifc.Described {
			return fmt.Errorf("interface %d%s: %w; its frames are skipped", ifc.ID, nameSuffix(ifc.Name), err)
		}
		return err
	}
	f.dec = dec
	return nil
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

// decoder returns the layer decoder of the interface of index id, or nil (counting the
// frame in Stats.Unsupported) when mqtap cannot decode its frames.
func (p *Pipeline) decoder(id int) *LayerDecoder {
	if id >= 0 && id < len(p.ifaces) && p.ifaces[id] != nil && p.ifaces[id].dec != nil {
		return p.ifaces[id].dec
	}
	p.stats.Unsupported++
	return nil
}

// iface returns the interface of index id for a record: nil unless the
// capture described it.
func (p *Pipeline) iface(id int) *Interface {
	if id >= 0 && id < len(p.ifaces) && p.ifaces[id] != nil && p.ifaces[id].Described {
		return &p.ifaces[id].Interface
	}
	return nil
}
