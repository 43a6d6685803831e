package fsmsg

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
)

var testCaller = fs.Caller{Uid: 1000, Gid: 100, Groups: []uint32{4, 24, 27}, Pid: 4242}

var testAttr = fs.Attr{
	Ino: 0x0003_0000_0000_0042, Mode: 0o100644, Nlink: 2, Uid: 1000, Gid: 100, Rdev: 7,
	Size: 1 << 40, Blocks: 99, AtimeNs: -1, MtimeNs: 1_700_000_000_123_456_789,
	CtimeNs: 1_700_000_001_000_000_000, Generation: 3,
}

// codec is what every request and reply type offers.
type codec interface {
	Append(b []byte) []byte
	Decode(b []byte) error
}

// writeCodec adapts WriteReq, whose encoder is split for zero copy.
type writeCodec struct{ WriteReq }

func (w *writeCodec) Append(b []byte) []byte { return w.AppendMsg(b) }

func sampleMessages() map[string][2]codec {
	return map[string][2]codec{
		"ino":        {&InoReq{Ino: 77}, &InoReq{}},
		"name":       {&NameReq{Caller: testCaller, Parent: 1, Name: "file.txt"}, &NameReq{}},
		"setattr":    {&SetAttrReq{Caller: testCaller, Ino: 9, In: fs.SetAttrIn{Valid: fs.SetSize | fs.SetMode, Mode: 0o600, Size: 12, AtimeNs: 5, MtimeNs: -5, Handle: 3}}, &SetAttrReq{}},
		"access":     {&AccessReq{Caller: testCaller, Ino: 9, Mask: 4}, &AccessReq{}},
		"create":     {&CreateReq{Caller: testCaller, Parent: 2, Name: "d", Mode: 0o40755, Rdev: 0}, &CreateReq{}},
		"createopen": {&CreateOpenReq{Caller: testCaller, Parent: 2, Name: "f", Mode: 0o644, Flags: 0o101}, &CreateOpenReq{}},
		"symlink":    {&SymlinkReq{Caller: testCaller, Parent: 2, Name: "l", Target: "../a/b"}, &SymlinkReq{}},
		"link":       {&LinkReq{Caller: testCaller, Ino: 5, NewParent: 6, NewName: "hard"}, &LinkReq{}},
		"rename":     {&RenameReq{Caller: testCaller, OldParent: 1, OldName: "a", NewParent: 2, NewName: "b", Flags: fs.RenameNoReplace}, &RenameReq{}},
		"open":       {&OpenReq{Caller: testCaller, Ino: 5, Flags: 0o2002}, &OpenReq{}},
		"openrsp":    {&OpenResp{Handle: 88, Attr: testAttr}, &OpenResp{}},
		"handle":     {&HandleReq{Handle: 88}, &HandleReq{}},
		"read":       {&ReadReq{Handle: 88, Ino: 5, Off: 4096, Size: 1 << 20}, &ReadReq{}},
		"write":      {&writeCodec{WriteReq{Handle: 88, Ino: 5, Off: 4096, Append: true, Data: []byte("hello")}}, &writeCodec{}},
		"writersp":   {&WriteResp{At: 4096, Attr: testAttr}, &WriteResp{}},
		"fsync":      {&FsyncReq{Handle: 88, Ino: 5, DataOnly: true}, &FsyncReq{}},
		"readdir":    {&ReadDirReq{Caller: testCaller, Ino: 1, Cookie: 17, Count: 64}, &ReadDirReq{}},
		"xattr":      {&XattrReq{Caller: testCaller, Ino: 5, Name: "user.k", Flags: 1, Size: 0, Value: []byte("v")}, &XattrReq{}},
		"xattrrsp":   {&XattrResp{Size: 3, Data: []byte("abc")}, &XattrResp{}},
	}
}

