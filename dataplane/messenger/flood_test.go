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
func BenchmarkFlood64(b *testing.B) {
	x := newLoopback(b, Config{})
	y := newLoopback(b, Config{})
	var got atomic.Uint64
	const opFlood = proto.Opcode(0x00F1)
	y.Handle(opFlood, func(ctx context.Context, req *Request, w *ReplyWriter) { got.Add(1) })
	msg := make([]byte, 64)
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
}
