package fsrpc_test

// fsrpc through two real messengers on loopback to a real pool (the
// local cluster), calling the client directly.

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/internal/testkit/cluster"
	"github.com/weft-fs/weft/proto/fsmsg"
)

var root = fs.Caller{}

func newClient(t testing.TB) *cluster.Cluster {
	return cluster.New(t, cluster.Options{})
}

func TestErrnoCrossesTheWire(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	_, err := c.Client.Lookup(ctx, root, fs.RootIno, "missing")
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("lookup missing: %v, want ENOENT", err)
	}
	if _, err := c.Client.Mkdir(ctx, root, fs.RootIno, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = c.Client.Mkdir(ctx, root, fs.RootIno, "d", 0o755)
	if !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("mkdir twice: %v, want EEXIST", err)
	}
	_, err = c.Client.Lookup(ctx, root, fs.RootIno, strings.Repeat("n", 256))
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("long name: %v, want ENAMETOOLONG", err)
	}
}

// TestMalformedRequest: a body that does not decode is answered with
// EPROTO for every opcode, and the server keeps serving.
func TestMalformedRequest(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	resp := make([]byte, 64<<10)
	for op := fsmsg.OpFirst; op <= fsmsg.OpLast; op++ {
		_, err := c.Frontend.Call(ctx, c.Compute.LocalAddr(), op, []byte{0xff, 0xff, 0xff}, resp, messenger.IOHint{})
		if !errors.Is(err, syscall.EPROTO) {
			t.Errorf("%s with a 3-byte body: %v, want EPROTO", fsmsg.OpName(op), err)
		}
	}
	if _, err := c.Client.GetAttr(ctx, fs.RootIno); err != nil {
		t.Fatalf("after malformed requests: %v", err)
	}
}

func TestReadWrite(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	a, err := c.Client.Mknod(ctx, root, fs.RootIno, "f", syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := c.Client.Open(ctx, root, a.Ino, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Client.Release(ctx, h)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	at, wa, err := c.Client.Write(ctx, h, a.Ino, 4096, data, false)
	if err != nil || at != 4096 || wa.Size != 4096+1<<20 {
		t.Fatalf("write: at %d size %d %v", at, wa.Size, err)
	}
	buf := make([]byte, 1<<20)
	n, err := c.Client.Read(ctx, h, a.Ino, 4096, buf)
	if err != nil || n != len(buf) || !bytes.Equal(buf, data) {
		t.Fatalf("read: %d %v", n, err)
	}
	// Short at end of file.
	n, err = c.Client.Read(ctx, h, a.Ino, 1<<20, buf)
	if err != nil || n != 4096 || !bytes.Equal(buf[:n], data[1<<20-4096:]) {
		t.Fatalf("read at EOF: %d %v", n, err)
	}
	at, _, err = c.Client.Write(ctx, h, a.Ino, 0, []byte("tail"), true)
	if err != nil || at != 4096+1<<20 {
		t.Fatalf("append: at %d %v", at, err)
	}
}

// TestCreate: one round trip makes and opens a file; without O_EXCL an
// existing name is opened (another client made it first), with O_EXCL
// it is EEXIST.
func TestCreate(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	h, a, err := c.Client.Create(ctx, root, fs.RootIno, "f", 0o640, syscall.O_CREAT|syscall.O_RDWR)
	if err != nil || a.Mode != syscall.S_IFREG|0o640 {
		t.Fatalf("create: mode %o %v", a.Mode, err)
	}
	if _, _, err := c.Client.Write(ctx, h, a.Ino, 0, []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	c.Client.Release(ctx, h)
	h2, a2, err := c.Client.Create(ctx, root, fs.RootIno, "f", 0o600, syscall.O_CREAT|syscall.O_RDONLY)
	if err != nil || a2.Ino != a.Ino || a2.Size != 1 {
		t.Fatalf("create existing without O_EXCL: ino %d size %d %v", a2.Ino, a2.Size, err)
	}
	c.Client.Release(ctx, h2)
	if _, _, err := c.Client.Create(ctx, root, fs.RootIno, "f", 0o600, syscall.O_CREAT|syscall.O_EXCL|syscall.O_RDWR); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("create existing with O_EXCL: %v, want EEXIST", err)
	}
}

func TestReadDirPlus(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	const files = 300 // several batches
	for i := 0; i < files; i++ {
		if _, err := c.Client.Mknod(ctx, root, fs.RootIno, "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i), syscall.S_IFREG|0o600, 0); err != nil {
			t.Fatal(err)
		}
	}
	ents := make([]fs.DirEntry, 64)
	attrs := make([]fs.Attr, 64)
	seen := 0
	for cookie := uint64(0); ; {
		n, err := c.Client.ReadDirPlus(ctx, root, fs.RootIno, cookie, ents, attrs)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		for i := range ents[:n] {
			if ents[i].Name == "." || ents[i].Name == ".." {
				continue
			}
			if attrs[i].Ino != ents[i].Ino || attrs[i].Mode&0o7777 != 0o600 {
				t.Fatalf("entry %q: attr %+v", ents[i].Name, attrs[i])
			}
			seen++
		}
		cookie = ents[n-1].Cookie
	}
	if seen != files {
		t.Fatalf("listed %d files, want %d", seen, files)
	}
}

func TestXattrSizes(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	a, err := c.Client.Mknod(ctx, root, fs.RootIno, "f", syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("v"), 1000)
	if err := c.Client.SetXattr(ctx, root, a.Ino, "user.big", val, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Client.GetXattr(ctx, root, a.Ino, "user.big", nil); err != nil || n != len(val) {
		t.Fatalf("size query: %d %v", n, err)
	}
	if _, err := c.Client.GetXattr(ctx, root, a.Ino, "user.big", make([]byte, 10)); !errors.Is(err, syscall.ERANGE) {
		t.Fatalf("small buffer: %v, want ERANGE", err)
	}
	buf := make([]byte, 2000)
	if n, err := c.Client.GetXattr(ctx, root, a.Ino, "user.big", buf); err != nil || !bytes.Equal(buf[:n], val) {
		t.Fatalf("get: %d %v", n, err)
	}
	if n, err := c.Client.ListXattr(ctx, root, a.Ino, buf); err != nil || string(buf[:n]) != "user.big\x00" {
		t.Fatalf("list: %q %v", buf[:n], err)
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// BenchmarkRead4K is the client's read path over the messenger to the
// pool: run with -benchmem to see the allocations per read.
func BenchmarkRead4K(b *testing.B) {
	c := newClient(b)
	ctx := context.Background()
	a, err := c.Client.Mknod(ctx, root, fs.RootIno, "f", syscall.S_IFREG|0o644, 0)
	if err != nil {
		b.Fatal(err)
	}
	h, _, err := c.Client.Open(ctx, root, a.Ino, syscall.O_RDWR)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, _, err := c.Client.Write(ctx, h, a.Ino, 0, make([]byte, 1<<20), false); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4096)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		if _, err := c.Client.Read(ctx, h, a.Ino, (i%256)*4096, buf); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkWrite4K is the client's write path.
func BenchmarkWrite4K(b *testing.B) {
	c := newClient(b)
	ctx := context.Background()
	a, err := c.Client.Mknod(ctx, root, fs.RootIno, "f", syscall.S_IFREG|0o644, 0)
	if err != nil {
		b.Fatal(err)
	}
	h, _, err := c.Client.Open(ctx, root, a.Ino, syscall.O_RDWR)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	b.SetBytes(4096)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		if _, _, err := c.Client.Write(ctx, h, a.Ino, (i%256)*4096, data, false); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
