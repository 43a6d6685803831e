package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"
)

func sampleRecords() []Record {
	return []Record{
		{Kind: KindPool, FS: 3, Value: bytes.Repeat([]byte{1}, 48)},
		{Kind: KindFSPut, FS: 1, FSDef: FSDef{Name: "scratch", CapacityBytes: 1 << 40, Data: 3, Parity: 2}},
		{Kind: KindFSDel, FS: 2},
		{Kind: KindInodePut, FS: 1, Ino: 1 << 48, Inode: Inode{Ino: 1 << 48, Mode: 0o100644, Nlink: 1, Uid: 1000, Gid: 100,
			Size: 12345, AtimeNs: -5, MtimeNs: 1 << 60, CtimeNs: 7, Generation: 1, Parent: 1, NextCookie: 9}, Value: []byte("target")},
		{Kind: KindInodeDel, FS: 1, Ino: 77},
		{Kind: KindDentryPut, FS: 1, Ino: 1, Name: "file", Child: 5, Cookie: 3, Mode: 0o100000},
		{Kind: KindDentryDel, FS: 1, Ino: 1, Name: "file"},
		{Kind: KindStripePut, FS: 1, Ino: 5, Idx: 9, Rows: 16, Chunks: []Chunk{{0, 100, 16}, {1, 200, 16}, {2, 300, 16}, {3, 1, 16}, {4, 2, 16}}},
		{Kind: KindStripeTrunc, FS: 1, Ino: 5, Idx: 2},
		{Kind: KindXattrPut, FS: 1, Ino: 5, Name: "user.k", Value: []byte("v")},
		{Kind: KindXattrDel, FS: 1, Ino: 5, Name: "user.k"},
		{Kind: KindBucketPut, FS: 1, Idx: 63, Count: 1 << 40},
		{Kind: KindNextSegment, Seg: 0xdeadbeef, Chunks: []Chunk{{0, 4096, 1024}, {3, 8192, 1024}}},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	var b []byte
	recs := sampleRecords()
	for i := range recs {
		b = Append(b, &recs[i])
	}
	i := 0
	err := Records(b, func(r *Record) error {
		want := recs[i]
		got := *r
		got.Chunks = append([]Chunk(nil), r.Chunks...)
		if len(want.Chunks) == 0 {
			want.Chunks = []Chunk{}
		}
		if len(got.Chunks) == 0 {
			got.Chunks = []Chunk{}
		}
		if want.Kind == KindInodePut {
			want.Ino = want.Inode.Ino
		}
		if !reflect.DeepEqual(normal(got), normal(want)) {
			t.Errorf("record %d: got %+v want %+v", i, got, want)
		}
		i++
		return nil
	})
	if err != nil || i != len(recs) {
		t.Fatalf("decoded %d of %d: %v", i, len(recs), err)
	}
}

func normal(r Record) Record {
	if len(r.Value) == 0 {
		r.Value = nil
	}
	return r
}

// FuzzJournalRecord: any bytes either fail to decode or decode to a
// record that encodes back to the same bytes.
func FuzzJournalRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(Append(nil, &r))
	}
	f.Add([]byte{})
	f.Add([]byte{4, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		n, err := Decode(b, &r)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("used %d of %d bytes", n, len(b))
		}
		again := Append(nil, &r)
		var r2 Record
		if _, err := Decode(again, &r2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !bytes.Equal(Append(nil, &r2), again) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzEntryHeader feeds arbitrary first blocks and buffers to the entry
// parser: it never accepts a bad CRC and never panics.
func FuzzEntryHeader(f *testing.F) {
	good := make([]byte, 2*BlockBytes)
	payload := Append(nil, &Record{Kind: KindInodeDel, FS: 1, Ino: 9})
	binary.LittleEndian.PutUint32(good[0:], entryMagic)
	binary.LittleEndian.PutUint16(good[4:], entryVersion)
	binary.LittleEndian.PutUint64(good[8:], 42)
	binary.LittleEndian.PutUint64(good[16:], 7)
	binary.LittleEndian.PutUint32(good[24:], 1)
	binary.LittleEndian.PutUint32(good[28:], uint32(len(payload)))
	copy(good[entryHeaderSize:], payload)
	crc := crc32.Update(crc32.Checksum(good[:32], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(good[32:], crc)
	f.Add(good, uint32(4))
	f.Add(good[:40], uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, room uint32) {
		blocks, length, ok := parseEntryHeader(b, 42, 7, room, len(b))
		if !ok {
			return
		}
		if int(blocks)*BlockBytes > len(b) || blocks > room {
			t.Fatalf("accepted %d blocks in %d bytes, room %d", blocks, len(b), room)
		}
		if p, ok := checkEntry(b, length); ok {
			Records(p, func(*Record) error { return nil })
		}
	})
}

// FuzzCheckpoint feeds arbitrary checkpoint copies to the parser.
func FuzzCheckpoint(f *testing.F) {
	b := make([]byte, 2*BlockBytes)
	payload := Append(nil, &Record{Kind: KindFSDel, FS: 1})
	copy(b[BlockBytes:], payload)
	binary.LittleEndian.PutUint32(b[0:], checkpointMagic)
	binary.LittleEndian.PutUint64(b[8:], 5)
	binary.LittleEndian.PutUint64(b[16:], uint64(len(payload)))
	binary.LittleEndian.PutUint32(b[24:], crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, payload))
	f.Add(b)
	f.Add(b[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseCheckpoint(b, 5)
		if err != nil {
			return
		}
		Records(p, func(*Record) error { return nil })
	})
}
