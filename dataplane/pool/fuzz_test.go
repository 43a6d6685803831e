package pool

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/weft-fs/weft/dataplane/journal"
)

// FuzzAppRoot: arbitrary superblock owner areas either fail to decode or
// round-trip.
func FuzzAppRoot(f *testing.F) {
	r := appRoot{Drive: 2, Drives: 5, CkptSeq: 9,
		CkptChunks: []journal.Chunk{{Drive: 0, Block: 10, Blocks: 3}, {Drive: 1, Block: 10, Blocks: 3}},
		Journal:    journal.Segment{Nonce: 77, Chunks: []journal.Chunk{{Drive: 2, Block: 100, Blocks: 1024}, {Drive: 4, Block: 5, Blocks: 1024}}}}
	r.Pool[3] = 1
	f.Add(r.encode())
	f.Add([]byte("WPOL"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAppRoot(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.encode(), b[:appRootBytes]) {
			t.Fatal("app root does not round-trip")
		}
	})
}

// FuzzCheckpointState applies arbitrary record streams (a checkpoint
// payload or journal entries) to an empty pool state: bad input is an
// error, never a panic.
func FuzzCheckpointState(f *testing.F) {
	var seed []byte
	for _, r := range []journal.Record{
		{Kind: journal.KindFSPut, FS: 1, FSDef: journal.FSDef{Name: "a", CapacityBytes: 1 << 30, Data: 3, Parity: 2}},
		{Kind: journal.KindInodePut, FS: 1, Inode: journal.Inode{Ino: 1, Mode: 0o40755, Nlink: 2, Parent: 1}},
		{Kind: journal.KindInodePut, FS: 1, Inode: journal.Inode{Ino: 2, Mode: 0o100644, Nlink: 1}},
		{Kind: journal.KindDentryPut, FS: 1, Ino: 1, Name: "f", Child: 2, Cookie: 3, Mode: 0o100000},
		{Kind: journal.KindStripePut, FS: 1, Ino: 2, Idx: 0, Rows: 1, Chunks: make([]journal.Chunk, 5)},
		{Kind: journal.KindXattrPut, FS: 1, Ino: 2, Name: "user.x", Value: []byte("y")},
		{Kind: journal.KindStripeTrunc, FS: 1, Ino: 2},
		{Kind: journal.KindDentryDel, FS: 1, Ino: 1, Name: "f"},
		{Kind: journal.KindInodeDel, FS: 1, Ino: 2},
		{Kind: journal.KindFSDel, FS: 1},
	} {
		seed = journal.Append(seed, &r)
	}
	f.Add(seed)
	f.Add([]byte{2, 3, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Options{Logger: slog.New(slog.DiscardHandler)}
		o.fill()
		p := newPool(o, [16]byte{})
		st := &state{p: p}
		journal.Records(b, st.apply)
		p.finishLoad()
		for _, fs := range p.byID {
			var r Report
			fs.check(&r) // walking whatever was built must not panic
		}
	})
}
