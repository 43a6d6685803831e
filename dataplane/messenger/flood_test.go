package messenger

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-fs/weft/proto"
)

// BenchmarkFlood64 is bench/net's one-way pattern: 32 goroutines send
// 64-byte messages as fast as Send returns; it reports delivered
// messages per second.
func BenchmarkFlood64(b *testing.B) { benchFlood(b, 64) }

// BenchmarkFlood4K is the same with 4 KiB messages.
func BenchmarkFlood4K(b *testing.B) { benchFlood(b, 4096) }

// BenchmarkFlood64K is the same with 64 KiB messages (several packets).
func BenchmarkFlood64K(b *testing.B) { benchFlood(b, 64<<10) }

func benchFlood(b *testing.B, size int) {
	x := newLoopback(b, Config{})
	y := newLoopback(b, Config{})
	var got atomic.Uint64
	const opFlood = proto.Opcode(0x00F1)
	y.Handle(opFlood, func(ctx context.Context, req *Request, w *ReplyWriter) { got.Add(1) })
	msg := make([]byte, size)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				x.Send(context.Background(), y.LocalAddr(), opFlood, msg, IOHint{})
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	before := got.Load()
	t0 := time.Now()
	time.Sleep(time.Second)
	n := got.Load() - before
	el := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	s := x.Stats()
	b.ReportMetric(float64(s.Retransmits)/float64(max(s.PacketsOut, 1)), "retx/pkt")
	b.ReportMetric(float64(x.loops[0].peerList[0].sess.Counters().CongestionWindow), "cwnd")
	b.ReportMetric(float64(s.Transports[0].SendDrops+y.Stats().Transports[0].SendDrops), "senddrops")
	b.ReportMetric(float64(s.FastRetransmits), "fastretx")
}
