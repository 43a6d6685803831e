package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/internal/testkit"
)

func readAll(t *testing.T, f *pool.FS, ino fs.Ino) []byte {
	t.Helper()
	a := must(f.GetAttr(context.Background(), ino))
	b := make([]byte, a.Size+10)
	n := must(f.Read(context.Background(), 0, ino, 0, b))
	if uint64(n) != a.Size {
		t.Fatalf("read %d of %d bytes", n, a.Size)
	}
	return b[:n]
}

// model is the reference a file's contents are compared with.
type model []byte

func (m *model) write(off int, p []byte) {
	if end := off + len(p); end > len(*m) {
		*m = append(*m, make([]byte, end-len(*m))...)
	}
	copy((*m)[off:], p)
}

func (m *model) truncate(n int) {
	if n < len(*m) {
		*m = (*m)[:n]
	} else {
		*m = append(*m, make([]byte, n-len(*m))...)
	}
}

// TestRandomIO runs random writes, truncates, reads and flushes against a
// model, across several stripes, then reopens and compares again.
func TestRandomIO(t *testing.T) {
	ctx := context.Background()
	p, f, paths := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "r", syscall.S_IFREG|0o644, 0))
	h, _, _ := f.Open(ctx, root, a.Ino, syscall.O_RDWR)
	var m model
	rng := rand.New(rand.NewSource(7))
	span := 5 * 3 * stripe.ChunkBytes
	for i := 0; i < 400; i++ {
		switch op := rng.Intn(10); {
		case op < 6:
			off := rng.Intn(span)
			b := make([]byte, 1+rng.Intn(100000))
			rng.Read(b)
			must3(f.Write(ctx, h, a.Ino, int64(off), b, false))
			m.write(off, b)
		case op < 7:
			n := rng.Intn(span)
			must(f.SetAttr(ctx, root, a.Ino, fs.SetAttrIn{Valid: fs.SetSize, Size: uint64(n)}))
			m.truncate(n)
		case op < 8:
			wantErr(t, "fsync", f.Fsync(ctx, h, a.Ino, false), 0)
		default:
			off := rng.Intn(span)
			b := make([]byte, rng.Intn(200000))
			n := must(f.Read(ctx, h, a.Ino, int64(off), b))
			want := 0
			if off < len(m) {
				want = min(len(b), len(m)-off)
			}
			if n != want || !bytes.Equal(b[:n], m[off:off+n]) {
				t.Fatalf("op %d: read at %d: %d bytes, want %d (equal %v)", i, off, n, want, bytes.Equal(b[:n], m[off:min(len(m), off+n)]))
			}
		}
	}
	if got := readAll(t, f, a.Ino); !bytes.Equal(got, m) {
		t.Fatal("contents differ from model")
	}
	f.Release(ctx, h)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	rep := must(pool.Check(paths))
	if !rep.Clean() {
		t.Fatalf("check: %v", rep.Problems)
	}
	p2 := must(pool.Open(paths, pool.Options{}))
	defer p2.Close()
	f2 := must(p2.FS("fs"))
	if got := readAll(t, f2, a.Ino); !bytes.Equal(got, m) {
		t.Fatal("contents differ from model after reopen")
	}
}

func TestSparseAndTruncate(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "s", syscall.S_IFREG|0o644, 0))
	// One byte at 1 GiB: a hole before it takes no space.
	must3(f.Write(ctx, 0, a.Ino, 1<<30, []byte{7}, false))
	at := must(f.GetAttr(ctx, a.Ino))
	if at.Size != 1<<30+1 {
		t.Fatalf("size %d", at.Size)
	}
	if at.Blocks > 8*3*stripe.RowsMax { // at most the one stripe holding it
		t.Fatalf("sparse file uses %d blocks", at.Blocks)
	}
	b := make([]byte, 8192)
	n := must(f.Read(ctx, 0, a.Ino, 1<<30-8191, b))
	if n != 8192 || b[8191] != 7 || !bytes.Equal(b[:8191], make([]byte, 8191)) {
		t.Fatalf("read around the data: n=%d last=%d", n, b[8191])
	}
	// Shrink into the middle of a stripe, then grow: the tail reads zero.
	d := content(50)[:300000]
	must3(f.Write(ctx, 0, a.Ino, 0, d, false))
	f.Fsync(ctx, 0, a.Ino, false)
	must(f.SetAttr(ctx, root, a.Ino, fs.SetAttrIn{Valid: fs.SetSize, Size: 1000}))
	must(f.SetAttr(ctx, root, a.Ino, fs.SetAttrIn{Valid: fs.SetSize, Size: 300000}))
	got := readAll(t, f, a.Ino)
	if !bytes.Equal(got[:1000], d[:1000]) || !bytes.Equal(got[1000:], make([]byte, 299000)) {
		t.Fatal("truncate then extend does not read zeros")
	}
	// O_TRUNC.
	h, at2, err := f.Open(ctx, root, a.Ino, syscall.O_RDWR|syscall.O_TRUNC)
	if err != nil || at2.Size != 0 || at2.Blocks != 0 {
		t.Fatalf("O_TRUNC: %v size %d blocks %d", err, at2.Size, at2.Blocks)
	}
	f.Release(ctx, h)
	if u := f.Info().UsedBytes; u != 0 {
		t.Fatalf("used %d after truncating to 0", u)
	}
}

