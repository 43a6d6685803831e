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
// One poller goroutine (poller 0) owns every session, the reassembler and
// the packet pool, so the hot path takes no lock except the submission
// queue's. Handlers run on Config.Workers goroutines and may block.
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
