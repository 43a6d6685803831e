package proto

import (
	"encoding/binary"
	"hash/crc32"
)

// Wire constants.
const (
	// Magic opens every packet: "WEFT" read as a little-endian uint32.
	Magic uint32 = 0x54464557
	// Version is the protocol version this build writes and accepts.
	Version uint8 = 1
	// HeaderBytes is the fixed header size.
	HeaderBytes = 64
	// PacketPayloadMax is the largest payload one packet may carry
	// (PayloadLen is 16 bits).
	PacketPayloadMax = 0xFFFF
	// MessageBytesMax is the largest message payload: 1 MiB of data plus
	// room for any operation's own header.
	MessageBytesMax = 1<<20 + 64<<10
	// FragCountMax bounds the fragments of one message.
	FragCountMax = 0xFFFF
)

// Flags is the header's flag set.
type Flags uint16

// Header flags.
const (
	// FlagResponse: the message answers the request with the same RequestID.
	FlagResponse Flags = 1 << iota
	// FlagError: Status holds an errno; the payload is empty.
	FlagError
	// FlagRDMA: the message is RDMA-eligible (large read or write) and
	// takes the bulk path.
	FlagRDMA
	// FlagFragment: the message spans several packets.
	FlagFragment
	// FlagLastFragment: this packet is the message's last fragment.
	FlagLastFragment
	// FlagAck: Ack, SackBits and Window are valid.
	FlagAck
	// FlagReliable: Seq is valid and the packet must be acknowledged.
	FlagReliable
	// FlagOneWay: the request expects no response.
	FlagOneWay
	// FlagKeepalive: a liveness probe; the receiver answers with an ack.
	FlagKeepalive
	// FlagDuplicate: (with FlagAck) the sender of this ack received a
	// packet it already had since its last ack — like TCP's D-SACK, it
	// tells the peer a retransmission was spurious.
	FlagDuplicate
)

// flagsKnown is every flag this version defines; others are rejected.
const flagsKnown = FlagDuplicate<<1 - 1