func TestAppendAtomic(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "log", syscall.S_IFREG|0o666, 0))
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			h, _, err := f.Open(ctx, root, a.Ino, syscall.O_WRONLY|syscall.O_APPEND)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Release(ctx, h)
			for i := 0; i < lines; i++ {
				line := fmt.Sprintf("writer %d line %04d %s\n", w, i, strings.Repeat("x", w*100))
				if _, _, err := f.Write(ctx, h, a.Ino, 0, []byte(line), false); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(string(readAll(t, f, a.Ino)), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	next := make([]int, writers)
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &w, &i); err != nil || i != next[w] || len(l) != len(fmt.Sprintf("writer %d line %04d ", w, i))+w*100 {
			t.Fatalf("interleaved line %q", l)
		}
		next[w]++
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	// Many goroutines, each its own file, plus all of them on one shared
	// file at disjoint ranges.
	shared := must(f.Mknod(ctx, root, fs.RootIno, "shared", syscall.S_IFREG|0o644, 0))
	const workers = 8
	const chunk = 50000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			a, err := f.Mknod(ctx, root, fs.RootIno, fmt.Sprintf("own%d", w), syscall.S_IFREG|0o644, 0)
			if err != nil {
				t.Error(err)
				return
			}
			data := content(100 + w)
			for off := 0; off < len(data); off += 7000 {
				f.Write(ctx, 0, a.Ino, int64(off), data[off:min(off+7000, len(data))], false)
			}
			mine := bytes.Repeat([]byte{byte(w + 1)}, chunk)
			for off := 0; off < chunk; off += 7000 {
				f.Write(ctx, 0, shared.Ino, int64(w*chunk+off), mine[off:min(off+7000, chunk)], false)
			}
			f.Fsync(ctx, 0, a.Ino, false)
		}(w)
	}
	wg.Wait()
	for w := 0; w < workers; w++ {
		a := must(f.Lookup(ctx, root, fs.RootIno, fmt.Sprintf("own%d", w)))
		if !bytes.Equal(readAll(t, f, a.Ino), content(100+w)) {
			t.Fatalf("own%d differs", w)
		}
	}
	got := readAll(t, f, shared.Ino)
	if len(got) != workers*chunk {
		t.Fatalf("shared size %d", len(got))
	}
	for w := 0; w < workers; w++ {
		if !bytes.Equal(got[w*chunk:(w+1)*chunk], bytes.Repeat([]byte{byte(w + 1)}, chunk)) {
			t.Fatalf("shared range of writer %d differs", w)
		}
	}
}

