package proto

import "errors"

// Decoding errors. Each is a condition a receiver counts and drops.
var (
	// ErrShort: the datagram is shorter than its header says.
	ErrShort = errors.New("proto: packet too short")
	// ErrMagic: the first four bytes are not weft's magic.
	ErrMagic = errors.New("proto: bad magic")
	// ErrVersion: a protocol version this build does not speak.
	ErrVersion = errors.New("proto: unsupported version")
	// ErrChecksum: the CRC32C over header and payload does not match.
	ErrChecksum = errors.New("proto: checksum mismatch")
	// ErrLength: lengths in the header contradict each other or a limit.
	ErrLength = errors.New("proto: bad length")
	// ErrFragment: fragment index, count or offset are inconsistent.
	ErrFragment = errors.New("proto: bad fragment")
	// ErrTooLarge: a message exceeds MessageBytesMax.
	ErrTooLarge = errors.New("proto: message too large")
	// ErrReassemblyFull: every reassembly buffer is in use.
	ErrReassemblyFull = errors.New("proto: reassembly buffers exhausted")
	// ErrBufferShort: the caller's buffer cannot hold what is encoded.
	ErrBufferShort = errors.New("proto: buffer too short")
)
