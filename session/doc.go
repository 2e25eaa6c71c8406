// Package session turns captured frames into MQTT records.
//
// # Pipeline
//
// A Source (source/file, source/live, source/tap) feeds a Pipeline. The
// pipeline decodes the link and IP layers of each capture interface
// (layers.go), reassembles IP fragments (defrag*.go, fragments.go) and each
// TCP direction (tcp.go), finds MQTT, TLS or WebSocket on any port
// (detect.go), removes TLS with the key logs of the key store (tls.go) and
// WebSocket framing (websocket.go), frames MQTT packets (framing.go), keeps
// per-connection protocol state (conn.go) and hands every MQTT control
// packet to a Handler as a Record, in frame order (order.go).
//
// The analysis chain (package session/analysis) and the sinks (packages
// under session/sink) take the records from there. Findings are declared
// once, with their severity, in the finding catalog.
package session
