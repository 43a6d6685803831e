package pool_test

import (
	"bytes"
	"context"
	"math/rand"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/internal/testkit"
)

var root = fs.Caller{}

func TestBasicDurable(t *testing.T) {
	ctx := context.Background()
	p, f, paths := testkit.NewPool(t, 5, testkit.PoolDriveBytes, 256<<20, 3, 2, pool.Options{})
	d, err := f.Mkdir(ctx, root, fs.RootIno, "dir", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Mknod(ctx, root, d.Ino, "file", syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := f.Open(ctx, root, a.Ino, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20+12345)
	rand.New(rand.NewSource(1)).Read(data)
	if _, _, err := f.Write(ctx, h, a.Ino, 100, data, false); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if n, err := f.Read(ctx, h, a.Ino, 100, got); err != nil || n != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("read back: n=%d err=%v equal=%v", n, err, bytes.Equal(got, data))
	}
	if err := f.Fsync(ctx, h, a.Ino, false); err != nil {
		t.Fatal(err)
	}
	f.Release(ctx, h)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2, err := pool.Open(paths, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	f2, err := p2.FS("fs")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := f2.Lookup(ctx, root, fs.RootIno, "dir")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := f2.Lookup(ctx, root, d2.Ino, "file")
	if err != nil {
		t.Fatal(err)
	}
	if a2.Size != uint64(len(data)+100) {
		t.Fatalf("size %d", a2.Size)
	}
	got = make([]byte, len(data)+100)
	if n, err := f2.Read(ctx, 0, a2.Ino, 0, got); err != nil || n != len(got) || !bytes.Equal(got[100:], data) || !bytes.Equal(got[:100], make([]byte, 100)) {
		t.Fatalf("read after reopen: n=%d err=%v", n, err)
	}
}
