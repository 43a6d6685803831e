// Package xsk is weft's own AF_XDP socket over golang.org/x/sys/unix.
//
// One Socket owns one UMEM (a page-aligned anonymous mapping cut into
// FrameSize chunks) and the four rings the kernel shares with it:
//
//	        free RX frames                     free TX frames
//	              │ Fill()                          ▲ Complete()
//	              ▼                                 │
//	┌───────── fill ring ─────────┐   ┌──── completion ring ─────┐
//	│ user produces chunk addrs   │   │ kernel returns sent addrs│
//	└─────────────┬───────────────┘   └────────────▲─────────────┘
//	              ▼   kernel                        │   kernel
//	┌────────── RX ring ──────────┐   ┌────────── TX ring ───────┐
//	│ kernel produces descriptors │   │ user produces descriptors│
//	└─────────────┬───────────────┘   └────────────▲─────────────┘
//	              ▼ Receive()                       │ Transmit()
//	         application ── Release(addr) ──►  application
//
// Frames [0, RX frames) circulate between the fill and RX rings; the rest
// belong to transmit and circulate between TX and completion. Each ring is
// a single-producer/single-consumer queue whose producer and consumer
// indices live in the shared mapping; they are read and written with
// sync/atomic so the kernel sees entries before the index that publishes
// them (asavie/xdp did this with plain loads and stores).
//
// Every call is non-blocking: a Socket owns no goroutine, the poller that
// drives it does. With need_wakeup (the default) the kernel asks for a
// syscall only when it has gone idle, which Fill and Transmit honour.
//
// Multi-buffer (Options.MultiBuffer, XDP_USE_SG): a frame larger than one
// chunk arrives as several descriptors, every one but the last carrying
// XDP_PKT_CONTD in Options; transmit takes the same shape. veth only
// supports copy mode, which is the default bind mode.
//
// Socket is not safe for concurrent use: one poller goroutine owns it.
package xsk
