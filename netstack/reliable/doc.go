// Package reliable is weft's per-peer reliability layer: a pure state
// machine in the style of etcd's raft. A Session never touches a socket or
// a clock; its owner (a poller) feeds it decoded packets (Receive), new
// messages (Send) and the time, and calls Flush to collect the packets to
// transmit. Delivered messages and events come back through callbacks that
// run synchronously inside those calls.
//
//	owner (poller)                      Session
//	─────────────                       ───────
//	Send(now, hdr, msg) ──────────────▶ fragment, number, queue
//	Receive(now, hdr, payload) ───────▶ ack/sack → free, RTT sample
//	                                    seq → reorder ring → in order
//	       Deliver(hdr, msg) ◀───────── reassembled message, exactly once
//	Flush(now) ───────────────────────▶ retransmit due, send in window,
//	       Transmit(pkt) ◀───────────── ack / keepalive if owed
//	       OnEvent(ev) ◀─────────────── peer dead / peer restarted
//
// Guarantees: every message handed to Send is delivered to the peer's
// Deliver exactly once, intact (CRC32C per packet, checked by the owner's
// decode) and in order, as long as the peer stays alive; otherwise an
// EventPeerDead fires. Mechanisms:
//
//   - Sequence numbers per packet (uint32, wrapping), starting at 1 for
//     each session epoch.
//   - Cumulative ack (next sequence expected) plus 32 selective-ack bits
//     piggybacked on every packet; a pure ack goes out at most once per
//     Flush when none was piggybacked.
//   - Retransmission timeout from RFC 6298 (SRTT, RTTVAR, Karn's rule,
//     exponential backoff) clamped to [retransmitTimeoutMin,
//     retransmitTimeoutMax]; fast retransmit of a hole once
//     fastRetransmitSacks later packets are selectively acked.
//   - Duplicate suppression: below the cumulative point or already in the
//     reorder ring → counted and dropped.
//   - Windows: an AIMD congestion window in packets (halved at most once
//     per window of data, NewReno-style; the cut is undone and RTTVAR
//     widened when the peer reports a duplicate, i.e. the retransmission
//     was spurious — D-SACK style via proto.FlagDuplicate), capped by the peer's advertised
//     receive window (zero while the owner refuses deliveries). The window
//     may grow to Config.BulkWindowPackets, but only RDMA-eligible (bulk)
//     packets use more than congestionWindowMax of it.
//   - Keepalives after keepaliveInterval of silence, the peer declared dead
//     after Config.PeerDeadAfter of silence or retransmitsMax retries.
//   - Epochs: each side stamps its session incarnation; a new epoch from
//     the peer means it restarted: the session resets and reports
//     EventPeerRestarted so callers fail what was in flight.
package reliable
