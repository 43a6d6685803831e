// Package xdpprog holds weft's XDP program and attaches it to an interface.
//
// The program is written with cilium/ebpf's assembler (no clang at build
// time). It looks at one thing: is this an IPv4/UDP datagram, unfragmented,
// without IP options, addressed to weft's UDP port (and, when configured,
// to weft's IPv4 address)? Only then does it
// redirect the frame to the AF_XDP socket registered for the receive queue
// in an XSKMAP; every other frame — ARP, SSH, ICMP, other ports, fragments —
// and weft's own frames when no socket is registered are passed to the
// kernel (bpf_redirect_map with XDP_PASS as the miss action), where the
// kernel UDP socket bound to the same port picks them up:
//
//	frame ──► eth/IPv4/UDP to weft's port (and address)? ──no──► XDP_PASS
//	                    │yes
//	                    ▼
//	          xsks[rx_queue_index] set? ──no──► XDP_PASS (kernel UDP socket)
//	                    │yes
//	                    ▼
//	          XDP_REDIRECT to the AF_XDP socket's RX ring
//
// The program is attached through a bpf_link, so it disappears with the
// process even after a crash: nothing is left on the interface that would
// swallow traffic. Native (driver) mode is tried first and generic (SKB)
// mode is the fallback; Program.Mode reports which one is in use. For jumbo
// frames the program is loaded with BPF_F_XDP_HAS_FRAGS (multi-buffer).
package xdpprog