func TestRoundTrip(t *testing.T) {
	for name, pair := range sampleMessages() {
		t.Run(name, func(t *testing.T) {
			in, out := pair[0], pair[1]
			b := in.Append(nil)
			if err := out.Decode(b); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(in, out) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
			}
			// Every proper prefix is short, never accepted (an xattr
			// reply without data is a valid size-only reply).
			for i := 0; i < len(b) && name != "xattrrsp"; i++ {
				if err := out.Decode(b[:i]); err == nil {
					t.Fatalf("prefix of %d/%d bytes decoded without error", i, len(b))
				}
			}
			if err := out.Decode(append(b, 0)); err == nil && name != "xattrrsp" {
				t.Fatalf("trailing byte accepted")
			}
		})
	}
}

func TestFixedSizes(t *testing.T) {
	cases := []struct {
		name string
		got  int
		want int
	}{
		{"attr", len(AppendAttr(nil, &testAttr)), AttrBytes},
		{"read", len((&ReadReq{}).Append(nil)), ReadReqBytes},
		{"write header", len((&WriteReq{}).AppendHeader(nil, 0)), WriteHeaderBytes},
		{"write reply", len((&WriteResp{}).Append(nil)), WriteRespBytes},
		{"open reply", len((&OpenResp{}).Append(nil)), OpenRespBytes},
		{"statfs", len(AppendStatFS(nil, &fs.StatFS{})), StatFSBytes},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: encoded %d bytes, constant says %d", c.name, c.got, c.want)
		}
	}
}

func TestDirEntries(t *testing.T) {
	ents := []fs.DirEntry{{Name: ".", Ino: 1, Mode: 0o40000, Cookie: 1}, {Name: "..", Ino: 1, Mode: 0o40000, Cookie: 2}, {Name: "f", Ino: 9, Mode: 0o100000, Cookie: 3}}
	for _, plus := range []bool{false, true} {
		b := AppendDirCount(nil)
		for i := range ents {
			var a *fs.Attr
			if plus {
				a = &testAttr
			}
			b = AppendDirEntry(b, &ents[i], a)
		}
		SetDirCount(b, len(ents))
		got := make([]fs.DirEntry, ReadDirEntriesMax)
		var attrs []fs.Attr
		if plus {
			attrs = make([]fs.Attr, ReadDirEntriesMax)
		}
		n, err := DecodeDirEntries(b, got, attrs)
		if err != nil || n != len(ents) || !reflect.DeepEqual(got[:n], ents) {
			t.Fatalf("plus=%v: got %d %v %v", plus, n, got[:n], err)
		}
		if plus && attrs[2] != testAttr {
			t.Fatalf("attr: got %+v", attrs[2])
		}
		if _, err := DecodeDirEntries(b, got[:1], nil); !errors.Is(err, ErrTooLong) {
			t.Fatalf("small buffer: %v, want ErrTooLong", err)
		}
	}
}

func TestLimits(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), NameBytesMax+1))
	// The encoder cuts at the limit; a crafted body over it is refused.
	b := (&NameReq{Name: long}).Append(nil)
	var m NameReq
	if err := m.Decode(b); err != nil || len(m.Name) != NameBytesMax {
		t.Fatalf("cut name: %d %v", len(m.Name), err)
	}
	b = AppendCaller(nil, &fs.Caller{})
	b = appendU64(b, 1)
	b = appendU16(b, NameBytesMax+1)
	b = append(b, long...)
	if err := m.Decode(b); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long name: %v, want ErrTooLong", err)
	}
	var rr ReadReq
	if err := rr.Decode((&ReadReq{Size: IOBytesMax + 1}).Append(nil)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("read size: %v, want ErrTooLong", err)
	}
	var st fs.StatFS
	in := fs.StatFS{BlockSize: 4096, Blocks: 10, BlocksFree: 5, BlocksAvail: 4, Files: 3, FilesFree: 2, NameMax: 255}
	if err := DecodeStatFS(AppendStatFS(nil, &in), &st); err != nil || st != in {
		t.Fatalf("statfs: %+v %v", st, err)
	}
	if OpName(OpWrite) != "write" || OpName(OpCreate) != "create" || OpName(0x200) != "" {
		t.Fatalf("op names wrong")
	}
}
