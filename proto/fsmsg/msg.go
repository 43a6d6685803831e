package fsmsg

import (
	"fmt"

	"github.com/weft-fs/weft/dataplane/fs"
)

func wrap(msg string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("decode %s: %w", msg, err)
}

// InoReq names an inode: getattr, readlink.
type InoReq struct {
	Ino fs.Ino
}

// Append appends the encoded request to b.
func (m *InoReq) Append(b []byte) []byte { return appendU64(b, uint64(m.Ino)) }

// Decode decodes b into m.
func (m *InoReq) Decode(b []byte) error {
	r := reader{b: b}
	m.Ino = fs.Ino(r.u64())
	return wrap("ino request", r.done())
}

// NameReq names an entry of a directory: lookup, unlink, rmdir.
type NameReq struct {
	Caller fs.Caller
	Parent fs.Ino
	Name   string
}

// Append appends the encoded request to b.
func (m *NameReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Parent))
	return appendStr16(b, m.Name, NameBytesMax)
}

// Decode decodes b into m.
func (m *NameReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Parent = fs.Ino(r.u64())
	m.Name = r.str(NameBytesMax)
	return wrap("name request", r.done())
}

// SetAttrReq changes attributes: setattr (chmod, chown, truncate, utimes).
type SetAttrReq struct {
	Caller fs.Caller
	Ino    fs.Ino
	In     fs.SetAttrIn
}

// Append appends the encoded request to b.
func (m *SetAttrReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Ino))
	return appendSetAttrIn(b, &m.In)
}

// Decode decodes b into m.
func (m *SetAttrReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Ino = fs.Ino(r.u64())
	r.setAttrIn(&m.In)
	return wrap("setattr request", r.done())
}

// AccessReq asks for a permission check: access.
type AccessReq struct {
	Caller fs.Caller
	Ino    fs.Ino
	Mask   uint32
}

// Append appends the encoded request to b.
func (m *AccessReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Ino))
	return appendU32(b, m.Mask)
}

// Decode decodes b into m.
func (m *AccessReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Ino = fs.Ino(r.u64())
	m.Mask = r.u32()
	return wrap("access request", r.done())
}

// CreateReq makes a node: mknod (Rdev used) and mkdir (Rdev 0).
type CreateReq struct {
	Caller fs.Caller
	Parent fs.Ino
	Name   string
	Mode   uint32
	Rdev   uint32
}

// Append appends the encoded request to b.
func (m *CreateReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Parent))
	b = appendStr16(b, m.Name, NameBytesMax)
	b = appendU32(b, m.Mode)
	return appendU32(b, m.Rdev)
}

// Decode decodes b into m.
func (m *CreateReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Parent = fs.Ino(r.u64())
	m.Name = r.str(NameBytesMax)
	m.Mode = r.u32()
	m.Rdev = r.u32()
	return wrap("create request", r.done())
}

// CreateOpenReq makes a regular file and opens it, in one round trip
// instead of mknod then open (open(2) with O_CREAT). Without O_EXCL in
// Flags an existing file of that name is opened instead.
type CreateOpenReq struct {
	Caller fs.Caller
	Parent fs.Ino
	Name   string
	Mode   uint32
	Flags  uint32
}

// Append appends the encoded request to b.
func (m *CreateOpenReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Parent))
	b = appendStr16(b, m.Name, NameBytesMax)
	b = appendU32(b, m.Mode)
	return appendU32(b, m.Flags)
}

// Decode decodes b into m.
func (m *CreateOpenReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Parent = fs.Ino(r.u64())
	m.Name = r.str(NameBytesMax)
	m.Mode = r.u32()
	m.Flags = r.u32()
	return wrap("create-open request", r.done())
}

// SymlinkReq makes a symbolic link.
type SymlinkReq struct {
	Caller fs.Caller
	Parent fs.Ino
	Name   string
	Target string
}

// Append appends the encoded request to b.
func (m *SymlinkReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Parent))
	b = appendStr16(b, m.Name, NameBytesMax)
	return appendStr16(b, m.Target, PathBytesMax)
}

