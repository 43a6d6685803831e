package pool_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/nvme"
	"golang.org/x/sys/unix"
)

func benchFile(b *testing.B) (*pool.FS, fs.Ino, uint64) {
	b.Helper()
	_, f, _ := testkit.NewPool(b, 5, testkit.PoolDriveBytes, 512<<20, 3, 2, pool.Options{})
	ctx := context.Background()
	a, err := f.Mknod(ctx, root, fs.RootIno, "bench", syscall.S_IFREG|0o644, 0)
	if err != nil {
		b.Fatal(err)
	}
	h, _, err := f.Open(ctx, root, a.Ino, syscall.O_RDWR)
	if err != nil {
		b.Fatal(err)
	}
	return f, a.Ino, h
}

// BenchmarkWriteCached4K: 4 KiB writes into one stripe held in the
// write-back cache (the hot path of small sequential writes).
func BenchmarkWriteCached4K(b *testing.B) {
	f, ino, h := benchFile(b)
	ctx := context.Background()
	buf := make([]byte, 4096)
	f.Write(ctx, h, ino, 0, make([]byte, 192<<10), false)
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := f.Write(ctx, h, ino, int64(i%48)*4096, buf, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadCached4K: 4 KiB reads from a cached stripe.
func BenchmarkReadCached4K(b *testing.B) {
	f, ino, h := benchFile(b)
	ctx := context.Background()
	buf := make([]byte, 4096)
	f.Write(ctx, h, ino, 0, make([]byte, 192<<10), false)
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Read(ctx, h, ino, int64(i%48)*4096, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFsync1M: 1 MiB writes, each made durable (encode,
// allocate, write five chunks per stripe, flush, journal commit).
func BenchmarkWriteFsync1M(b *testing.B) {
	f, ino, h := benchFile(b)
	ctx := context.Background()
	buf := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := f.Write(ctx, h, ino, int64(i%64)<<20, buf, false); err != nil {
			b.Fatal(err)
		}
		if err := f.Fsync(ctx, h, ino, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadUncached1M: 1 MiB reads that go to the drives.
func BenchmarkReadUncached1M(b *testing.B) {
	_, f, paths := testkit.NewPool(b, 5, testkit.PoolDriveBytes, 512<<20, 3, 2, pool.Options{CacheBytes: 8 << 20})
	_ = paths
	ctx := context.Background()
	a, _ := f.Mknod(ctx, root, fs.RootIno, "r", syscall.S_IFREG|0o644, 0)
	buf := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		f.Write(ctx, 0, a.Ino, int64(i)<<20, buf, false)
	}
	f.Fsync(ctx, 0, a.Ino, false)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Read(ctx, 0, a.Ino, int64(i%64)<<20, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreate: create of an empty file (metadata only).
func BenchmarkCreate(b *testing.B) {
	_, f, _ := testkit.NewPool(b, 5, testkit.PoolDriveBytes, 512<<20, 3, 2, pool.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Mknod(ctx, root, fs.RootIno, fmt.Sprintf("c%d", i), syscall.S_IFREG|0o644, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// refFile is the reference the data benchmarks compare with: one plain
// file on the file system holding the drive files, O_DIRECT like the
// drives.
func refFile(b *testing.B) *os.File {
	path := filepath.Join(b.TempDir(), "wfs-ref.img")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_DIRECT, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkRefWriteFsync1M: the reference for BenchmarkWriteFsync1M.
func BenchmarkRefWriteFsync1M(b *testing.B) {
	f := refFile(b)
	buf := nvme.AlignedBuffer(1 << 20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(buf, int64(i%64)<<20); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefRead1M: the reference for BenchmarkReadUncached1M.
func BenchmarkRefRead1M(b *testing.B) {
	f := refFile(b)
	buf := nvme.AlignedBuffer(1 << 20)
	for i := 0; i < 64; i++ {
		f.WriteAt(buf, int64(i)<<20)
	}
	f.Sync()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.ReadAt(buf, int64(i%64)<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadUncached4K: random 4 KiB reads of a file on the drives.
func BenchmarkReadUncached4K(b *testing.B) {
	_, f, _ := testkit.NewPool(b, 5, testkit.PoolDriveBytes, 512<<20, 3, 2, pool.Options{})
	ctx := context.Background()
	a, _ := f.Mknod(ctx, root, fs.RootIno, "r", syscall.S_IFREG|0o644, 0)
	buf := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		f.Write(ctx, 0, a.Ino, int64(i)<<20, buf, false)
	}
	f.Fsync(ctx, 0, a.Ino, false)
	f.Release(ctx, 0)
	p2 := reopenB(b, f)
	_ = p2
	small := make([]byte, 4096)
	rng := rand.New(rand.NewSource(1))
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Read(ctx, 0, a.Ino, rng.Int63n(16384)*4096, small); err != nil {
			b.Fatal(err)
		}
	}
}

// reopenB drops f's cache so reads go to the drives.
func reopenB(b *testing.B, f *pool.FS) *pool.FS {
	if err := f.DropCache(); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkRefRead4K: the reference for BenchmarkReadUncached4K.
func BenchmarkRefRead4K(b *testing.B) {
	f := refFile(b)
	buf := nvme.AlignedBuffer(1 << 20)
	for i := 0; i < 64; i++ {
		f.WriteAt(buf, int64(i)<<20)
	}
	f.Sync()
	small := buf[:4096]
	rng := rand.New(rand.NewSource(1))
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.ReadAt(small, rng.Int63n(16384)*4096); err != nil {
			b.Fatal(err)
		}
	}
}
