package fsmsg

import (
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
)

// The read and write hot path: encode and decode without allocating.

func BenchmarkReadReqEncode(b *testing.B) {
	buf := make([]byte, 0, ReadReqBytes)
	m := ReadReq{Handle: 1, Ino: 2, Off: 4096, Size: 4096}
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
}

func BenchmarkReadReqDecode(b *testing.B) {
	buf := (&ReadReq{Handle: 1, Ino: 2, Off: 4096, Size: 4096}).Append(nil)
	var m ReadReq
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteReqEncode(b *testing.B) {
	data := make([]byte, 4096)
	buf := make([]byte, 0, WriteHeaderBytes+len(data))
	m := WriteReq{Handle: 1, Ino: 2, Off: 4096}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendHeader(buf[:0], len(data))
		buf = append(buf, data...)
	}
}

func BenchmarkWriteReqDecode(b *testing.B) {
	buf := (&WriteReq{Handle: 1, Ino: 2, Off: 4096, Data: make([]byte, 4096)}).AppendMsg(nil)
	var m WriteReq
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteRespEncode(b *testing.B) {
	buf := make([]byte, 0, WriteRespBytes)
	m := WriteResp{At: 4096, Attr: testAttr}
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
}

func BenchmarkWriteRespDecode(b *testing.B) {
	buf := (&WriteResp{At: 4096, Attr: testAttr}).Append(nil)
	var m WriteResp
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAttrDecode(b *testing.B) {
	buf := AppendAttr(nil, &testAttr)
	var a fs.Attr
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeAttr(buf, &a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenReqDecode shows a caller with groups decodes without
// allocating once its Groups slice has grown.
func BenchmarkOpenReqDecode(b *testing.B) {
	buf := (&OpenReq{Caller: testCaller, Ino: 5, Flags: 2}).Append(nil)
	var m OpenReq
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
