// Package live is the source of live network interfaces.
//
// It reads frames through Linux's packet sockets (AF_PACKET, cgo-free) and
// compiles the kernel (BPF) filter that keeps only the traffic mqtap
// decodes (bpf_*.go, by stage: lexer, parser, literals, lowering, code
// generation, and tcpdump -ddd for expressions the built-in compiler does not
// understand).
package live
