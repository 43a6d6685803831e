package messenger

import (
	"context"
	"errors"
	"net/netip"
	"syscall"

	"github.com/weft-fs/weft/proto"
)

// Errors callers branch on.
var (
	// ErrClosed: the messenger was closed.
	ErrClosed = errors.New("messenger: closed")
	// ErrPeerDead: the peer stopped answering; the call's fate is unknown.
	ErrPeerDead = errors.New("messenger: peer dead")
	// ErrPeerRestarted: the peer restarted while the call was in flight.
	ErrPeerRestarted = errors.New("messenger: peer restarted")
	// ErrShortBuffer: the response did not fit the caller's buffer; n is
	// the full response length, the buffer holds its start.
	ErrShortBuffer = errors.New("messenger: response larger than buffer")
	// ErrTooLarge: the request exceeds proto.MessageBytesMax.
	ErrTooLarge = proto.ErrTooLarge
)

// IODir says what a call moves, for RDMA-eligibility tagging.
type IODir uint8

const (
	// IONone: control or metadata.
	IONone IODir = iota
	// IORead: the response carries data read.
	IORead
	// IOWrite: the request carries data to write.
	IOWrite
)

// IOHint describes the data a call moves; reads of RDMAReadBytes and
// writes of RDMAWriteBytes and more are RDMA-eligible.
type IOHint struct {
	Dir   IODir
	Bytes int
}

// Request is one received request, valid until the handler returns.
type Request struct {
	Op        proto.Opcode
	From      netip.AddrPort
	RequestID uint64
	Flags     proto.Flags
	// Payload is the request body; valid until the handler returns.
	Payload []byte
}

// RDMA reports whether the request was tagged RDMA-eligible.
func (r *Request) RDMA() bool { return r.Flags&proto.FlagRDMA != 0 }

// OneWay reports whether the sender expects no response.
func (r *Request) OneWay() bool { return r.Flags&proto.FlagOneWay != 0 }

// Handler serves one opcode. It runs on a worker goroutine and may block.
type Handler func(ctx context.Context, req *Request, w *ReplyWriter)

// ReplyWriter builds a response. Its buffer is reused across requests.
type ReplyWriter struct {
	buf   []byte
	errno syscall.Errno
}

// Write appends p to the response body.
func (w *ReplyWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// Grow extends the body by n bytes and returns them for the handler to
// fill in place (no intermediate copy).
func (w *ReplyWriter) Grow(n int) []byte {
	l := len(w.buf)
	if cap(w.buf)-l < n {
		nb := make([]byte, l, l+n+l/4)
		copy(nb, w.buf)
		w.buf = nb
	}
	w.buf = w.buf[:l+n]
	return w.buf[l : l+n]
}

// Error makes the response an error: the caller's Call returns errno as
// a syscall.Errno and the body is discarded.
func (w *ReplyWriter) Error(errno syscall.Errno) { w.errno = errno }

// Len is the body length so far.
func (w *ReplyWriter) Len() int { return len(w.buf) }

// Reset empties the body and clears the error.
func (w *ReplyWriter) Reset() { w.buf, w.errno = w.buf[:0], 0 }

// TransportStats are one transport's counters.
type TransportStats struct {
	Kind                  string
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	SendErrors, SendDrops uint64
	Malformed             uint64
}

// Stats are the messenger's counters since New.
type Stats struct {
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	Retransmits           uint64
	FastRetransmits       uint64
	Duplicates            uint64
	// Malformed frames were dropped: bad checksum, magic, version,
	// lengths or fragments, or a wrong destination endpoint.
	Malformed                         uint64
	MalformedChecksum, MalformedShort uint64
	MalformedMagic, MalformedVersion  uint64
	MalformedOther                    uint64
	CallsStarted, CallsFailed         uint64
	// SendsFailed counts one-way messages lost to a dead peer or Close.
	SendsFailed     uint64
	RequestsHandled uint64
	// RequestsRefused counts deliveries deferred because every worker was
	// busy and the work queue full (the message is held and retried).
	RequestsRefused                               uint64
	StaleResponses                                uint64
	RDMAEligibleReads, RDMAEligibleWrites         uint64
	RDMAEligibleReadBytes, RDMAEligibleWriteBytes uint64
	Sessions                                      int
	// Handoffs counts datagrams a poller's socket received for a peer
	// owned by another poller (steering missed) and passed on.
	Handoffs                  uint64
	PeersDead, PeersRestarted uint64
	Transports                []TransportStats
}
