package proto

import (
	"bytes"
	"errors"
	"testing"
)

func sampleHeader() Header {
	return Header{Opcode: OpEcho, Flags: FlagReliable | FlagAck | FlagRDMA, Window: 77, RequestID: 0x1122334455667788,
		Src: 1, Dst: 2, Epoch: 3, Seq: 4, Ack: 5, SackBits: 0xF0, Status: 0}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 1400, PacketPayloadMax} {
		payload := bytes.Repeat([]byte{0xAB}, n)
		h := sampleHeader()
		h.MsgLen = uint32(n)
		buf := make([]byte, HeaderBytes+n)
		m, err := Encode(buf, &h, payload)
		if err != nil || m != len(buf) {
			t.Fatalf("encode %d: n=%d err=%v", n, m, err)
		}
		var got Header
		p, err := Decode(buf, &got)
		if err != nil {
			t.Fatalf("decode %d: %v", n, err)
		}
		if got != h || !bytes.Equal(p, payload) {
			t.Fatalf("round trip %d: got %+v want %+v", n, got, h)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	h := sampleHeader()
	h.MsgLen = 3
	good := make([]byte, HeaderBytes+3)
	if _, err := Encode(good, &h, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"truncated header", good[:HeaderBytes-1], ErrShort},
		{"truncated payload", good[:len(good)-1], ErrShort},
		{"trailing", append(append([]byte(nil), good...), 0), ErrLength},
		{"magic", mut(func(b []byte) []byte { b[0] ^= 1; return b }), ErrMagic},
		{"version", mut(func(b []byte) []byte { b[4] = 9; return b }), ErrVersion},
		{"payload bit", mut(func(b []byte) []byte { b[HeaderBytes] ^= 0x10; return b }), ErrChecksum},
		{"header bit", mut(func(b []byte) []byte { b[20] ^= 0x01; return b }), ErrChecksum},
		{"bad frag", mut(func(b []byte) []byte { b[14] = 5; Seal(b); return b }), ErrFragment},
		{"unknown flag", mut(func(b []byte) []byte { b[9] |= 0x80; Seal(b); return b }), ErrVersion},
	}
	for _, c := range cases {
		var got Header
		if _, err := Decode(c.pkt, &got); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestFragmentReassemble(t *testing.T) {
	msg := make([]byte, MessageBytesMax)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	const frag = 1400
	n := FragmentCount(len(msg), frag)
	r := NewReassembler(2, 0, 1e9)
	pkt := make([]byte, HeaderBytes+frag)
	var out []byte
	// Deliver in reverse order with one duplicate to show order and
	// duplicates do not matter.
	for k := n - 1; k >= 0; k-- {
		for rep := 0; rep < 1+(k%50/49); rep++ {
			h := Header{Opcode: OpEcho, RequestID: 9, Flags: FlagReliable}
			from, to, err := FragmentHeader(&h, len(msg), frag, k)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Encode(pkt, &h, msg[from:to])
			if err != nil {
				t.Fatal(err)
			}
			var d Header
			p, err := Decode(pkt[:m], &d)
			if err != nil {
				t.Fatalf("frag %d: %v", k, err)
			}
			got, slot, err := r.Add(0, ReassemblyKey{Peer: 1, RequestID: 9}, &d, p)
			if err != nil {
				t.Fatal(err)
			}
			if got != nil {
				out = append([]byte(nil), got...)
				r.Release(slot)
			}
		}
	}
	if !bytes.Equal(out, msg) {
		t.Fatalf("reassembled %d bytes differ from %d sent", len(out), len(msg))
	}
	if r.InUse() != 0 {
		t.Fatalf("slots in use after release: %d", r.InUse())
	}
}

func TestReassemblyBoundsAndTimeout(t *testing.T) {
	r := NewReassembler(1, 0, 100)
	h := Header{Flags: FlagFragment, FragCount: 2, MsgLen: 10, PayloadLen: 5}
	if _, _, err := r.Add(0, ReassemblyKey{Peer: 1}, &h, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Add(0, ReassemblyKey{Peer: 2}, &h, make([]byte, 5)); !errors.Is(err, ErrReassemblyFull) {
		t.Fatalf("second message with one slot: %v", err)
	}
	if n := r.Expire(100); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if _, _, err := r.Add(0, ReassemblyKey{Peer: 2}, &h, make([]byte, 5)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	bad := h
	bad.MsgLen = 11
	if _, _, err := r.Add(0, ReassemblyKey{Peer: 2}, &bad, make([]byte, 5)); !errors.Is(err, ErrFragment) {
		t.Fatalf("inconsistent fragment: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	h := sampleHeader()
	h.MsgLen = 5
	seed := make([]byte, HeaderBytes+5)
	Encode(seed, &h, []byte("hello"))
	f.Add(seed)
	f.Add([]byte{})
	f.Add(seed[:HeaderBytes])
	fh := Header{Flags: FlagReliable}
	FragmentHeader(&fh, 3000, 1400, 2)
	fs := make([]byte, HeaderBytes+200)
	Encode(fs, &fh, make([]byte, 200))
	f.Add(fs)
	r := NewReassembler(2, 0, 10)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		p, err := Decode(b, &h)
		if err != nil {
			return
		}
		if len(p) != int(h.PayloadLen) {
			t.Fatalf("payload %d, header says %d", len(p), h.PayloadLen)
		}
		if h.Flags&FlagFragment != 0 {
			if _, slot, err := r.Add(0, ReassemblyKey{}, &h, p); err == nil && slot >= 0 {
				r.Release(slot)
			}
			r.Expire(1 << 40)
		}
		// Re-encoding a decoded packet must give the same bytes.
		out := make([]byte, len(b))
		if n, err := Encode(out, &h, p); err != nil || !bytes.Equal(out[:n], b) {
			t.Fatalf("re-encode differs: %v", err)
		}
	})
}

// FuzzReassembly feeds arbitrary fragment headers straight to the
// reassembler (skipping Decode's checks) to show it never panics.
func FuzzReassembly(f *testing.F) {
	f.Add(uint16(0), uint16(2), uint32(10), uint32(0), uint16(5), uint64(1))
	f.Add(uint16(1), uint16(2), uint32(10), uint32(5), uint16(5), uint64(1))
	r := NewReassembler(3, 0, 10)
	f.Fuzz(func(t *testing.T, idx, cnt uint16, msgLen, off uint32, plen uint16, peer uint64) {
		h := Header{Flags: FlagFragment, FragIndex: idx, FragCount: cnt, MsgLen: msgLen, FragOffset: off, PayloadLen: plen}
		if _, slot, err := r.Add(0, ReassemblyKey{Peer: peer % 4}, &h, make([]byte, plen)); err == nil && slot >= 0 {
			r.Release(slot)
		}
		r.Expire(int64(peer % 20))
	})
}

func BenchmarkEncode(b *testing.B) {
	payload := make([]byte, 1400)
	buf := make([]byte, HeaderBytes+len(payload))
	h := sampleHeader()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		Encode(buf, &h, payload)
	}
}

func BenchmarkDecode(b *testing.B) {
	payload := make([]byte, 1400)
	buf := make([]byte, HeaderBytes+len(payload))
	h := sampleHeader()
	h.MsgLen = uint32(len(payload))
	Encode(buf, &h, payload)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var d Header
	for b.Loop() {
		if _, err := Decode(buf, &d); err != nil {
			b.Fatal(err)
		}
	}
}