// Header is a decoded packet header. The zero value is a valid
// unsequenced, unfragmented packet header with no opcode.
type Header struct {
	Opcode Opcode // operation (ranges in opcode.go)
	Flags  Flags  // FlagResponse, FlagRDMA, FlagFragment, ...
	Window uint16 // sender's receive window in packets (with FlagAck)

	FragIndex uint16 // this fragment's index (with FlagFragment)
	FragCount uint16 // fragments in the message (with FlagFragment)

	RequestID uint64 // pairs a response with its request
	Src, Dst  uint32 // endpoint ids of sender and receiver (0 = unknown)
	Epoch     uint32 // sender's session incarnation

	Seq      uint32 // packet sequence number (with FlagReliable)
	Ack      uint32 // next sequence expected from the receiver (with FlagAck)
	SackBits uint32 // bit i: Ack+1+i was received (with FlagAck)

	MsgLen     uint32 // whole message payload bytes
	FragOffset uint32 // offset of this packet's payload in the message
	Status     uint16 // errno when FlagError is set
	PayloadLen uint16 // payload bytes in this packet
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns CRC32C of b; exported so transports and tests use the
// same table.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Encode writes h and payload into buf as one packet and returns the
// packet length. h.PayloadLen is set from len(payload). When payload
// already sits at buf[HeaderBytes:], no copy happens.
func Encode(buf []byte, h *Header, payload []byte) (int, error) {
	if len(payload) > PacketPayloadMax {
		return 0, ErrLength
	}
	n := HeaderBytes + len(payload)
	if len(buf) < n {
		return 0, ErrBufferShort
	}
	h.PayloadLen = uint16(len(payload))
	if len(payload) > 0 && &buf[HeaderBytes] != &payload[0] {
		copy(buf[HeaderBytes:n], payload)
	}
	putHeader(buf, h)
	Seal(buf[:n])
	return n, nil
}

// EncodeHeader rewrites the header of a packet whose payload is already in
// place at pkt[HeaderBytes:] (len(pkt) = HeaderBytes + h.PayloadLen) and
// recomputes the checksum; retransmissions use it to refresh ack fields.
func EncodeHeader(pkt []byte, h *Header) error {
	if len(pkt) < HeaderBytes || len(pkt)-HeaderBytes != int(h.PayloadLen) {
		return ErrLength
	}
	putHeader(pkt, h)
	Seal(pkt)
	return nil
}

func putHeader(b []byte, h *Header) {
	_ = b[HeaderBytes-1]
	le := binary.LittleEndian
	le.PutUint32(b[0:], Magic)
	b[4] = Version
	b[5] = 0
	le.PutUint16(b[6:], uint16(h.Opcode))
	le.PutUint16(b[8:], uint16(h.Flags))
	le.PutUint16(b[10:], h.Window)
	le.PutUint16(b[12:], h.FragIndex)
	le.PutUint16(b[14:], h.FragCount)
	le.PutUint64(b[16:], h.RequestID)
	le.PutUint32(b[24:], h.Src)
	le.PutUint32(b[28:], h.Dst)
	le.PutUint32(b[32:], h.Epoch)
	le.PutUint32(b[36:], h.Seq)
	le.PutUint32(b[40:], h.Ack)
	le.PutUint32(b[44:], h.SackBits)
	le.PutUint32(b[48:], h.MsgLen)
	le.PutUint32(b[52:], h.FragOffset)
	le.PutUint16(b[56:], h.Status)
	le.PutUint16(b[58:], h.PayloadLen)
}

// Seal computes the CRC32C of a complete packet (header bytes 0..59 and
// the payload) and stores it at bytes 60..63.
func Seal(pkt []byte) {
	c := crc32.Update(0, castagnoli, pkt[:60])
	c = crc32.Update(c, castagnoli, pkt[HeaderBytes:])
	binary.LittleEndian.PutUint32(pkt[60:], c)
}

// Decode parses and verifies one packet. On success the payload is
// pkt[HeaderBytes:HeaderBytes+h.PayloadLen]; bytes after it are ignored
// only if there are none (trailing garbage is ErrLength).
func Decode(pkt []byte, h *Header) ([]byte, error) {
	if len(pkt) < HeaderBytes {
		return nil, ErrShort
	}
	le := binary.LittleEndian
	if le.Uint32(pkt[0:]) != Magic {
		return nil, ErrMagic
	}
	if pkt[4] != Version || pkt[5] != 0 {
		return nil, ErrVersion
	}
	h.PayloadLen = le.Uint16(pkt[58:])
	n := HeaderBytes + int(h.PayloadLen)
	if len(pkt) < n {
		return nil, ErrShort
	}
	if len(pkt) > n {
		return nil, ErrLength
	}
	c := crc32.Update(0, castagnoli, pkt[:60])
	c = crc32.Update(c, castagnoli, pkt[HeaderBytes:n])
	if c != le.Uint32(pkt[60:]) {
		return nil, ErrChecksum
	}
	h.Opcode = Opcode(le.Uint16(pkt[6:]))
	h.Flags = Flags(le.Uint16(pkt[8:]))
	h.Window = le.Uint16(pkt[10:])
	h.FragIndex = le.Uint16(pkt[12:])
	h.FragCount = le.Uint16(pkt[14:])
	h.RequestID = le.Uint64(pkt[16:])
	h.Src = le.Uint32(pkt[24:])
	h.Dst = le.Uint32(pkt[28:])
	h.Epoch = le.Uint32(pkt[32:])
	h.Seq = le.Uint32(pkt[36:])
	h.Ack = le.Uint32(pkt[40:])
	h.SackBits = le.Uint32(pkt[44:])
	h.MsgLen = le.Uint32(pkt[48:])
	h.FragOffset = le.Uint32(pkt[52:])
	h.Status = le.Uint16(pkt[56:])
	if err := h.validate(); err != nil {
		return nil, err
	}
	return pkt[HeaderBytes:n], nil
}

// validate checks the fields' consistency after the checksum passed, so a
// well-formed but nonsensical header (a buggy or hostile sender) is
// rejected before it reaches reassembly.
func (h *Header) validate() error {
	if h.Flags&^flagsKnown != 0 {
		return ErrVersion
	}
	if h.MsgLen > MessageBytesMax {
		return ErrTooLarge
	}
	if h.Flags&FlagFragment == 0 {
		if h.FragCount > 1 || h.FragIndex != 0 || h.FragOffset != 0 || h.MsgLen != uint32(h.PayloadLen) {
			return ErrFragment
		}
		return nil
	}
	if h.FragCount == 0 || h.FragIndex >= h.FragCount {
		return ErrFragment
	}
	end := uint64(h.FragOffset) + uint64(h.PayloadLen)
	if end > uint64(h.MsgLen) {
		return ErrFragment
	}
	last := h.FragIndex == h.FragCount-1
	if last != (h.Flags&FlagLastFragment != 0) {
		return ErrFragment
	}
	if last && end != uint64(h.MsgLen) {
		return ErrFragment
	}
	return nil
}

// IsMessage reports whether the packet carries (part of) a message, as
// opposed to a pure ack or keepalive.
func (h *Header) IsMessage() bool { return h.Flags&FlagReliable != 0 && h.Flags&FlagKeepalive == 0 }
