package fsmsg

import (
	"bytes"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
)

// fuzzCodec feeds arbitrary bytes to a decoder. A body it accepts must
// encode back to the same bytes: the format is canonical, so nothing a
// decoder accepts can mean two things.
func fuzzCodec(f *testing.F, sample codec, fresh func() codec) {
	f.Add(sample.Append(nil))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fresh()
		if err := m.Decode(b); err != nil {
			return
		}
		if re := m.Append(nil); !bytes.Equal(re, b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, re)
		}
	})
}

func sample(name string) codec { return sampleMessages()[name][0] }

func FuzzInoReq(f *testing.F) { fuzzCodec(f, sample("ino"), func() codec { return &InoReq{} }) }
func FuzzNameReq(f *testing.F) {
	fuzzCodec(f, sample("name"), func() codec { return &NameReq{} })
}
func FuzzSetAttrReq(f *testing.F) {
	fuzzCodec(f, sample("setattr"), func() codec { return &SetAttrReq{} })
}
func FuzzAccessReq(f *testing.F) {
	fuzzCodec(f, sample("access"), func() codec { return &AccessReq{} })
}
func FuzzCreateReq(f *testing.F) {
	fuzzCodec(f, sample("create"), func() codec { return &CreateReq{} })
}
func FuzzCreateOpenReq(f *testing.F) {
	fuzzCodec(f, sample("createopen"), func() codec { return &CreateOpenReq{} })
}
func FuzzSymlinkReq(f *testing.F) {
	fuzzCodec(f, sample("symlink"), func() codec { return &SymlinkReq{} })
}
func FuzzLinkReq(f *testing.F) {
	fuzzCodec(f, sample("link"), func() codec { return &LinkReq{} })
}
func FuzzRenameReq(f *testing.F) {
	fuzzCodec(f, sample("rename"), func() codec { return &RenameReq{} })
}
func FuzzOpenReq(f *testing.F) {
	fuzzCodec(f, sample("open"), func() codec { return &OpenReq{} })
}
func FuzzOpenResp(f *testing.F) {
	fuzzCodec(f, sample("openrsp"), func() codec { return &OpenResp{} })
}
func FuzzHandleReq(f *testing.F) {
	fuzzCodec(f, sample("handle"), func() codec { return &HandleReq{} })
}
func FuzzReadReq(f *testing.F) {
	fuzzCodec(f, sample("read"), func() codec { return &ReadReq{} })
}
func FuzzWriteReq(f *testing.F) {
	fuzzCodec(f, sample("write"), func() codec { return &writeCodec{} })
}
func FuzzWriteResp(f *testing.F) {
	fuzzCodec(f, sample("writersp"), func() codec { return &WriteResp{} })
}
func FuzzFsyncReq(f *testing.F) {
	fuzzCodec(f, sample("fsync"), func() codec { return &FsyncReq{} })
}
func FuzzReadDirReq(f *testing.F) {
	fuzzCodec(f, sample("readdir"), func() codec { return &ReadDirReq{} })
}
func FuzzXattrReq(f *testing.F) {
	fuzzCodec(f, sample("xattr"), func() codec { return &XattrReq{} })
}
func FuzzXattrResp(f *testing.F) {
	fuzzCodec(f, sample("xattrrsp"), func() codec { return &XattrResp{} })
}

func FuzzAttr(f *testing.F) {
	f.Add(AppendAttr(nil, &testAttr))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a fs.Attr
		if DecodeAttr(b, &a) != nil {
			return
		}
		if re := AppendAttr(nil, &a); !bytes.Equal(re, b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, re)
		}
	})
}

func FuzzStatFS(f *testing.F) {
	f.Add(AppendStatFS(nil, &fs.StatFS{BlockSize: 4096, Blocks: 1, NameMax: 255}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s fs.StatFS
		if DecodeStatFS(b, &s) != nil {
			return
		}
		if re := AppendStatFS(nil, &s); !bytes.Equal(re, b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, re)
		}
	})
}

func FuzzDirEntries(f *testing.F) {
	e := fs.DirEntry{Name: "name", Ino: 3, Mode: 0o100000, Cookie: 9}
	b := AppendDirCount(nil)
	b = AppendDirEntry(b, &e, nil)
	SetDirCount(b, 1)
	f.Add(b, false)
	b = AppendDirCount(nil)
	b = AppendDirEntry(b, &e, &testAttr)
	SetDirCount(b, 1)
	f.Add(b, true)
	ents := make([]fs.DirEntry, ReadDirEntriesMax)
	attrs := make([]fs.Attr, ReadDirEntriesMax)
	f.Fuzz(func(t *testing.T, b []byte, plus bool) {
		var as []fs.Attr
		if plus {
			as = attrs
		}
		n, err := DecodeDirEntries(b, ents, as)
		if err != nil {
			return
		}
		re := AppendDirCount(nil)
		for i := 0; i < n; i++ {
			var a *fs.Attr
			if plus {
				a = &as[i]
			}
			re = AppendDirEntry(re, &ents[i], a)
		}
		SetDirCount(re, n)
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, re)
		}
	})
}
