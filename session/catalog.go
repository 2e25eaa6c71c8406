package session

// This file is the finding catalog: every finding code mqtap raises,
// declared once with its stable name, severity, title and advice.

// Finding codes, in the order of the catalog. The zero FindingCode is no
// code.
const (
	KexMITM FindingCode = iota + 1
	KexUnanswered
	KexUnsolicited
	KexKeyReuse
	KexWeakGroup
	KexInvalidPublicKey
	PayloadNotEncrypted
	PayloadReplay
	SigBad
	SigReplay
	HMACBad
	AuthCleartextCredentials
	AuthAnonymousSubscription
	ACLViolation
	TLSUntrustedCertificate
	TLSAcceptedUntrustedCertificate
	TLSWeakProtocol
	TLSDecryptFailed
	MQTTMalformed
	MQTTProtocolViolation
	MQTTResync
	TCPGap
	WebSocketMalformed
	WebSocketNotMQTT
	WebSocketNoSubprotocol
	IPFragmentOverlap
	IPFragmentMalformed
	IPFragmentIncomplete
	QoSUnacknowledged
	LabQoS
	LimitReached
	PayloadMalformed
	SparkplugSeqGap
)

// findingKind is a code's entry in the catalog.
type findingKind struct {
	name     string // stable: never rename one (DESIGN.md)
	severity Severity
	title    string
	advice   string // one sentence
}

