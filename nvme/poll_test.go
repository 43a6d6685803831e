package nvme_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/weft-fs/weft/internal/testkit"
	. "github.com/weft-fs/weft/nvme" // the tests read as if inside the package
)

// pump runs reqs through the poll-mode API to completion, keeping as many
// in flight as the ring takes, and returns the completions by tag.
func pump(t testing.TB, d *Drive, reqs []Request) map[uint64]error {
	t.Helper()
	got := make(map[uint64]error, len(reqs))
	out := make([]Completion, 64)
	next := 0
	for len(got) < len(reqs) {
		if next < len(reqs) {
			n, err := d.Submit(reqs[next:])
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			next += n
		}
		k := d.Poll(out)
		if k == 0 {
			if err := d.Wait(); err != nil {
				t.Fatalf("Wait: %v", err)
			}
		}
		for _, c := range out[:k] {
			if _, dup := got[c.Tag]; dup {
				t.Fatalf("tag %d completed twice", c.Tag)
			}
			got[c.Tag] = c.Err
		}
	}
	return got
}

func TestPollMode(t *testing.T) {
	for _, tg := range targets {
		for _, mode := range []CompletionMode{CompleteWait, CompleteSpin, CompleteAdaptive} {
			t.Run(tg.name+"/"+mode.String(), func(t *testing.T) {
				path := tg.make(t)
				d := formatOpen(t, path, Options{Entries: 64, Mode: mode})
				const ops = 3000 // far more than the 64-entry ring: wraps it ~50 times
				arena := AlignedBuffer(ops * BlockSize)
				if err := d.RegisterBuffers([][]byte{arena[:ops/2*BlockSize]}); err != nil {
					t.Fatal(err)
				}
				want := randomBlocks(42, ops)
				copy(arena, want)
				reqs := make([]Request, 0, ops+1)
				for i := range ops {
					reqs = append(reqs, Request{Op: OpWrite, Block: uint64(i*5) % d.Info().DataBlocks, Buf: arena[i*BlockSize : (i+1)*BlockSize], Tag: uint64(i)})
				}
				reqs = append(reqs, Request{Op: OpFlush, Tag: ops})
				for tag, err := range pump(t, d, reqs) {
					if err != nil {
						t.Fatalf("write %d: %v", tag, err)
					}
				}
				clear(arena)
				for i := range reqs[:ops] {
					reqs[i].Op = OpRead
				}
				for tag, err := range pump(t, d, reqs[:ops]) {
					if err != nil {
						t.Fatalf("read %d: %v", tag, err)
					}
				}
				if !bytes.Equal(arena, want) {
					t.Fatal("poll-mode read back differs")
				}
				// The blocking API sees the same data and checksums.
				one := AlignedBuffer(BlockSize)
				if err := d.ReadBlocks(5*77, one); err != nil || !bytes.Equal(one, want[77*BlockSize:78*BlockSize]) {
					t.Fatalf("blocking read of a poll-mode write: %v", err)
				}
				t.Logf("backend %s", d.Info().Backend)
			})
		}
	}
}

func TestPollModeCorrupt(t *testing.T) {
	path := testkit.FileDrive(t, testDriveBytes)
	d := formatOpen(t, path, Options{})
	buf := randomBlocks(5, 1)
	if err := d.WriteBlocks(9, buf); err != nil {
		t.Fatal(err)
	}
	FlipChecksum(d, 9) // as if the block had rotted
	res := pump(t, d, []Request{{Op: OpRead, Block: 9, Buf: buf, Tag: 1}})
	if !errors.Is(res[1], ErrCorrupt) || !AllZero(buf) {
		t.Fatalf("poll-mode read of a bad block: %v", res[1])
	}
}

func benchmarkSubmitPoll(b *testing.B, path string) {
	d, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const qd = 32
	arena := AlignedBuffer(qd * BlockSize)
	d.RegisterBuffers([][]byte{arena})
	reqs := make([]Request, qd)
	for i := range reqs {
		reqs[i] = Request{Op: OpWrite, Block: uint64(i * 7), Buf: arena[i*BlockSize : (i+1)*BlockSize], Tag: uint64(i)}
	}
	// Write once so reads verify real checksums.
	pump(b, d, reqs)
	for i := range reqs {
		reqs[i].Op = OpRead
	}
	out := make([]Completion, qd)
	b.ReportAllocs()
	b.SetBytes(qd * BlockSize)
	b.ResetTimer()
	for b.Loop() {
		n, _ := d.Submit(reqs)
		for done := 0; done < n; {
			k := d.Poll(out)
			if k == 0 {
				d.Wait()
			}
			for _, c := range out[:k] {
				if c.Err != nil {
					b.Fatal(c.Err)
				}
			}
			done += k
		}
	}
}

func BenchmarkSubmitPoll(b *testing.B) {
	for _, tg := range []string{"file", "tmpfs"} {
		b.Run(tg, func(b *testing.B) {
			var path string
			if tg == "file" {
				path = testkit.FileDrive(b, testDriveBytes)
			} else {
				path = testkit.TmpfsDrive(b, testDriveBytes)
			}
			if err := Format(path, FormatOptions{}); err != nil {
				b.Fatal(err)
			}
			benchmarkSubmitPoll(b, path)
		})
	}
}

func BenchmarkReadBlocks(b *testing.B) {
	path := testkit.FileDrive(b, testDriveBytes)
	if err := Format(path, FormatOptions{}); err != nil {
		b.Fatal(err)
	}
	d, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	buf := AlignedBuffer(BlockSize)
	d.WriteBlocks(3, buf)
	b.ReportAllocs()
	b.SetBytes(BlockSize)
	b.RunParallel(func(pb *testing.PB) {
		buf := AlignedBuffer(BlockSize)
		for pb.Next() {
			if err := d.ReadBlocks(3, buf); err != nil {
				panic(fmt.Sprint(err))
			}
		}
	})
}

// TestMixedAPIs runs the poll-mode API on one goroutine while eight others
// use the blocking API on the same Drive, on disjoint blocks.
func TestMixedAPIs(t *testing.T) {
	for _, tg := range targets[:3] {
		t.Run(tg.name, func(t *testing.T) {
			d := formatOpen(t, tg.make(t), Options{Entries: 32})
			errs := make(chan error, 9)
			for g := range 8 {
				go func() {
					var err error
					defer func() { errs <- err }()
					for i := range 50 {
						blk := uint64(1000 + g*100 + i)
						want := randomBlocks(blk, 1)
						if err = d.WriteBlocks(blk, want); err != nil {
							return
						}
						got := AlignedBuffer(BlockSize)
						if err = d.ReadBlocks(blk, got); err != nil {
							return
						}
						if !bytes.Equal(got, want) {
							err = fmt.Errorf("block %d differs", blk)
							return
						}
						if i%10 == 0 {
							if err = d.Flush(); err != nil {
								return
							}
						}
					}
				}()
			}
			arena := randomBlocks(7, 400)
			reqs := make([]Request, 400)
			for i := range reqs {
				reqs[i] = Request{Op: OpWrite, Block: uint64(i), Buf: arena[i*BlockSize : (i+1)*BlockSize], Tag: uint64(i)}
			}
			reqs = append(reqs, Request{Op: OpFlush, Tag: 400})
			for tag, err := range pump(t, d, reqs) {
				if err != nil {
					t.Errorf("poll-mode op %d: %v", tag, err)
				}
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}
