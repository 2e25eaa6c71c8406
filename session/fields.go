package session

import (
	"strings"

	"github.com/mqtap/mqtap/decode"
)

// FieldSource says where the values of a record field come from, so that a
// reader (the display filter) can take them from the Record itself rather
// than from Head and Tail.
type FieldSource uint8

// Sources of record field values.
const (
	FromPacket       FieldSource = iota // the MQTT packet's fields of that name (Packet.Fields)
	FromHeadTail                        // the fields of that name in Head and Tail
	FromFrame                           // Frame
	FromFrameLen                        // FrameLen
	FromTime                            // Time
	FromRelative                        // Relative
	FromIPSrc                           // Src, when the record is IPv4
	FromIPDst                           // Dst, when the record is IPv4
	FromIPAddr                          // Src, then Dst, when the record is IPv4
	FromIPv6Src                         // Src, when the record is IPv6
	FromIPv6Dst                         // Dst, when the record is IPv6
	FromIPv6Addr                        // Src, then Dst, when the record is IPv6
	FromSrcPort                         // SrcPort
	FromDstPort                         // DstPort
	FromPort                            // SrcPort, then DstPort
	FromStream                          // Stream
	FromType                            // the name of Packet.Type
	FromMalformed                       // Packet.Malformed(), when not ""
	FromFindings                        // the Code of each of Findings
	FromMessage                         // Crypto.Message, when set
	FromText                            // RecordField.Text, when not ""
	FromPlaintext                       // Plaintext, when it is shown and UTF-8
	FromPlaintextHex                    // Plaintext, when it is shown and not UTF-8
	FromTokenTime                       // Crypto.TokenTime in whole seconds, when set
	FromMQTT                            // the mqtt protocol: Packet.Raw
	FromAlways                          // a protocol every record has: present
	FromIPv4                            // the ip protocol: present when the record is IPv4
	FromIPv6                            // the ipv6 protocol: present when the record is IPv6
	FromChain                           // another protocol: present when HasProtocol says so
	FromValueFormat                     // the format of the decoded value (Record.DecodedValue)
	FromValue                           // the decoded value's JSON text
	FromValuePath                       // the members of the decoded value at RecordField.Path (mqtap.value.<path>)
)

// RecordField declares a name a record answers to besides its MQTT packet's
// fields: one of the fields of Head and Tail, a protocol, or a display
// filter's name for several fields (ip.addr, ipv6.addr, tcp.port).
type RecordField struct {
	decode.FieldDef
	Source FieldSource
	// Text returns the value of a FromText field, "" when the record has
	// none.
	Text func(r *Record) string
	// Path is the dotted path of a FromValuePath field within the value.
	Path string
}

// field declares a record field.
func field(name string, typ decode.FieldType, bits uint8, title string, src FieldSource) *RecordField {
	return &RecordField{FieldDef: decode.FieldDef{Name: name, Type: typ, Bits: bits, Title: title}, Source: src}
}

// text declares a string field of the record whose value Text returns.
func text(name, title string, value func(r *Record) string) *RecordField {
	f := field(name, decode.TypeString, 0, title, FromText)
	f.Text = value
	return f
}

