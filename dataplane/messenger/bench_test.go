package messenger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weft-fs/weft/proto"
)

func BenchmarkCallEcho(b *testing.B) {
	for _, size := range []int{64, 4096, 65536, 1 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			x := newLoopback(b, Config{})
			y := newLoopback(b, Config{})
			req := make([]byte, size)
			resp := make([]byte, size)
			ctx := context.Background()
			b.SetBytes(int64(2 * size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Call(ctx, y.LocalAddr(), proto.OpEcho, req, resp, IOHint{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSendOneWay(b *testing.B) {
	for _, size := range []int{64, 4096, 65536, 1 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			x := newLoopback(b, Config{})
			y := newLoopback(b, Config{})
			msg := make([]byte, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			// Timed until the receiver's handler ran for every message, so
			// the figure is delivered messages, not queued ones.
			base := y.Stats().RequestsHandled
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := x.Send(ctx, y.LocalAddr(), proto.OpSink, msg, IOHint{}); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(60 * time.Second)
			for y.Stats().RequestsHandled-base < uint64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("delivered %d of %d", y.Stats().RequestsHandled-base, b.N)
				}
				time.Sleep(50 * time.Microsecond)
			}
		})
	}
}
