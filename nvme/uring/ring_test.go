package uring

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func newRing(t testing.TB, entries uint32, c Config) *Ring {
	t.Helper()
	r, err := New(entries, c)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestWrapAround pushes many times the ring size through a small ring, so
// every index wraps its mask hundreds of times.
func TestWrapAround(t *testing.T) {
	r := newRing(t, 8, Config{})
	if !r.SingleMmap() {
		t.Log("kernel lacks IORING_FEAT_SINGLE_MMAP; using two mappings")
	}
	const total = 10000
	seen := make([]bool, total)
	out := make([]CQE, 16)
	next, done := 0, 0
	for done < total {
		for next < total {
			sqe := r.NextSQE()
			if sqe == nil {
				break
			}
			sqe.PrepNop(uint64(next))
			next++
		}
		if _, err := r.SubmitAndWait(1); err != nil && !errors.Is(err, ErrBusy) {
			t.Fatal(err)
		}
		n := r.Reap(out)
		for _, c := range out[:n] {
			if c.Res != 0 || seen[c.UserData] {
				t.Fatalf("cqe %+v (seen %v)", c, seen[c.UserData])
			}
			seen[c.UserData] = true
		}
		done += n
	}
}

// TestCQOverflow keeps thousands of completions un-reaped with a CQ of 16,
// so the kernel parks the surplus on its overflow list; Reap must return
// every one exactly once.
func TestCQOverflow(t *testing.T) {
	r := newRing(t, 16, Config{CQEntries: 16})
	const total = 4096
	submitted := 0
	for submitted < total {
		for submitted < total {
			sqe := r.NextSQE()
			if sqe == nil {
				break
			}
			sqe.PrepNop(uint64(submitted))
			submitted++
		}
		if _, err := r.Submit(); err != nil {
			t.Fatalf("submit with %d un-reaped: %v", submitted, err)
		}
	}
	if r.Ready() != r.CQEntries() {
		t.Fatalf("CQ holds %d, want it full (%d)", r.Ready(), r.CQEntries())
	}
	if atomic := *r.sqFlags; atomic&sqCQOverflow == 0 {
		t.Fatalf("sq flags %#x: overflow flag not set with %d un-reaped", atomic, total)
	}
	seen := make([]bool, total)
	out := make([]CQE, 7) // odd size: reaps straddle the ring end
	got := 0
	for got < total {
		n := r.Reap(out)
		if n == 0 {
			t.Fatalf("Reap returned 0 after %d of %d", got, total)
		}
		for _, c := range out[:n] {
			if seen[c.UserData] {
				t.Fatalf("duplicate completion %d", c.UserData)
			}
			seen[c.UserData] = true
		}
		got += n
	}
	t.Logf("%d completions through a %d-entry CQ, kernel overflow counter %d", total, r.CQEntries(), r.Overflow())
}

// TestFileIO writes and reads a real file with O_DIRECT through registered
// buffers and a registered file, linked to an fsync, thousands in flight.
func TestFileIO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wdrv-ring.img")
	const blocks, bs = 2048, 4096
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT, 0o600)
	if err != nil {
		t.Skipf("O_DIRECT file: %v", err)
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, blocks*bs)

	r := newRing(t, 256, Config{CQEntries: 4096})
	raw := make([]byte, blocks*bs+bs)
	off := int(-uintptr(unsafe.Pointer(&raw[0])) & (bs - 1))
	arena := raw[off : off+blocks*bs]
	for i := range arena {
		arena[i] = byte(i/bs) ^ byte(i)
	}
	if err := r.RegisterBuffers([][]byte{arena}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFiles([]int32{int32(fd)}); err != nil {
		t.Fatal(err)
	}
	run := func(op Opcode) {
		next, done := 0, 0
		out := make([]CQE, 64)
		for done < blocks {
			for next < blocks {
				sqe := r.NextSQE()
				if sqe == nil {
					break
				}
				sqe.PrepRW(op, 0, arena[next*bs:(next+1)*bs], uint64(next*bs), uint64(next))
				sqe.Flags = SQEFixedFile
				sqe.BufIndex = 0
				next++
			}
			if _, err := r.Submit(); err != nil && !errors.Is(err, ErrBusy) {
				t.Fatal(err)
			}
			if err := r.Wait(1); err != nil {
				t.Fatal(err)
			}
			n := r.Reap(out)
			for _, c := range out[:n] {
				if c.Res != bs {
					t.Fatalf("op %d block %d: res %d", op, c.UserData, c.Res)
				}
			}
			done += n
		}
	}
	run(OpWriteFixed)
	// A write linked to an fsync: the fsync starts after the write.
	w := r.NextSQE()
	w.PrepRW(OpWriteFixed, 0, arena[:bs], 0, 1)
	w.Flags = SQEFixedFile | SQEIOLink
	f := r.NextSQE()
	f.PrepFsync(0, FsyncDatasync, 2)
	f.Flags = SQEFixedFile
	if _, err := r.SubmitAndWait(2); err != nil {
		t.Fatal(err)
	}
	out := make([]CQE, 2)
	if n := r.Reap(out); n != 2 || out[0].UserData != 1 || out[1].Res != 0 {
		t.Fatalf("linked write+fsync: %d %+v", n, out)
	}
	want := append([]byte(nil), arena...)
	clear(arena)
	run(OpReadFixed)
	for i := range arena {
		if arena[i] != want[i] {
			t.Fatalf("byte %d differs", i)
		}
	}
	got, _ := os.ReadFile(path)
	if string(got[:bs]) != string(want[:bs]) {
		t.Fatal("file content differs")
	}
}

func BenchmarkNop(b *testing.B) {
	r := newRing(b, 256, Config{})
	out := make([]CQE, 32)
	b.ReportAllocs()
	for b.Loop() {
		for range 32 {
			r.NextSQE().PrepNop(1)
		}
		r.SubmitAndWait(32)
		for got := 0; got < 32; {
			got += r.Reap(out)
		}
	}
}
