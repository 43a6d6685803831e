package xdp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func testFrame(payload []byte) []byte {
	h := Headers{
		DstMAC: MAC{2, 0, 0, 0, 0, 2}, SrcMAC: MAC{2, 0, 0, 0, 0, 1},
		Src: netip.MustParseAddrPort("10.99.0.1:7000"), Dst: netip.MustParseAddrPort("10.99.0.2:7001"),
	}
	b := make([]byte, HeadersLen+len(payload))
	EncodeHeaders(b, &h, len(payload), 7)
	copy(b[HeadersLen:], payload)
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	p := []byte("hello weft")
	h, got, err := DecodeFrame(testFrame(p))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p) || h.Src.String() != "10.99.0.1:7000" || h.Dst.String() != "10.99.0.2:7001" || h.SrcMAC != (MAC{2, 0, 0, 0, 0, 1}) {
		t.Fatalf("decoded %+v %q", h, got)
	}
	// Ethernet padding after the datagram is allowed.
	if _, got, err = DecodeFrame(append(testFrame(p), 0, 0, 0)); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("padded frame: %q %v", got, err)
	}
}

func TestFrameMalformed(t *testing.T) {
	good := testFrame(make([]byte, 32))
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrTruncated},
		{"ethernet only", good[:14], ErrTruncated},
		{"arp", mut(func(b []byte) []byte { b[12], b[13] = 0x08, 0x06; return b }), ErrNotIPv4UDP},
		{"ipv6 version", mut(func(b []byte) []byte { b[14] = 0x65; return b }), ErrIPHeader},
		{"ihl 4", mut(func(b []byte) []byte { b[14] = 0x44; return b }), ErrIPHeader},
		{"bad ip checksum", mut(func(b []byte) []byte { b[24] ^= 0xff; return b }), ErrIPHeader},
		{"tcp", mut(func(b []byte) []byte { b[23] = 6; fixIPSum(b); return b }), ErrNotIPv4UDP},
		{"fragment", mut(func(b []byte) []byte { b[20] = 0x20; fixIPSum(b); return b }), ErrFragment},
		{"truncated udp", good[:HeadersLen-3], ErrTruncated},
		{"ip length beyond frame", good[:len(good)-1], ErrTruncated},
		{"ip length short", mut(func(b []byte) []byte { b[16], b[17] = 0, 20; fixIPSum(b); return b }), ErrLength},
		{"udp length wrong", mut(func(b []byte) []byte { b[38], b[39] = 0, 9; return b }), ErrLength},
	}
	for _, c := range cases {
		if _, _, err := DecodeFrame(c.frame); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func fixIPSum(b []byte) {
	b[24], b[25] = 0, 0
	s := ^checksum(b[14:34], 0)
	b[24], b[25] = byte(s>>8), byte(s)
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(testFrame([]byte("seed")))
	f.Add(testFrame(nil))
	f.Add(testFrame(make([]byte, 1400))[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := DecodeFrame(b)
		if err != nil {
			return
		}
		// A frame that decodes re-encodes to the same headers.
		out := make([]byte, HeadersLen+len(p))
		EncodeHeaders(out, &h, len(p), 0)
		copy(out[HeadersLen:], p)
		h2, p2, err := DecodeFrame(out)
		if err != nil || h2 != h || !bytes.Equal(p, p2) {
			t.Fatalf("re-encode: %v %+v %+v", err, h, h2)
		}
	})
}

func BenchmarkDecodeFrame(b *testing.B) {
	f := testFrame(make([]byte, 64))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeFrame(f); err != nil {
			b.Fatal(err)
		}
	}
}