// The record's own fields, Wireshark's where it has them (frame, ip, ipv6,
// tcp, websocket), then mqtap's. Titles are those of mqtap's detail trees.
var (
	FieldFrameNumber    = field("frame.number", decode.TypeUint, 32, "Frame Number", FromFrame)
	FieldTimeEpoch      = field("frame.time_epoch", decode.TypeTime, 0, "Arrival Time", FromTime)
	FieldTimeRelative   = field("frame.time_relative", decode.TypeTime, 0, "Time since the first packet", FromRelative)
	FieldFrameLen       = field("frame.len", decode.TypeUint, 32, "Frame Length", FromFrameLen)
	FieldInterfaceID    = field("frame.interface_id", decode.TypeUint, 32, "Interface id", FromHeadTail)
	FieldInterfaceName  = field("frame.interface_name", decode.TypeString, 0, "Interface name", FromHeadTail)
	FieldProtocols      = field("frame.protocols", decode.TypeString, 0, "Protocols in frame", FromHeadTail)
	FieldIPSrc          = field("ip.src", decode.TypeIPv4, 0, "Source Address", FromIPSrc)
	FieldIPDst          = field("ip.dst", decode.TypeIPv4, 0, "Destination Address", FromIPDst)
	FieldIPv6Src        = field("ipv6.src", decode.TypeIPv6, 0, "Source Address", FromIPv6Src)
	FieldIPv6Dst        = field("ipv6.dst", decode.TypeIPv6, 0, "Destination Address", FromIPv6Dst)
	FieldSrcPort        = field("tcp.srcport", decode.TypeUint, 16, "Source Port", FromSrcPort)
	FieldDstPort        = field("tcp.dstport", decode.TypeUint, 16, "Destination Port", FromDstPort)
	FieldStream         = field("tcp.stream", decode.TypeUint, 32, "TCP stream", FromStream)
	FieldWSFin          = field("websocket.fin", decode.TypeBool, 1, "Fin", FromHeadTail)
	FieldWSOpcode       = field("websocket.opcode", decode.TypeUint, 8, "Opcode", FromHeadTail)
	FieldWSMask         = field("websocket.mask", decode.TypeBool, 1, "Mask", FromHeadTail)
	FieldWSPayloadLen   = field("websocket.payload_length", decode.TypeUint, 64, "Payload length", FromHeadTail)
	FieldPacketType     = field("mqtap.type", decode.TypeString, 0, "Packet type", FromType)
	FieldMalformed      = field("mqtap.malformed", decode.TypeString, 0, "Malformed", FromMalformed)
	FieldTruncated      = field("mqtap.truncated", decode.TypeBool, 1, "Truncated", FromHeadTail)
	FieldFindings       = field("mqtap.findings", decode.TypeString, 0, "Finding", FromFindings)
	FieldMessage        = field("mqtap.message", decode.TypeUint, 64, "Logical message", FromMessage)
	FieldSession        = text("mqtap.session", "Session", func(r *Record) string { return r.Crypto.Session })
	FieldScheme         = text("mqtap.scheme", "Scheme", (*Record).Scheme)
	FieldKex            = text("mqtap.kex", "Key exchange", func(r *Record) string { return r.Crypto.Kex })
	FieldVerify         = text("mqtap.verify", "Verification", func(r *Record) string { return r.Crypto.Verify })
	FieldDecrypt        = text("mqtap.decrypt", "Decryption", func(r *Record) string { return r.Crypto.Decrypt })
	FieldDecryptError   = text("mqtap.decrypt_error", "Reason", func(r *Record) string { return r.Crypto.Reason })
	FieldPlaintext      = field("mqtap.plaintext", decode.TypeString, 0, "Plaintext", FromPlaintext)
	FieldPlaintextHex   = field("mqtap.plaintext_hex", decode.TypeBytes, 0, "Plaintext (hex)", FromPlaintextHex)
	FieldKey            = text("mqtap.key", "Key", func(r *Record) string { return r.Crypto.Key })
	FieldKDF            = text("mqtap.kdf", "Derivation", func(r *Record) string { return r.Crypto.KDF })
	FieldTokenTime      = field("mqtap.token_time", decode.TypeTime, 0, "Fernet token time", FromTokenTime)
	FieldTLSVersion     = field("mqtap.tls_version", decode.TypeString, 0, "TLS version", FromHeadTail)
	FieldTLSCipherSuite = field("mqtap.tls_cipher", decode.TypeString, 0, "TLS cipher suite", FromHeadTail)

	FieldPayloadFormat     = field("mqtap.payload_format", decode.TypeString, 0, "Payload format", FromValueFormat)
	FieldValue             = field("mqtap.value", TypeJSON, 0, "Value", FromValue)
	FieldSparkplugSeq      = field("mqtap.sparkplug.seq", decode.TypeUint, 64, "Sequence number", FromHeadTail)
	FieldSparkplugName     = field("mqtap.sparkplug.metric.name", decode.TypeString, 0, "Metric name", FromHeadTail)
	FieldSparkplugAlias    = field("mqtap.sparkplug.metric.alias", decode.TypeUint, 64, "Metric alias", FromHeadTail)
	FieldSparkplugDatatype = field("mqtap.sparkplug.metric.datatype", decode.TypeString, 0, "Metric datatype", FromHeadTail)
	FieldSparkplugValue    = field("mqtap.sparkplug.metric.value", TypeJSON, 0, "Metric value", FromHeadTail)
	// Wireshark's Sparkplug B topic fields.
	FieldSparkplugNamespace = field("sparkplugb.namespace", decode.TypeString, 0, "Namespace", FromHeadTail)
	FieldSparkplugGroup     = field("sparkplugb.groupid", decode.TypeString, 0, "Group ID", FromHeadTail)
	FieldSparkplugType      = field("sparkplugb.messagetype", decode.TypeString, 0, "Message Type", FromHeadTail)
	FieldSparkplugEdge      = field("sparkplugb.edgenodeid", decode.TypeString, 0, "Edge Node ID", FromHeadTail)
	FieldSparkplugDevice    = field("sparkplugb.deviceid", decode.TypeString, 0, "Device ID", FromHeadTail)
)

// ValuePrefix starts the names of the members of a decoded value:
// mqtap.value.<dotted path>.
const ValuePrefix = "mqtap.value."

// valuePathField declares mqtap.value.<path>, a name no table holds.
func valuePathField(name string) *RecordField {
	path, ok := strings.CutPrefix(name, ValuePrefix)
	if !ok || path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
		return nil
	}
	f := field(name, TypeJSON, 0, path, FromValuePath)
	f.Path = path
	return f
}

