package messenger

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/netstack"
)

// Defaults and limits.
const (
	// RDMAReadBytesDefault: reads of this size and more are RDMA-eligible.
	RDMAReadBytesDefault = 32 << 10
	// RDMAWriteBytesDefault: writes of this size and more are RDMA-eligible.
	RDMAWriteBytesDefault = 256 << 10
	// workersDefault handler goroutines run requests.
	workersDefault = 8
	// workQueueDefault requests wait for a worker before deliveries are
	// deferred (backpressure through the reliability window).
	workQueueDefault = 4096
	// sessionsMax bounds peers one messenger keeps state for.
	sessionsMax = 4096
	// burstPackets is the receive burst per transport per loop.
	burstPackets = 64
	// rxBufferBytes holds the largest datagram any peer may send (jumbo).
	rxBufferBytes = 9216
	// packetPoolBytesMax bounds memory held in packet buffers (send rings
	// and reorder rings of every session).
	packetPoolBytesMax = 512 << 20
	// reassemblySlots partial messages may be in reassembly at once.
	reassemblySlots = 64
	// reassemblyBufferBytes is each slot's preallocated size; a slot grows
	// once to the largest message it sees and keeps that.
	reassemblyBufferBytes = 64 << 10
	// reassemblyTimeout drops a partial message whose sender went quiet.
	reassemblyTimeout = 10 * time.Second
	// sendBudgetBytes bounds what one-way messages copied by Send and not
	// yet taken by a session may hold; each is charged its payload plus
	// sendChargeBytes, so floods of tiny messages are bounded in count
	// too (a deep queue only moves work from sessions to bookkeeping).
	sendBudgetBytes = 8 << 20
	sendChargeBytes = 1 << 10
	// sendRetries is how many times one loop retries a full socket buffer
	// before leaving the rest to retransmission.
	sendRetries = 16
)

// XDPRequest is what the messenger passes to Config.OpenXDP.
type XDPRequest struct {
	// Interface is the network interface named by Config.Net.
	Interface string
	// Addr is the messenger's address (the port XDP redirects).
	Addr netip.AddrPort
	// Queue is the NIC queue to bind (one per poller; 0 for now).
	Queue int
	// Log is the messenger's logger.
	Log *slog.Logger
}

// Config configures a Messenger.
type Config struct {
	// Addr is where the kernel UDP transport is always bound.
	Addr netip.AddrPort
	// Net is "udp" (or empty) for kernel UDP only, or an interface name
	// to ask for AF_XDP through OpenXDP, falling back to UDP.
	Net string
	// Poller selects cores and polling mode.
	Poller poller.Config
	// RDMAReadBytes and RDMAWriteBytes are the RDMA-eligibility
	// thresholds (0 = 32 KiB and 256 KiB).
	RDMAReadBytes, RDMAWriteBytes int
	// BulkWindowPackets is the reliability window for RDMA-eligible
	// messages (0 = the reliability layer's default, 1024).
	BulkWindowPackets int
	// Endpoint is this messenger's endpoint id (0 = random).
	Endpoint uint32
	// PayloadMax caps the UDP payload per packet (0 = from the
	// interface MTU).
	PayloadMax int
	// Workers is the number of handler goroutines (0 = 8).
	Workers int
	// WorkQueue is how many requests may wait for a worker before
	// deliveries are deferred (0 = 4096).
	WorkQueue int
	// PeerDeadAfter of silence declares a peer dead (0 = 5 s).
	PeerDeadAfter time.Duration
	// OpenXDP opens the AF_XDP transport when Net names an interface. It
	// is a hook so the messenger does not depend on netstack/xdp; the
	// agent sets it (e.g. to xdp.Open). Nil means AF_XDP is not built in.
	OpenXDP func(ctx context.Context, req XDPRequest) (netstack.Transport, error)
	// Extra transports are driven alongside UDP (tests, benchmarks); the
	// first one is preferred for sending when present.
	Extra []netstack.Transport
}
