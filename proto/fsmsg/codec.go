package fsmsg

import (
	"encoding/binary"
	"errors"
)

// Decoding errors. Every decoder returns one of these (wrapped with the
// message name) for a body it cannot accept.
var (
	// ErrShort means the body ends before a field it must hold.
	ErrShort = errors.New("fsmsg: message too short")
	// ErrTooLong means a length field exceeds its limit.
	ErrTooLong = errors.New("fsmsg: field over its limit")
	// ErrTrailing means bytes follow the last field.
	ErrTrailing = errors.New("fsmsg: trailing bytes after message")
)

var le = binary.LittleEndian

// reader walks a body. The first failure sticks in err, so decoders read
// every field and check once at the end.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = ErrShort
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return le.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return le.Uint32(s)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.take(8); s != nil {
		return le.Uint64(s)
	}
	return 0
}

// bytes16 reads a u16 length and that many bytes, aliasing the body.
func (r *reader) bytes16(limit int) []byte {
	n := int(r.u16())
	if r.err == nil && n > limit {
		r.err = ErrTooLong
		return nil
	}
	return r.take(n)
}

// bytes32 reads a u32 length and that many bytes, aliasing the body.
func (r *reader) bytes32(limit int) []byte {
	n := r.u32()
	if r.err == nil && n > uint32(limit) {
		r.err = ErrTooLong
		return nil
	}
	return r.take(int(n))
}

// str copies a u16-length string out of the body: names outlive the
// message (the file system may keep them), so they cannot alias it.
func (r *reader) str(limit int) string {
	return string(r.bytes16(limit))
}

// rest returns all remaining bytes, aliasing the body.
func (r *reader) rest() []byte {
	return r.take(len(r.b) - r.off)
}

// done reports the sticky error, or ErrTrailing if bytes remain.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return ErrTrailing
	}
	return nil
}

func appendU8(b []byte, v uint8) []byte   { return append(b, v) }
func appendU16(b []byte, v uint16) []byte { return le.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return le.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return le.AppendUint64(b, v) }

// appendStr16 appends a u16 length and s, cut at limit so the receiver
// never sees a field it must reject; callers validate lengths first.
func appendStr16(b []byte, s string, limit int) []byte {
	if len(s) > limit {
		s = s[:limit]
	}
	b = appendU16(b, uint16(len(s)))
	return append(b, s...)
}

func appendBytes32(b []byte, v []byte, limit int) []byte {
	if len(v) > limit {
		v = v[:limit]
	}
	b = appendU32(b, uint32(len(v)))
	return append(b, v...)
}

func boolU8(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}
