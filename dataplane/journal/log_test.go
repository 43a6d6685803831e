package journal_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/nvme"
)

// drives formats and opens n real file drives.
func drives(t *testing.T, n int) []*nvme.Drive {
	t.Helper()
	var ds []*nvme.Drive
	for i := 0; i < n; i++ {
		path := testkit.FileDrive(t, 64<<20)
		if err := nvme.Format(path, nvme.FormatOptions{}); err != nil {
			t.Fatal(err)
		}
		d, err := nvme.Open(path, nvme.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		ds = append(ds, d)
	}
	return ds
}

// TestLogRollAndReplay writes entries across several small segments,
// replays them in order, then damages the tail and a mirror.
func TestLogRollAndReplay(t *testing.T) {
	ds := drives(t, 3)
	missing := map[uint16]bool{}
	devs := func(d uint16) journal.Device {
		if missing[d] || int(d) >= len(ds) {
			return nil
		}
		return ds[d]
	}
	next := uint64(0)
	nonce := uint64(100)
	alloc := func() (journal.Segment, error) {
		nonce++
		seg := journal.Segment{Nonce: nonce}
		for d := range ds {
			seg.Chunks = append(seg.Chunks, journal.Chunk{Drive: uint16(d), Block: next, Blocks: 8})
		}
		next += 8
		return seg, nil
	}
	first, _ := alloc()
	w := journal.NewWriter(devs, first, 10, alloc, nvme.AlignedBuffer(4*journal.BlockBytes))
	var want [][]byte
	for i := 0; i < 40; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 100+i*250) // 1..3 blocks each
		seq, err := w.Append(p)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
		_ = seq
	}
	if len(w.Retired) < 5 {
		t.Fatalf("only %d segments retired", len(w.Retired))
	}
	replay := func() ([][]byte, uint64) {
		var got [][]byte
		last, _, err := journal.Replay(devs, first, 10, nvme.AlignedBuffer(4*journal.BlockBytes), func(seq uint64, p []byte) error {
			got = append(got, append([]byte(nil), p...))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, last
	}
	got, last := replay()
	if len(got) != len(want) || last != w.Seq() {
		t.Fatalf("replayed %d entries to seq %d, wrote %d to seq %d", len(got), last, len(want), w.Seq())
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d differs", i)
		}
	}
	// One mirror gone: the others carry the journal.
	missing[0] = true
	if got, _ := replay(); len(got) != len(want) {
		t.Fatalf("with a mirror missing: %d entries", len(got))
	}
	missing[0] = false
	// A garbage block where the next entry would go is not an entry; a
	// stale entry of an older segment with the right sequence is not
	// either (its nonce differs).
	seg := w.Segment()
	junk := nvme.AlignedBuffer(journal.BlockBytes)
	copy(junk, "WJNL garbage")
	for _, c := range seg.Chunks {
		ds[c.Drive].WriteBlocks(c.Block+7, junk)
	}
	if got, _ := replay(); len(got) != len(want) {
		t.Fatalf("garbage after the tail: %d entries", len(got))
	}
	// Torn last entry on every mirror: replay ends one entry earlier.
	for _, c := range seg.Chunks {
		ds[c.Drive].WriteBlocks(c.Block, junk)
	}
	got, _ = replay()
	if len(got) >= len(want) {
		t.Fatalf("torn tail still replayed: %d entries", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d differs after tearing the tail", i)
		}
	}
	t.Logf("%d entries in %d segments; torn tail cut replay to %d", len(want), len(w.Retired)+1, len(got))
}

// TestCheckpointMirrors: a checkpoint reads back from any intact copy.
func TestCheckpointMirrors(t *testing.T) {
	ds := drives(t, 3)
	devs := func(d uint16) journal.Device { return ds[d] }
	payload := []byte(fmt.Sprint("records", bytes.Repeat([]byte("x"), 9000)))
	blocks := journal.CheckpointBlocks(len(payload))
	chunks := []journal.Chunk{{Drive: 0, Block: 50, Blocks: blocks}, {Drive: 1, Block: 60, Blocks: blocks}, {Drive: 2, Block: 70, Blocks: blocks}}
	buf := nvme.AlignedBuffer(int(blocks) * journal.BlockBytes)
	copy(buf[journal.BlockBytes:], payload)
	if err := journal.WriteCheckpoint(devs, chunks, 77, len(payload), buf); err != nil {
		t.Fatal(err)
	}
	alloc := func(n int) []byte { return nvme.AlignedBuffer(n) }
	// Ruin the first two copies.
	junk := nvme.AlignedBuffer(journal.BlockBytes)
	ds[0].WriteBlocks(51, junk)
	ds[1].WriteBlocks(60, junk)
	got, err := journal.ReadCheckpoint(devs, chunks, 77, alloc)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read checkpoint: %v", err)
	}
	if _, err := journal.ReadCheckpoint(devs, chunks, 78, alloc); err == nil {
		t.Fatal("wrong sequence accepted")
	}
}
