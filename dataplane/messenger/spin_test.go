package messenger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/proto"
)

func BenchmarkCallSpin(b *testing.B) {
	for _, spin := range []time.Duration{time.Nanosecond, 5 * time.Microsecond, 50 * time.Microsecond} {
		b.Run(fmt.Sprint(spin), func(b *testing.B) {
			pc := poller.Config{SpinBeforeSleep: spin}
			x := newLoopback(b, Config{Poller: pc})
			y := newLoopback(b, Config{Poller: pc})
			req := make([]byte, 4096)
			resp := make([]byte, 4096)
			for b.Loop() {
				if _, err := x.Call(context.Background(), y.LocalAddr(), proto.OpEcho, req, resp, IOHint{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