// recordFields lists the fields of Head and Tail.
var recordFields = []*RecordField{
	FieldFrameNumber, FieldTimeEpoch, FieldTimeRelative, FieldFrameLen, FieldInterfaceID, FieldInterfaceName, FieldProtocols,
	FieldIPSrc, FieldIPDst, FieldIPv6Src, FieldIPv6Dst, FieldSrcPort, FieldDstPort, FieldStream,
	FieldWSFin, FieldWSOpcode, FieldWSMask, FieldWSPayloadLen,
	FieldPacketType, FieldMalformed, FieldTruncated, FieldFindings,
	FieldMessage, FieldSession, FieldScheme, FieldKex, FieldVerify, FieldDecrypt, FieldDecryptError,
	FieldPlaintext, FieldPlaintextHex, FieldKey, FieldKDF, FieldTokenTime,
	FieldTLSVersion, FieldTLSCipherSuite,
	FieldSparkplugNamespace, FieldSparkplugGroup, FieldSparkplugType, FieldSparkplugEdge, FieldSparkplugDevice,
	FieldPayloadFormat, FieldValue, FieldSparkplugSeq, FieldSparkplugName, FieldSparkplugAlias, FieldSparkplugDatatype, FieldSparkplugValue,
}

// Protocols a display filter can test for, and the filter's names for
// either of two fields.
var (
	ProtoFrame = field("frame", decode.TypeProtocol, 0, "Frame", FromAlways)
	ProtoIP    = field("ip", decode.TypeProtocol, 0, "Internet Protocol Version 4", FromIPv4)
	ProtoIPv6  = field("ipv6", decode.TypeProtocol, 0, "Internet Protocol Version 6", FromIPv6)
	ProtoTCP   = field("tcp", decode.TypeProtocol, 0, "Transmission Control Protocol", FromAlways)
	ProtoMQTT  = field("mqtt", decode.TypeProtocol, 0, "MQ Telemetry Transport Protocol", FromMQTT)
	ProtoMQTap = field("mqtap", decode.TypeProtocol, 0, "mqtap", FromAlways)

	FieldIPAddr   = field("ip.addr", decode.TypeIPv4, 0, "Source or Destination Address", FromIPAddr)
	FieldIPv6Addr = field("ipv6.addr", decode.TypeIPv6, 0, "Source or Destination Address", FromIPv6Addr)
	FieldPort     = field("tcp.port", decode.TypeUint, 16, "Source or Destination Port", FromPort)
)

// filterFields lists the names of display filters that no record carries
// as a field: protocols (those of frame.protocols follow, see allFields)
// and names for either of two fields.
var filterFields = []*RecordField{ProtoFrame, ProtoIP, ProtoIPv6, ProtoTCP, ProtoMQTT, ProtoMQTap, FieldIPAddr, FieldIPv6Addr, FieldPort}

// allFields holds recordFields, filterFields and a protocol field for each
// other protocol of frame.protocols (FromChain, untitled).
var allFields = func() []*RecordField {
	all := append(append([]*RecordField(nil), recordFields...), filterFields...)
	declared := map[string]bool{}
	for _, f := range all {
		declared[f.Name] = true
	}
	for _, name := range ProtocolNames() {
		if !declared[name] {
			all = append(all, field(name, decode.TypeProtocol, 0, "", FromChain))
		}
	}
	return all
}()

// fieldIndex finds a record field by name; recordIndex only those of Head
// and Tail.
var fieldIndex, recordIndex = func() (all, rec map[string]*RecordField) {
	all = make(map[string]*RecordField, len(allFields))
	for _, f := range allFields {
		all[f.Name] = f
	}
	rec = make(map[string]*RecordField, len(recordFields))
	for _, f := range recordFields {
		rec[f.Name] = f
	}
	return all, rec
}()

// RecordFields returns the names of the fields a Record adds around the
// MQTT packet's own (Head and Tail).
func RecordFields() []string {
	names := make([]string, len(recordFields))
	for i, f := range recordFields {
		names[i] = f.Name
	}
	return names
}

// Fields returns the declarations of every name a record answers to besides
// its MQTT packet's fields (whose declarations are decode.Fields): the
// fields of Head and Tail, then the protocols and the display filters'
// names for either of two fields. They must not be modified.
func Fields() []*RecordField { return allFields }

// LookupField returns the declaration of one of the names Fields declares,
// or of a member of the decoded value (mqtap.value.<path>, a new
// declaration each time), or nil.
func LookupField(name string) *RecordField {
	if f := fieldIndex[name]; f != nil {
		return f
	}
	return valuePathField(name)
}

// KnownField reports whether name is a field a record can carry: one of
// Head and Tail, a member of the decoded value (mqtap.value.<path>), or one
// the decoder produces (decode.KnownField).
func KnownField(name string) bool {
	return recordIndex[name] != nil || decode.KnownField(name) || valuePathField(name) != nil
}