// Decode decodes b into m.
func (m *SymlinkReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Parent = fs.Ino(r.u64())
	m.Name = r.str(NameBytesMax)
	m.Target = r.str(PathBytesMax)
	return wrap("symlink request", r.done())
}

// LinkReq makes a hard link to Ino.
type LinkReq struct {
	Caller    fs.Caller
	Ino       fs.Ino
	NewParent fs.Ino
	NewName   string
}

// Append appends the encoded request to b.
func (m *LinkReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Ino))
	b = appendU64(b, uint64(m.NewParent))
	return appendStr16(b, m.NewName, NameBytesMax)
}

// Decode decodes b into m.
func (m *LinkReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Ino = fs.Ino(r.u64())
	m.NewParent = fs.Ino(r.u64())
	m.NewName = r.str(NameBytesMax)
	return wrap("link request", r.done())
}

// RenameReq moves an entry (renameat2 flags in Flags).
type RenameReq struct {
	Caller    fs.Caller
	OldParent fs.Ino
	OldName   string
	NewParent fs.Ino
	NewName   string
	Flags     uint32
}

// Append appends the encoded request to b.
func (m *RenameReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.OldParent))
	b = appendStr16(b, m.OldName, NameBytesMax)
	b = appendU64(b, uint64(m.NewParent))
	b = appendStr16(b, m.NewName, NameBytesMax)
	return appendU32(b, m.Flags)
}

// Decode decodes b into m.
func (m *RenameReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.OldParent = fs.Ino(r.u64())
	m.OldName = r.str(NameBytesMax)
	m.NewParent = fs.Ino(r.u64())
	m.NewName = r.str(NameBytesMax)
	m.Flags = r.u32()
	return wrap("rename request", r.done())
}

// OpenReq opens an inode with open(2) flags.
type OpenReq struct {
	Caller fs.Caller
	Ino    fs.Ino
	Flags  uint32
}

// Append appends the encoded request to b.
func (m *OpenReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Ino))
	return appendU32(b, m.Flags)
}

// Decode decodes b into m.
func (m *OpenReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Ino = fs.Ino(r.u64())
	m.Flags = r.u32()
	return wrap("open request", r.done())
}

// OpenResp is the reply to open: the handle and the attributes at open.
type OpenResp struct {
	Handle uint64
	Attr   fs.Attr
}

// Append appends the encoded reply to b.
func (m *OpenResp) Append(b []byte) []byte {
	b = appendU64(b, m.Handle)
	return AppendAttr(b, &m.Attr)
}

// Decode decodes b into m.
func (m *OpenResp) Decode(b []byte) error {
	r := reader{b: b}
	m.Handle = r.u64()
	r.attr(&m.Attr)
	return wrap("open reply", r.done())
}

// HandleReq names an open handle: release.
type HandleReq struct {
	Handle uint64
}

// Append appends the encoded request to b.
func (m *HandleReq) Append(b []byte) []byte { return appendU64(b, m.Handle) }

// Decode decodes b into m.
func (m *HandleReq) Decode(b []byte) error {
	r := reader{b: b}
	m.Handle = r.u64()
	return wrap("handle request", r.done())
}

// ReadReq reads Size bytes at Off. The reply is the bytes themselves,
// short only at end of file.
type ReadReq struct {
	Handle uint64
	Ino    fs.Ino
	Off    int64
	Size   uint32
}

// Append appends the encoded request (ReadReqBytes) to b.
func (m *ReadReq) Append(b []byte) []byte {
	b = appendU64(b, m.Handle)
	b = appendU64(b, uint64(m.Ino))
	b = appendU64(b, uint64(m.Off))
	return appendU32(b, m.Size)
}

// Decode decodes b into m. It allocates nothing.
func (m *ReadReq) Decode(b []byte) error {
	r := reader{b: b}
	m.Handle = r.u64()
	m.Ino = fs.Ino(r.u64())
	m.Off = int64(r.u64())
	m.Size = r.u32()
	if r.err == nil && m.Size > IOBytesMax {
		r.err = ErrTooLong
	}
	return wrap("read request", r.done())
}

