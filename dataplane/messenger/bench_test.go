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
			n := uint64(0)
			for b.Loop() {
				if err := x.Send(ctx, y.LocalAddr(), proto.OpSink, msg, IOHint{}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			deadline := time.Now().Add(30 * time.Second)
			for y.Stats().RequestsHandled < n && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
}