// catalog describes every finding code mqtap raises.
var catalog = [...]findingKind{
	KexMITM:                         {"kex.mitm", SevHigh, "Key exchange answered by more than one key", "Authenticate the key exchange (sign the public keys, or pin the responder's key) so that another client of the broker cannot answer it."},
	KexUnanswered:                   {"kex.unanswered", SevLow, "Key exchange never answered", "Check that a responder is subscribed to the request topic and reachable on the same broker."},
	KexUnsolicited:                  {"kex.unsolicited", SevLow, "Key-exchange response without a request", "A response nobody asked for may be an attempt to plant a key; clients should ignore responses to requests they did not send."},
	KexKeyReuse:                     {"kex.key-reuse", SevMedium, "Diffie-Hellman key reused", "Generate a fresh private key for every exchange, so that one leaked key does not open other sessions."},
	KexWeakGroup:                    {"kex.weak-group", SevHigh, "Weak Diffie-Hellman group", "Use a group of at least 2048 bits with a safe prime, such as the lab's dhparam4096.pem or RFC 3526/7919 groups."},
	KexInvalidPublicKey:             {"kex.invalid-public-key", SevHigh, "Invalid Diffie-Hellman public key", "Validate peer public values (1 < y < p-1, y^q = 1 when q is known) before computing the shared secret."},
	PayloadNotEncrypted:             {"payload.not-encrypted", SevHigh, "Payload in clear text where ciphertext is expected", "Encrypt every action message with the session key; a clear-text request reveals what the exchange should protect."},
	PayloadReplay:                   {"payload.replay", SevHigh, "Protected payload sent again", "Receivers should reject messages seen before: include a timestamp or counter under the MAC or signature and track it."},
	SigBad:                          {"sig.bad", SevHigh, "Signature does not verify", "Drop the message: it was altered in transit or signed by a key other than the sender's."},
	SigReplay:                       {"sig.replay", SevHigh, "Signed message with a stale timestamp", "Reject signed messages whose timestamp is not newer than the last accepted one from that sender."},
	HMACBad:                         {"hmac.bad", SevHigh, "HMAC does not verify", "Drop the message before decrypting it: it was altered or not sent by the holder of the client's key."},
	AuthCleartextCredentials:        {"auth.cleartext-credentials", SevHigh, "Credentials sent in clear text", "Use MQTT over TLS (port 8883) so that usernames and passwords cannot be read off the network, and change passwords that were exposed."},
	AuthAnonymousSubscription:       {"auth.anonymous-subscription", SevMedium, "Anonymous client subscribed to everything", "Disable anonymous access (allow_anonymous false) or restrict anonymous clients in the ACL, so that nobody can read all topics or $SYS without credentials."},
	ACLViolation:                    {"acl.violation", SevHigh, "Broker carried traffic its ACL forbids", "Make the broker enforce the ACL you audit (acl_file in mosquitto.conf, reload it) and check which listener the clients use."},
	TLSUntrustedCertificate:         {"tls.untrusted-certificate", SevHigh, "Untrusted server certificate", "Give the broker a certificate from a CA the clients trust, matching the host name they connect to."},
	TLSAcceptedUntrustedCertificate: {"tls.accepted-untrusted-certificate", SevHigh, "Client accepted an untrusted certificate", "Make the client verify the broker's certificate (no --insecure, MBEDTLS_SSL_VERIFY_REQUIRED)."},
	TLSWeakProtocol:                 {"tls.weak-protocol", SevMedium, "Weak TLS version or cipher suite", "Allow only TLS 1.2 and 1.3 with AEAD suites and forward secrecy on the broker (tls_version, ciphers in mosquitto.conf)."},
	TLSDecryptFailed:                {"tls.decrypt-failed", SevLow, "TLS connection could not be decrypted", "Check that the key log is the one the client wrote for this capture and that no segment is missing."},
	MQTTMalformed:                   {"mqtt.malformed", SevMedium, "Malformed MQTT packet", "A peer sent bytes that are not valid MQTT: fix the client or library, or look for an attack on the broker's parser."},
	MQTTProtocolViolation:           {"mqtt.protocol-violation", SevLow, "MQTT protocol violation", "The packet breaks a rule of the MQTT specification; fix the client or library that sent it."},
	MQTTResync:                      {"mqtt.resync", SevInfo, "Bytes skipped to find a packet boundary", "The capture started inside a connection or lost data; capture from the connection's start to see every packet."},
	TCPGap:                          {"tcp.gap", SevInfo, "Bytes missing from the capture", "Segments were not captured (drops, or a capture filter); increase the capture buffer or capture closer to the broker."},
	WebSocketMalformed:              {"websocket.malformed", SevLow, "WebSocket frames that break RFC 6455", "The peer's WebSocket implementation sends frames the standard forbids (masking, opcodes, lengths, close codes); fix it or look for crafted traffic."},
	WebSocketNotMQTT:                {"websocket.not-mqtt", SevLow, "MQTT over a WebSocket subprotocol other than mqtt", "Negotiate the subprotocol mqtt (MQTT-6.0.0-3) so that proxies and brokers know what the connection carries."},
	WebSocketNoSubprotocol:          {"websocket.no-subprotocol", SevInfo, "MQTT over WebSocket without a subprotocol", "Offer and accept the subprotocol mqtt (MQTT-6.0.0-3); a broker may refuse connections without it."},
	IPFragmentOverlap:               {"ip.fragment-overlap", SevMedium, "Overlapping IP fragments with different data", "Fragments that overlap with different bytes make hosts and inspectors see different data (an evasion technique); find the sender, and drop such datagrams at the firewall."},
	IPFragmentMalformed:             {"ip.fragment-malformed", SevLow, "IP fragments that cannot form a datagram", "The fragments contradict each other or pass the largest datagram; look for a broken stack or crafted traffic."},
	IPFragmentIncomplete:            {"ip.fragment-incomplete", SevInfo, "IP datagram never completed", "Fragments were lost (or not captured) before the datagram completed; capture closer to the sender or check the path's MTU."},
	QoSUnacknowledged:               {"qos.unacknowledged", SevLow, "QoS flow that never completed", "Check the receiver and the connection: a QoS 1/2 message without its acknowledgements may be delivered twice or not at all."},
	LabQoS:                          {"lab.qos", SevInfo, "Lab message not sent with QoS 1", "The secure MQTT lab requires QoS 1 for every publish and subscribe."},
	PayloadMalformed:                {"payload.malformed", SevLow, "Payload that is not the format it claims", "The content type, keyring rule or Sparkplug topic says one format and the bytes are not it: fix the publisher's encoder or the rule; the finding gives the byte where decoding failed."},
	SparkplugSeqGap:                 {"sparkplug.seq-gap", SevLow, "Sparkplug B sequence number out of order", "Messages of the edge node were lost or reordered (the seq counts 0 to 255 across its messages): a Sparkplug host would request a rebirth; check the node's connection and QoS."},
	LimitReached:                    {"mqtap.limit", SevLow, "A limit of mqtap was reached: part of the traffic was not analysed", "The finding names the limit and what it left out (a packet's bytes past the per-packet buffer, key-exchange responses past those computed); the capture is suspicious if no real client sends that much."},
}

// FindingCodes returns every finding code, in the order of the catalog.
func FindingCodes() []FindingCode {
	codes := make([]FindingCode, 0, len(catalog)-1)
	for c := range catalog[1:] {
		codes = append(codes, FindingCode(c+1))
	}
	return codes
}