// WriteReq writes Data at Off, or at end of file when Append is set.
// The data follows a WriteHeaderBytes header to the end of the body.
type WriteReq struct {
	Handle uint64
	Ino    fs.Ino
	Off    int64
	Append bool
	// Data aliases the decoded body: valid only while the body is.
	Data []byte
}

// AppendHeader appends the header of the request, announcing dataBytes
// bytes of data that the caller appends next (so it can copy them
// straight into its send buffer).
func (m *WriteReq) AppendHeader(b []byte, dataBytes int) []byte {
	b = appendU64(b, m.Handle)
	b = appendU64(b, uint64(m.Ino))
	b = appendU64(b, uint64(m.Off))
	b = appendU8(b, boolU8(m.Append))
	return appendU32(b, uint32(dataBytes))
}

// AppendMsg appends the header and m.Data.
func (m *WriteReq) AppendMsg(b []byte) []byte {
	b = m.AppendHeader(b, len(m.Data))
	return append(b, m.Data...)
}

// Decode decodes b into m, aliasing m.Data into b. It allocates nothing.
func (m *WriteReq) Decode(b []byte) error {
	r := reader{b: b}
	m.Handle = r.u64()
	m.Ino = fs.Ino(r.u64())
	m.Off = int64(r.u64())
	flag := r.u8()
	m.Data = r.bytes32(IOBytesMax)
	if r.err == nil && flag > 1 {
		r.err = fmt.Errorf("append flag %d, want 0 or 1: %w", flag, ErrTooLong)
	}
	m.Append = flag == 1
	return wrap("write request", r.done())
}

// WriteResp is the reply to write: where the data went and the file's
// attributes after it.
type WriteResp struct {
	At   int64
	Attr fs.Attr
}

// Append appends the encoded reply (WriteRespBytes) to b.
func (m *WriteResp) Append(b []byte) []byte {
	b = appendU64(b, uint64(m.At))
	return AppendAttr(b, &m.Attr)
}

// Decode decodes b into m. It allocates nothing.
func (m *WriteResp) Decode(b []byte) error {
	r := reader{b: b}
	m.At = int64(r.u64())
	r.attr(&m.Attr)
	return wrap("write reply", r.done())
}

// FsyncReq makes an inode durable.
type FsyncReq struct {
	Handle   uint64
	Ino      fs.Ino
	DataOnly bool
}

// Append appends the encoded request to b.
func (m *FsyncReq) Append(b []byte) []byte {
	b = appendU64(b, m.Handle)
	b = appendU64(b, uint64(m.Ino))
	return appendU8(b, boolU8(m.DataOnly))
}

// Decode decodes b into m.
func (m *FsyncReq) Decode(b []byte) error {
	r := reader{b: b}
	m.Handle = r.u64()
	m.Ino = fs.Ino(r.u64())
	flag := r.u8()
	if r.err == nil && flag > 1 {
		r.err = fmt.Errorf("data-only flag %d, want 0 or 1: %w", flag, ErrTooLong)
	}
	m.DataOnly = flag == 1
	return wrap("fsync request", r.done())
}

// ReadDirReq lists up to Count entries after Cookie. OpReadDirPlus
// replies carry each entry's attributes too.
type ReadDirReq struct {
	Caller fs.Caller
	Ino    fs.Ino
	Cookie uint64
	Count  uint32
}

// Append appends the encoded request to b.
func (m *ReadDirReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Ino))
	b = appendU64(b, m.Cookie)
	return appendU32(b, m.Count)
}

// Decode decodes b into m.
func (m *ReadDirReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Ino = fs.Ino(r.u64())
	m.Cookie = r.u64()
	m.Count = r.u32()
	if r.err == nil && (m.Count == 0 || m.Count > ReadDirEntriesMax) {
		r.err = fmt.Errorf("entry count %d, want 1..%d: %w", m.Count, ReadDirEntriesMax, ErrTooLong)
	}
	return wrap("readdir request", r.done())
}

