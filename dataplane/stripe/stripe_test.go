package stripe

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
)

func TestCheckProtection(t *testing.T) {
	for _, c := range []struct {
		n, p int
		ok   bool
	}{{3, 2, true}, {16, 2, true}, {16, 4, true}, {3, 4, true}, {2, 2, false}, {17, 2, false}, {4, 3, false}, {8, 0, false}} {
		err := CheckProtection(c.n, c.p)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrProtection)) {
			t.Errorf("%d+%d: %v", c.n, c.p, err)
		}
	}
}

// TestLayoutCopy checks CopyIn/CopyOut/Zero against a flat model over
// every offset class.
func TestLayoutCopy(t *testing.T) {
	l, err := NewLayout(5, 2)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, l.BufferBytes())
	model := make([]byte, l.DataBytes())
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		off := rng.Int63n(l.DataBytes())
		n := rng.Int63n(l.DataBytes() - off)
		switch rng.Intn(3) {
		case 0:
			src := make([]byte, n)
			rng.Read(src)
			l.CopyIn(buf, off, src)
			copy(model[off:], src)
		case 1:
			l.Zero(buf, off, off+n)
			clear(model[off : off+n])
		default:
			dst := make([]byte, n)
			l.CopyOut(dst, buf, off)
			if !bytes.Equal(dst, model[off:off+n]) {
				t.Fatalf("copy out at %d+%d differs", off, n)
			}
		}
	}
	if l.RowsFor(1) != 1 || l.RowsFor(5*4096) != 1 || l.RowsFor(5*4096+1) != 2 || l.RowsFor(l.DataBytes()) != RowsMax {
		t.Fatal("RowsFor")
	}
}

// TestEncodeReconstruct: any P chunks may be lost. The drives here are
// only the codec's shards; the pool tests run it on real drives.
func TestEncodeReconstruct(t *testing.T) {
	for _, np := range [][2]int{{3, 2}, {8, 4}, {16, 2}} {
		l, _ := NewLayout(np[0], np[1])
		buf := make([]byte, l.BufferBytes())
		rand.New(rand.NewSource(2)).Read(buf[:l.N*ChunkBytes])
		rows := uint32(7)
		for i := 0; i < l.N; i++ {
			clear(buf[i*ChunkBytes+int(rows)*RowBytes : (i+1)*ChunkBytes])
		}
		want := append([]byte(nil), buf[:l.N*ChunkBytes]...)
		shards := make([][]byte, 0, l.N+l.P)
		if err := l.Encode(buf, rows, shards); err != nil {
			t.Fatal(err)
		}
		sh := l.Shards(buf, rows, shards)
		for k := 0; k < l.P; k++ {
			clear(sh[k*2%l.N])
			sh[k*2%l.N] = sh[k*2%l.N][:0]
		}
		if err := l.enc.ReconstructData(sh); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:l.N*ChunkBytes], want) {
			t.Fatalf("%d+%d: reconstruction differs", l.N, l.P)
		}
	}
}
