package live

// WebSocketPorts returns the TCP ports brokers serve MQTT over WebSocket on by
// default, which mqtap sniff's default capture filter covers beside the
// MQTT ports: 8080 and 9001 (mosquitto's documentation and examples), 8083
// and 8084 (EMQX, ws and wss) and 8000 (HiveMQ). 443 and 8443 carry too much
// else to be taken by default: -d tcp.port==443,websocket adds them.
func WebSocketPorts() []uint16 { return []uint16{8000, 8080, 8083, 8084, 9001} }