// AppendDirCount starts a readdir reply: a u16 entry count that
// SetDirCount fills in once the entries are appended.
func AppendDirCount(b []byte) []byte { return appendU16(b, 0) }

// SetDirCount stores the entry count at the start of a readdir reply.
func SetDirCount(reply []byte, n int) { le.PutUint16(reply, uint16(n)) }

// AppendDirEntry appends one entry of a readdir reply; a is nil for
// OpReadDir and the entry's attributes for OpReadDirPlus.
func AppendDirEntry(b []byte, e *fs.DirEntry, a *fs.Attr) []byte {
	b = appendU64(b, uint64(e.Ino))
	b = appendU32(b, e.Mode)
	b = appendU64(b, e.Cookie)
	b = appendStr16(b, e.Name, NameBytesMax)
	if a != nil {
		b = AppendAttr(b, a)
	}
	return b
}

// DecodeDirEntries decodes a readdir reply into ents (and attrs when it
// is not nil: a readdirplus reply) and returns the entry count.
func DecodeDirEntries(b []byte, ents []fs.DirEntry, attrs []fs.Attr) (int, error) {
	r := reader{b: b}
	n := int(r.u16())
	if r.err == nil && (n > len(ents) || (attrs != nil && n > len(attrs))) {
		return 0, wrap("readdir reply", fmt.Errorf("%d entries for a buffer of %d: %w", n, len(ents), ErrTooLong))
	}
	for i := 0; i < n && r.err == nil; i++ {
		e := &ents[i]
		e.Ino = fs.Ino(r.u64())
		e.Mode = r.u32()
		e.Cookie = r.u64()
		e.Name = r.str(NameBytesMax)
		if attrs != nil {
			r.attr(&attrs[i])
		}
	}
	if err := r.done(); err != nil {
		return 0, wrap("readdir reply", err)
	}
	return n, nil
}

// XattrReq carries all four xattr ops: setxattr uses Name, Value and
// Flags; getxattr Name and Size; listxattr Size; removexattr Name. Size
// 0 asks for the size the value would need.
type XattrReq struct {
	Caller fs.Caller
	Ino    fs.Ino
	Name   string
	Flags  uint32
	Size   uint32
	// Value aliases the decoded body.
	Value []byte
}

// Append appends the encoded request to b.
func (m *XattrReq) Append(b []byte) []byte {
	b = AppendCaller(b, &m.Caller)
	b = appendU64(b, uint64(m.Ino))
	b = appendStr16(b, m.Name, XattrNameBytesMax)
	b = appendU32(b, m.Flags)
	b = appendU32(b, m.Size)
	return appendBytes32(b, m.Value, XattrValueBytesMax)
}

// Decode decodes b into m.
func (m *XattrReq) Decode(b []byte) error {
	r := reader{b: b}
	r.caller(&m.Caller)
	m.Ino = fs.Ino(r.u64())
	m.Name = r.str(XattrNameBytesMax)
	m.Flags = r.u32()
	m.Size = r.u32()
	m.Value = r.bytes32(XattrValueBytesMax)
	if r.err == nil && m.Size > XattrValueBytesMax {
		r.err = ErrTooLong
	}
	return wrap("xattr request", r.done())
}

// XattrResp is the reply to getxattr and listxattr: the size of the
// value (or name list) and, unless the request's Size was 0, the bytes.
type XattrResp struct {
	Size uint32
	// Data aliases the decoded body.
	Data []byte
}

// Append appends the encoded reply to b.
func (m *XattrResp) Append(b []byte) []byte {
	b = appendU32(b, m.Size)
	if len(m.Data) > XattrValueBytesMax {
		return append(b, m.Data[:XattrValueBytesMax]...)
	}
	return append(b, m.Data...)
}

// Decode decodes b into m.
func (m *XattrResp) Decode(b []byte) error {
	r := reader{b: b}
	m.Size = r.u32()
	m.Data = r.rest()
	if r.err == nil && (m.Size > XattrValueBytesMax || len(m.Data) > int(m.Size)) {
		r.err = ErrTooLong
	}
	return wrap("xattr reply", r.done())
}
