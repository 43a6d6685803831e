// Package messenger is the layer every weft role talks through: Call
// (request/response), Send (one-way) and Handle (serve an opcode), over
// weft's protocol (proto), made reliable per peer (netstack/reliable) and
// carried by the transports (kernel UDP always, AF_XDP when Config.Net
// names an interface and Config.OpenXDP provides it).
//
//	caller goroutines        poller goroutine (dataplane/poller)       workers
//	─────────────────        ───────────────────────────────────       ───────
//	Call/Send ─submit─▶ queue ─▶ Session.Send (fragment, copy)
//	                            transports' RecvBurst ─▶ proto.Decode
//	                              bad: count Malformed, drop
//	                              ok: Session.Receive ─▶ Deliver
//	  ◀── done (response copied        response ─▶ pending call
//	       into the caller's buffer)   request ──▶ work queue ─▶ Handler
//	                            Session.Flush ─▶ SendBurst     ReplyWriter
//	                            queue ◀──────────────────────── reply
//
// Each poller (one per core in Config.Poller.Cores) runs one loop with its
// own SO_REUSEPORT kernel UDP socket, sessions, reassembler and packet
// pool, so the hot path takes no lock except the submission queue's. A
// classic BPF reuseport program (udp.Steer) makes the kernel hand a
// peer's datagrams to the socket of the loop that owns the peer
// (udp.SteerIndex of its address); a datagram that still lands elsewhere
// is handed over (Stats.Handoffs). With AF_XDP one loop owns all peers.
// Handlers run on Config.Workers goroutines and may block; HandleInline
// handlers (the built-in OpPing, OpEcho, OpSink) run on the poller itself
// and reply straight into the session, saving two hand-offs, so they must
// not block.
//
// Backpressure: Send copies the payload into a pooled buffer and returns
// (at most sendBudgetBytes wait to enter sessions). When every worker is
// busy and the work queue is full, the session holds the message and
// advertises a zero window until a worker frees up — requests are
// deferred, never dropped or refused.
//
// RDMA eligibility: a Call whose IOHint is a read of RDMAReadBytes or more
// (default 32 KiB) or a write of RDMAWriteBytes or more (default 256 KiB)
// sets proto.FlagRDMA on the request (and the handler's response inherits
// it); tagged messages use the reliability layer's bulk window and are
// counted in Stats.RDMAEligible*. No RDMA NIC exists here, so the bulk
// path is the same transport with a larger window.
//
// Transport selection: Net "udp" uses kernel UDP only. Net naming an
// interface calls Config.OpenXDP; when it is nil or fails, the messenger
// logs why and uses UDP. If the AF_XDP transport fails later, its peers
// move to UDP and retransmission recovers the packets lost in between.
package messenger
