package reliable

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/udp"
	"github.com/weft-fs/weft/proto"
)

// BenchmarkReliabilityCost measures, in one goroutine and the same run,
// the cost per message of moving 32-message batches over two kernel UDP
// sockets on loopback:
//
//	raw:      proto.Encode → SendBurst → RecvBurst → proto.Decode
//	reliable: Session.Send → Flush → SendBurst → RecvBurst → Decode →
//	          Session.Receive → Flush (ack) → SendBurst → RecvBurst →
//	          Decode → Session.Receive
//
// and reports both and their ratio (reliable/raw; the target is ≤ 1.10).
// No poller or goroutine hand-off is involved, so the difference is the
// reliability layer's own work plus its ack packets.
func BenchmarkReliabilityCost(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			ta, err := udp.Listen(udp.Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), PayloadMax: 1472})
			if err != nil {
				b.Fatal(err)
			}
			defer ta.Close()
			tb, _ := udp.Listen(udp.Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), PayloadMax: 1472})
			defer tb.Close()
			const batch = 32
			out := make([]netstack.Packet, batch)
			in := make([]netstack.Packet, batch)
			for i := range in {
				in[i].Buf = make([]byte, 2048)
				out[i].Buf = make([]byte, 2048)
			}
			msg := make([]byte, size)
			sendAll := func(t *udp.Transport, pkts []netstack.Packet) {
				for sent := 0; sent < len(pkts); {
					n, err := t.SendBurst(pkts[sent:])
					if err != nil {
						b.Fatal(err)
					}
					sent += n
				}
			}
			recvAll := func(t *udp.Transport, want int, each func(h *proto.Header, p []byte)) {
				var h proto.Header
				deadline := time.Now().Add(5 * time.Second)
				for got := 0; got < want; {
					if time.Now().After(deadline) {
						b.Fatalf("received %d of %d datagrams in 5 s (loopback dropped some)", got, want)
					}
					for i := range in {
						in[i].Buf = in[i].Buf[:cap(in[i].Buf)]
					}
					n, err := t.RecvBurst(in[:want-got])
					if err != nil {
						b.Fatal(err)
					}
					for i := 0; i < n; i++ {
						p, err := proto.Decode(in[i].Buf, &h)
						if err != nil {
							b.Fatal(err)
						}
						each(&h, p)
					}
					got += n
				}
			}

			// Reliable pair.
			pool := NewPool(1472, 1<<14)
			var txA, txB []netstack.Packet
			delivered := 0
			var now int64
			sa := NewSession(Config{Epoch: 1, Pool: pool, Reassembler: proto.NewReassembler(4, 0, 1e10),
				Transmit: func(p []byte) { txA = append(txA, netstack.Packet{Buf: p, Peer: tb.LocalAddr()}) }}, 0)
			sb := NewSession(Config{Epoch: 2, Pool: pool, Reassembler: proto.NewReassembler(4, 0, 1e10),
				Deliver:  func(h *proto.Header, m []byte) bool { delivered++; return true },
				Transmit: func(p []byte) { txB = append(txB, netstack.Packet{Buf: p, Peer: ta.LocalAddr()}) }}, 0)
			txA = make([]netstack.Packet, 0, batch)
			txB = make([]netstack.Packet, 0, batch)

			var rawNs, relNs time.Duration
			start := time.Now()
			hdr := proto.Header{Opcode: proto.OpSink, Flags: proto.FlagOneWay}
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for i := 0; i < batch; i++ {
					h := hdr
					h.MsgLen = uint32(size)
					m, _ := proto.Encode(out[i].Buf[:cap(out[i].Buf)], &h, msg)
					out[i].Buf = out[i].Buf[:m]
					out[i].Peer = tb.LocalAddr()
				}
				sendAll(ta, out)
				recvAll(tb, batch, func(*proto.Header, []byte) {})
				t1 := time.Now()
				now = int64(t1.Sub(start))
				for i := 0; i < batch; i++ {
					if err := sa.Send(now, &hdr, msg); err != nil {
						b.Fatal(err)
					}
				}
				sa.Flush(now)
				sendAll(ta, txA)
				txA = txA[:0]
				recvAll(tb, batch, func(h *proto.Header, p []byte) { sb.Receive(now, h, p) })
				sb.Flush(now)
				sendAll(tb, txB)
				acks := len(txB)
				txB = txB[:0]
				recvAll(ta, acks, func(h *proto.Header, p []byte) { sa.Receive(now, h, p) })
				t2 := time.Now()
				rawNs += t1.Sub(t0)
				relNs += t2.Sub(t1)
			}
			if delivered != b.N*batch {
				b.Fatalf("delivered %d of %d", delivered, b.N*batch)
			}
			msgs := float64(b.N * batch)
			b.ReportMetric(float64(rawNs.Nanoseconds())/msgs, "raw-ns/msg")
			b.ReportMetric(float64(relNs.Nanoseconds())/msgs, "reliable-ns/msg")
			b.ReportMetric(float64(relNs)/float64(rawNs), "reliable/raw")
		})
	}
}

// BenchmarkSessionStateMachine is the reliability layer alone: send,
// deliver and ack 32 messages between two sessions with no sockets.
func BenchmarkSessionStateMachine(b *testing.B) {
	pool := NewPool(1472, 1<<12)
	var toB, toA [][]byte
	sa := NewSession(Config{Epoch: 1, Pool: pool, Transmit: func(p []byte) { toB = append(toB, p) }}, 0)
	sb := NewSession(Config{Epoch: 2, Pool: pool, Transmit: func(p []byte) { toA = append(toA, p) }}, 0)
	msg := make([]byte, 1000)
	hdr := proto.Header{Opcode: proto.OpSink}
	var h proto.Header
	toB = make([][]byte, 0, 64)
	toA = make([][]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(32 * 1000)
	for b.Loop() {
		for i := 0; i < 32; i++ {
			sa.Send(1, &hdr, msg)
		}
		sa.Flush(1)
		for _, p := range toB {
			pl, _ := proto.Decode(p, &h)
			sb.Receive(1, &h, pl)
		}
		toB = toB[:0]
		sb.Flush(1)
		for _, p := range toA {
			pl, _ := proto.Decode(p, &h)
			sa.Receive(1, &h, pl)
		}
		toA = toA[:0]
	}
}