func TestENOSPC(t *testing.T) {
	ctx := context.Background()
	// A 2 MiB file system: exactly 2 MiB of data fits, then ENOSPC, and
	// nothing written before is damaged; deleting frees the space.
	p, f, paths := testkit.NewPool(t, 5, testkit.PoolDriveBytes, 2<<20, 3, 2, pool.Options{})
	a := must(f.Mknod(ctx, root, fs.RootIno, "fill", syscall.S_IFREG|0o644, 0))
	data := bytes.Repeat(content(3), 3)
	off := 0
	var err error
	for ; ; off += 65536 {
		_, _, err = f.Write(ctx, 0, a.Ino, int64(off), data[:65536], false)
		if err != nil {
			break
		}
	}
	wantErr(t, "write past capacity", err, syscall.ENOSPC)
	// Space is counted in rows of N blocks, so the last stripe may stop
	// short of the capacity by less than one write's rows.
	if off > 2<<20 || off < 2<<20-2*65536 {
		t.Fatalf("wrote %d bytes before ENOSPC, capacity %d", off, 2<<20)
	}
	st := must(f.StatFS(ctx))
	if st.BlocksFree*4096 >= 2*65536 {
		t.Fatalf("statfs free %d at full", st.BlocksFree)
	}
	wantErr(t, "fsync at full", f.Fsync(ctx, 0, a.Ino, false), 0)
	for o := 0; o < off; o += 65536 {
		b := make([]byte, 65536)
		must(f.Read(ctx, 0, a.Ino, int64(o), b))
		if !bytes.Equal(b, data[:65536]) {
			t.Fatalf("data at %d damaged after ENOSPC", o)
		}
	}
	// Freed space is usable again.
	wantErr(t, "unlink", f.Unlink(ctx, root, fs.RootIno, "fill"), 0)
	b := must(f.Mknod(ctx, root, fs.RootIno, "again", syscall.S_IFREG|0o644, 0))
	for o := 0; o < off; o += 65536 {
		if _, _, err := f.Write(ctx, 0, b.Ino, int64(o), data[:65536], false); err != nil {
			t.Fatalf("rewrite after free at %d: %v", o, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := must(pool.Check(paths)); !rep.Clean() {
		t.Fatal(rep.Problems)
	}
}

func TestPoolFull(t *testing.T) {
	ctx := context.Background()
	// Small drives: the pool fills before the file system's capacity.
	paths := testkit.PoolDrives(t, 5, 48<<20)
	p := must(pool.Create(paths, pool.Options{}))
	defer p.Close()
	err := p.CreateFS("big", 1<<40, 3, 2)
	if !errors.Is(err, pool.ErrNoSpace) || !strings.Contains(err.Error(), "raw bytes") {
		t.Fatalf("oversized fs: %v", err)
	}
	if err := p.CreateFS("fs", 60<<20, 3, 2); err != nil {
		t.Fatal(err)
	}
	f := must(p.FS("fs"))
	data := bytes.Repeat(content(4), 3)[:65536]
	var werr error
	files := 0
	for ; werr == nil && files < 10000; files++ {
		a := must(f.Mknod(ctx, root, fs.RootIno, fmt.Sprintf("f%d", files), syscall.S_IFREG|0o644, 0))
		for o := 0; o < 1<<20 && werr == nil; o += len(data) {
			_, _, werr = f.Write(ctx, 0, a.Ino, int64(o), data, false)
		}
	}
	wantErr(t, "fill pool", werr, syscall.ENOSPC)
	if err := p.Flush(); err != nil {
		t.Fatalf("flush at full: %v", err)
	}
	for i := 0; i < files-1; i++ {
		wantErr(t, "unlink", f.Unlink(ctx, root, fs.RootIno, fmt.Sprintf("f%d", i)), 0)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	a := must(f.Mknod(ctx, root, fs.RootIno, "after", syscall.S_IFREG|0o644, 0))
	for o := 0; o < 8<<20; o += len(data) {
		if _, _, err := f.Write(ctx, 0, a.Ino, int64(o), data, false); err != nil {
			t.Fatalf("write after freeing: %v", err)
		}
	}
	wantErr(t, "fsync", f.Fsync(ctx, 0, a.Ino, false), 0)
}

func TestProtectionErrors(t *testing.T) {
	paths := testkit.PoolDrives(t, 5, 64<<20)
	p := must(pool.Create(paths, pool.Options{}))
	defer p.Close()
	for _, c := range []struct {
		n, p int
		msg  string
	}{
		{2, 2, "protection 2+2 is out of range: data drives must be 3..16 and parity 2 or 4"},
		{17, 2, "protection 17+2 is out of range"},
		{3, 3, "protection 3+3 is out of range"},
		{16, 2, "protection 16+2 needs 18 drives, pool has 5"},
		{3, 4, "protection 3+4 needs 7 drives, pool has 5"},
	} {
		err := p.CreateFS("x", 1<<20, c.n, c.p)
		if !errors.Is(err, stripe.ErrProtection) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%d+%d: %v, want %q", c.n, c.p, err, c.msg)
		}
	}
	if err := p.CreateFS("ok", 1<<20, 3, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateFS("ok", 1<<20, 3, 2); !errors.Is(err, pool.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := p.FS("nope"); !errors.Is(err, pool.ErrNotFound) {
		t.Fatalf("missing fs: %v", err)
	}
	if err := p.DeleteFS("ok"); err != nil {
		t.Fatal(err)
	}
	if len(p.ListFS()) != 0 {
		t.Fatal("fs still listed")
	}
	if _, err := pool.Create(paths[:4], pool.Options{}); !errors.Is(err, pool.ErrDrives) {
		t.Fatalf("4 drives: %v", err)
	}
}

// TestSeveralFileSystems keeps two file systems of different protection
// in one pool across a reopen.
func TestSeveralFileSystems(t *testing.T) {
	ctx := context.Background()
	paths := testkit.PoolDrives(t, 7, 128<<20)
	p := must(pool.Create(paths, pool.Options{}))
	if err := p.CreateFS("a", 64<<20, 3, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateFS("b", 64<<20, 3, 4); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		f := must(p.FS(name))
		x := must(f.Mknod(ctx, root, fs.RootIno, "x", syscall.S_IFREG|0o644, 0))
		must3(f.Write(ctx, 0, x.Ino, 0, content(i), false))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = must(pool.Open(paths, pool.Options{}))
	defer p.Close()
	if l := p.ListFS(); len(l) != 2 || l[1].Parity != 4 {
		t.Fatalf("list %+v", l)
	}
	for i, name := range []string{"a", "b"} {
		f := must(p.FS(name))
		x := must(f.Lookup(ctx, root, fs.RootIno, "x"))
		if !bytes.Equal(readAll(t, f, x.Ino), content(i)) {
			t.Fatalf("fs %s differs", name)
		}
	}
}

// TestTwoDrivesLost overwrites two drives' data areas with garbage while
// the pool runs, then deletes them and reopens: every file reads back
// identical through parity, and Health reports the degraded reads.
func TestTwoDrivesLost(t *testing.T) {
	ctx := context.Background()
	p, f, paths := newFS(t)
	const files = 30
	for i := 0; i < files; i++ {
		a := must(f.Mknod(ctx, root, fs.RootIno, fmt.Sprintf("f%d", i), syscall.S_IFREG|0o644, 0))
		must3(f.Write(ctx, 0, a.Ino, 0, content(i*1000+7), false))
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	// Evict the cache so reads go to the drives.
	p2 := reopen(t, p, paths)
	f = must(p2.FS("fs"))
	garbage := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(garbage)
	for _, path := range paths[1:3] {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := w.Stat()
		// Everything after the two superblock blocks: checksum table and
		// data region.
		for off := int64(8 << 10); off < min(st.Size(), 32<<20); off += int64(len(garbage)) {
			w.WriteAt(garbage, off)
		}
		w.Close()
	}
	verify := func(f *pool.FS) {
		for i := 0; i < files; i++ {
			a := must(f.Lookup(ctx, root, fs.RootIno, fmt.Sprintf("f%d", i)))
			want := content(i*1000 + 7)
			// Small reads first (straight from the data chunks, falling
			// back to reconstruction), then the whole file.
			for off := 0; off < len(want); off += 50000 {
				b := make([]byte, 5000)
				n := must(f.Read(ctx, 0, a.Ino, int64(off), b))
				if !bytes.Equal(b[:n], want[off:min(off+5000, len(want))]) {
					t.Fatalf("f%d: small read at %d differs", i, off)
				}
			}
			if !bytes.Equal(readAll(t, f, a.Ino), want) {
				t.Fatalf("f%d differs", i)
			}
		}
	}
	verify(f)
	h := p2.Health()
	if !h.Degraded || h.ReconstructedReads == 0 {
		t.Fatalf("health after garbage: %+v", h)
	}
	t.Logf("reconstructed reads %d, chunks %d", h.ReconstructedReads, h.ReconstructedChunk)
	pool.Abandon(p2)
	// Now the two drive files are gone altogether.
	os.Remove(paths[1])
	os.Remove(paths[2])
	p3 := must(pool.Open(paths, pool.Options{}))
	f3 := must(p3.FS("fs"))
	verify(f3)
	h = p3.Health()
	if !h.Degraded || h.Drives[1].Present && h.Drives[2].Present {
		t.Fatalf("health after delete: %+v", h)
	}
	// Writes go on with two drives missing (degraded stripes), survive a
	// reopen and pass Check.
	a := must(f3.Mknod(ctx, root, fs.RootIno, "degraded", syscall.S_IFREG|0o644, 0))
	dd := content(4242)
	must3(f3.Write(ctx, 0, a.Ino, 0, dd, false))
	wantErr(t, "fsync degraded", f3.Fsync(ctx, 0, a.Ino, false), 0)
	if err := p3.Close(); err != nil {
		t.Fatal(err)
	}
	rep := must(pool.Check(paths))
	if !rep.Clean() || rep.DegradedChunks == 0 {
		t.Fatalf("check with two drives gone: clean %v degraded chunks %d: %v", rep.Clean(), rep.DegradedChunks, rep.Problems)
	}
	p4 := must(pool.Open(paths, pool.Options{}))
	defer p4.Close()
	f4 := must(p4.FS("fs"))
	verify(f4)
	if !bytes.Equal(readAll(t, f4, must(f4.Lookup(ctx, root, fs.RootIno, "degraded")).Ino), dd) {
		t.Fatal("degraded write differs")
	}
}

func reopen(t *testing.T, p *pool.Pool, paths []string) *pool.Pool {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return must(pool.Open(paths, pool.Options{}))
}

func TestStatFS(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	st := must(f.StatFS(ctx))
	if st.BlockSize != 4096 || st.Blocks != 256<<20/4096 || st.BlocksFree != st.Blocks || st.NameMax != 255 {
		t.Fatalf("statfs %+v", st)
	}
	a := must(f.Mknod(ctx, root, fs.RootIno, "x", syscall.S_IFREG|0o644, 0))
	must3(f.Write(ctx, 0, a.Ino, 0, make([]byte, 3*65536), false))
	st2 := must(f.StatFS(ctx))
	if st.BlocksFree-st2.BlocksFree != 48 {
		t.Fatalf("192 KiB used %d blocks", st.BlocksFree-st2.BlocksFree)
	}
}

func TestBadHandles(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "x", syscall.S_IFREG|0o644, 0))
	d := must(f.Mkdir(ctx, root, fs.RootIno, "d", 0o755))
	h, _, _ := f.Open(ctx, root, a.Ino, syscall.O_RDONLY)
	_, _, err := f.Write(ctx, h, a.Ino, 0, []byte("x"), false)
	wantErr(t, "write on read-only handle", err, syscall.EBADF)
	_, err = f.Read(ctx, 999, a.Ino, 0, make([]byte, 1))
	wantErr(t, "unknown handle", err, syscall.EBADF)
	_, _, err = f.Open(ctx, root, d.Ino, syscall.O_WRONLY)
	wantErr(t, "open dir for write", err, syscall.EISDIR)
	_, err = f.Read(ctx, 0, d.Ino, 0, make([]byte, 1))
	wantErr(t, "read dir", err, syscall.EISDIR)
	_, err = f.SetAttr(ctx, root, d.Ino, fs.SetAttrIn{Valid: fs.SetSize})
	wantErr(t, "truncate dir", err, syscall.EISDIR)
}

// TestRebuild: on seven drives, two are lost; Rebuild moves every stripe
// with a chunk on them to the five others, after which two more can be
// lost without losing data.
func TestRebuild(t *testing.T) {
	ctx := context.Background()
	paths := testkit.PoolDrives(t, 7, 128<<20)
	p := must(pool.Create(paths, pool.Options{}))
	if err := p.CreateFS("fs", 64<<20, 3, 2); err != nil {
		t.Fatal(err)
	}
	f := must(p.FS("fs"))
	const files = 20
	for i := 0; i < files; i++ {
		a := must(f.Mknod(ctx, root, fs.RootIno, fmt.Sprintf("f%d", i), syscall.S_IFREG|0o644, 0))
		must3(f.Write(ctx, 0, a.Ino, 0, content(i*31+5), false))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(paths[0])
	os.Remove(paths[4])
	p = must(pool.Open(paths, pool.Options{}))
	n := must(p.Rebuild(ctx))
	if n == 0 {
		t.Fatal("nothing rebuilt")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	rep := must(pool.Check(paths))
	if !rep.Clean() || rep.DegradedChunks != 0 {
		t.Fatalf("after rebuild: clean %v degraded %d: %v", rep.Clean(), rep.DegradedChunks, rep.Problems)
	}
	os.Remove(paths[1])
	os.Remove(paths[2])
	p = must(pool.Open(paths, pool.Options{}))
	defer p.Close()
	f = must(p.FS("fs"))
	for i := 0; i < files; i++ {
		a := must(f.Lookup(ctx, root, fs.RootIno, fmt.Sprintf("f%d", i)))
		if !bytes.Equal(readAll(t, f, a.Ino), content(i*31+5)) {
			t.Fatalf("f%d differs after losing four drives over time", i)
		}
	}
	t.Logf("rebuilt %d stripes", n)
}
