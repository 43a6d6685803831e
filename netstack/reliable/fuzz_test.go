package reliable

import (
	"testing"

	"github.com/weft-fs/weft/proto"
)

// FuzzSessionReceive feeds a session arbitrary (checksum-valid) packets,
// as a buggy or hostile peer could send: whatever the fields say, the
// session must not panic, must keep its pool balanced and must still
// deliver a well-formed message afterwards.
func FuzzSessionReceive(f *testing.F) {
	f.Add(uint16(proto.FlagReliable), uint32(1), uint32(0), uint32(0), uint16(0), uint16(0), uint16(0), uint32(5), uint32(0), []byte("hello"))
	f.Add(uint16(proto.FlagReliable|proto.FlagFragment), uint32(2), uint32(1), uint32(3), uint16(1), uint16(3), uint16(1), uint32(30), uint32(10), []byte("0123456789"))
	f.Add(uint16(proto.FlagAck), uint32(0), uint32(50), uint32(0xffffffff), uint16(0), uint16(0), uint16(0), uint32(0), uint32(0), []byte{})
	f.Add(uint16(proto.FlagKeepalive|proto.FlagAck), uint32(0), uint32(1), uint32(0), uint16(0), uint16(0), uint16(0), uint32(0), uint32(0), []byte{})
	f.Fuzz(fuzzSessionOnce)
}

func fuzzSessionOnce(t *testing.T, flags uint16, seq, ack, sack uint32, window, fragIdx, fragCnt uint16, msgLen, fragOff uint32, payload []byte) {
	{
		if len(payload) > 2000 {
			payload = payload[:2000]
		}
		pool := NewPool(1472, 256)
		delivered := 0
		var sent [][]byte
		s := NewSession(Config{Epoch: 9, Pool: pool, Reassembler: proto.NewReassembler(2, 0, 1e9),
			Deliver:  func(h *proto.Header, m []byte) bool { delivered++; return true },
			Transmit: func(p []byte) { sent = append(sent, append([]byte(nil), p...)) }}, 0)
		// Something of ours in flight, so acks have a target.
		s.Send(0, &proto.Header{Opcode: proto.OpEcho}, make([]byte, 3000))
		s.Flush(0)
		h := proto.Header{Flags: proto.Flags(flags), Epoch: 5, Seq: seq, Ack: ack, SackBits: sack, Window: window,
			FragIndex: fragIdx, FragCount: fragCnt, MsgLen: msgLen, FragOffset: fragOff}
		pkt := make([]byte, proto.HeaderBytes+len(payload))
		if _, err := proto.Encode(pkt, &h, payload); err != nil {
			return
		}
		var d proto.Header
		p, err := proto.Decode(pkt, &d)
		if err != nil {
			return // the decoder already refuses it
		}
		s.Receive(1, &d, p)
		s.Flush(2)
		// A well-formed first message from the same peer still works
		// unless the fuzzed packet legitimately took sequence 1.
		ok := proto.Header{Opcode: proto.OpPing, Flags: proto.FlagReliable | proto.FlagAck, Epoch: 5, Seq: 1, Ack: 1}
		good := make([]byte, proto.HeaderBytes+2)
		ok.MsgLen = 2
		proto.Encode(good, &ok, []byte("ok"))
		p, err = proto.Decode(good, &d)
		if err != nil {
			t.Fatal(err)
		}
		before := delivered
		s.Receive(3, &d, p)
		if delivered == before && s.rcvNext == 1 {
			t.Fatalf("well-formed seq 1 not delivered after fuzzed packet %+v", h)
		}
		s.Close()
		if pool.Available() != 256 {
			t.Fatalf("pool leaked: %d of 256 free after Close", pool.Available())
		}
	}
}
