// Package proto is weft's wire format: the fixed packet header, opcodes,
// fragmentation of messages larger than one packet and their reassembly.
// It is pure: no sockets, no clocks (callers pass the time in), no
// reflection and no allocation on the hot path.
//
// Every UDP datagram weft sends is one packet: a 64-byte header followed by
// PayloadLen bytes of one message fragment. All integers are little-endian.
// Reliability fields (Epoch, Seq, Ack, SackBits, Window) live in the same
// header so that every data packet piggybacks the acknowledgement of the
// reverse direction; netstack/reliable owns their meaning.
//
//	 0               1               2               3
//	 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//	+---------------------------------------------------------------+
//	|                    Magic 0x57454654 ("WEFT")                  |  0
//	+---------------+---------------+-------------------------------+
//	|    Version    |   Reserved    |            Opcode             |  4
//	+---------------+---------------+-------------------------------+
//	|             Flags             |     Window (packets)          |  8
//	+-------------------------------+-------------------------------+
//	|          FragIndex            |          FragCount            | 12
//	+-------------------------------+-------------------------------+
//	|                     RequestID (64 bits)                       | 16
//	|                                                               |
//	+---------------------------------------------------------------+
//	|                     Source endpoint id                        | 24
//	+---------------------------------------------------------------+
//	|                   Destination endpoint id                     | 28
//	+---------------------------------------------------------------+
//	|                  Epoch (sender's session incarnation)         | 32
//	+---------------------------------------------------------------+
//	|                  Seq (0 = unsequenced)                        | 36
//	+---------------------------------------------------------------+
//	|                  Ack (next sequence expected)                 | 40
//	+---------------------------------------------------------------+
//	|                  SackBits (bit i = Ack+1+i received)          | 44
//	+---------------------------------------------------------------+
//	|                  MsgLen (whole message payload bytes)         | 48
//	+---------------------------------------------------------------+
//	|                  FragOffset (this fragment's offset)          | 52
//	+-------------------------------+-------------------------------+
//	|      Status (errno or 0)      |          PayloadLen           | 56
//	+-------------------------------+-------------------------------+
//	|       CRC32C over bytes 0..59, 64..64+PayloadLen              | 60
//	+---------------------------------------------------------------+
//	|                 payload (PayloadLen bytes) ...                | 64
//
// Flags: FlagResponse, FlagError (Status holds an errno), FlagRDMA (the
// message is RDMA-eligible and takes the bulk path), FlagFragment (the
// message spans several packets), FlagLastFragment, FlagAck (Ack, SackBits
// and Window are valid), FlagReliable (Seq is valid and must be acked),
// FlagOneWay (no response expected), FlagKeepalive (a probe that asks for
// an ack), FlagDuplicate (the acker received a duplicate: the peer's
// retransmission was spurious, D-SACK style).
//
// Decoding any byte string yields a Header or one of the typed errors
// (ErrShort, ErrMagic, ErrVersion, ErrChecksum, ErrLength, ErrFragment);
// it never panics (see FuzzDecode).
//
// Messages larger than one packet are split by Fragment and put back
// together by a Reassembler whose buffers are pooled, bounded in number
// and dropped after a timeout.
package proto
