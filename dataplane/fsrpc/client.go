package fsrpc

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"syscall"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/proto"
	"github.com/weft-fs/weft/proto/fsmsg"
)

// Buffer sizes of the client's pools.
const (
	// smallBufBytes holds any request or reply but write data, read
	// data, readdir batches and xattr values: a caller with every group
	// and two names fits with room to spare.
	smallBufBytes = 8 << 10
	// writeBufBytes holds the largest write request and its reply.
	writeBufBytes = fsmsg.WriteHeaderBytes + fsmsg.IOBytesMax + fsmsg.WriteRespBytes
	// largeBufBytes holds a readdir or xattr reply.
	largeBufBytes = max(fsmsg.ReadDirRespBytesMax, fsmsg.XattrRespBytesMax)
)

// Client is an fs.Service whose every call is a message to the compute
// role at one address, through a messenger. It holds no cache: each
// call is answered by the compute role, which keeps the file system
// consistent across all clients. It is safe for concurrent use.
type Client struct {
	m  *messenger.Messenger
	to netip.AddrPort

	small, write, large sync.Pool // *[]byte
}

// NewClient returns a client of the file system served at to.
func NewClient(m *messenger.Messenger, to netip.AddrPort) *Client {
	c := &Client{m: m, to: to}
	c.small.New = func() any { b := make([]byte, smallBufBytes); return &b }
	c.write.New = func() any { b := make([]byte, writeBufBytes); return &b }
	c.large.New = func() any { b := make([]byte, largeBufBytes); return &b }
	return c
}

var _ fs.Service = (*Client)(nil)

// call sends req and decodes nothing: it returns the reply's length in
// resp. Remote errnos come back as syscall.Errno; transport failures
// (peer dead, closed) wrapped, which fs.Errno turns into EIO.
func (c *Client) call(ctx context.Context, op proto.Opcode, req, resp []byte, io messenger.IOHint) (int, error) {
	n, err := c.m.Call(ctx, c.to, op, req, resp, io)
	if err != nil {
		if _, ok := err.(syscall.Errno); ok {
			return n, err
		}
		return n, fmt.Errorf("fs %s: %w", fsmsg.OpName(op), err)
	}
	return n, nil
}

func checkName(name string) error {
	if len(name) > fsmsg.NameBytesMax {
		return syscall.ENAMETOOLONG
	}
	return nil
}

// attrCall sends a request whose reply is an fs.Attr.
func (c *Client) attrCall(ctx context.Context, op proto.Opcode, enc func([]byte) []byte) (fs.Attr, error) {
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	b := *bp
	req := enc(b[:0])
	resp := b[len(req):]
	n, err := c.call(ctx, op, req, resp, messenger.IOHint{})
	var a fs.Attr
	if err != nil {
		return a, err
	}
	return a, fsmsg.DecodeAttr(resp[:n], &a)
}

// emptyCall sends a request whose reply is empty.
func (c *Client) emptyCall(ctx context.Context, op proto.Opcode, enc func([]byte) []byte) error {
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	req := enc((*bp)[:0])
	_, err := c.call(ctx, op, req, nil, messenger.IOHint{})
	return err
}

// Lookup implements fs.Service.
func (c *Client) Lookup(ctx context.Context, cl fs.Caller, parent fs.Ino, name string) (fs.Attr, error) {
	if err := checkName(name); err != nil {
		return fs.Attr{}, err
	}
	m := fsmsg.NameReq{Caller: cl, Parent: parent, Name: name}
	return c.attrCall(ctx, fsmsg.OpLookup, m.Append)
}

// GetAttr implements fs.Service.
func (c *Client) GetAttr(ctx context.Context, ino fs.Ino) (fs.Attr, error) {
	m := fsmsg.InoReq{Ino: ino}
	return c.attrCall(ctx, fsmsg.OpGetAttr, m.Append)
}

// SetAttr implements fs.Service.
func (c *Client) SetAttr(ctx context.Context, cl fs.Caller, ino fs.Ino, in fs.SetAttrIn) (fs.Attr, error) {
	m := fsmsg.SetAttrReq{Caller: cl, Ino: ino, In: in}
	return c.attrCall(ctx, fsmsg.OpSetAttr, m.Append)
}

// Access implements fs.Service.
func (c *Client) Access(ctx context.Context, cl fs.Caller, ino fs.Ino, mask uint32) error {
	m := fsmsg.AccessReq{Caller: cl, Ino: ino, Mask: mask}
	return c.emptyCall(ctx, fsmsg.OpAccess, m.Append)
}

// Mknod implements fs.Service.
func (c *Client) Mknod(ctx context.Context, cl fs.Caller, parent fs.Ino, name string, mode, rdev uint32) (fs.Attr, error) {
	if err := checkName(name); err != nil {
		return fs.Attr{}, err
	}
	m := fsmsg.CreateReq{Caller: cl, Parent: parent, Name: name, Mode: mode, Rdev: rdev}
	return c.attrCall(ctx, fsmsg.OpMknod, m.Append)
}

// Mkdir implements fs.Service.
func (c *Client) Mkdir(ctx context.Context, cl fs.Caller, parent fs.Ino, name string, mode uint32) (fs.Attr, error) {
	if err := checkName(name); err != nil {
		return fs.Attr{}, err
	}
	m := fsmsg.CreateReq{Caller: cl, Parent: parent, Name: name, Mode: mode}
	return c.attrCall(ctx, fsmsg.OpMkdir, m.Append)
}

// Symlink implements fs.Service.
func (c *Client) Symlink(ctx context.Context, cl fs.Caller, parent fs.Ino, name, target string) (fs.Attr, error) {
	if err := checkName(name); err != nil {
		return fs.Attr{}, err
	}
	if len(target) > fsmsg.PathBytesMax {
		return fs.Attr{}, syscall.ENAMETOOLONG
	}
	m := fsmsg.SymlinkReq{Caller: cl, Parent: parent, Name: name, Target: target}
	return c.attrCall(ctx, fsmsg.OpSymlink, m.Append)
}

// Readlink implements fs.Service.
func (c *Client) Readlink(ctx context.Context, ino fs.Ino) (string, error) {
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	b := *bp
	m := fsmsg.InoReq{Ino: ino}
	req := m.Append(b[:0])
	n, err := c.call(ctx, fsmsg.OpReadlink, req, b[len(req):], messenger.IOHint{})
	if err != nil {
		return "", err
	}
	return string(b[len(req) : len(req)+n]), nil
}

// Link implements fs.Service.
func (c *Client) Link(ctx context.Context, cl fs.Caller, ino fs.Ino, newParent fs.Ino, newName string) (fs.Attr, error) {
	if err := checkName(newName); err != nil {
		return fs.Attr{}, err
	}
	m := fsmsg.LinkReq{Caller: cl, Ino: ino, NewParent: newParent, NewName: newName}
	return c.attrCall(ctx, fsmsg.OpLink, m.Append)
}

// Unlink implements fs.Service.
func (c *Client) Unlink(ctx context.Context, cl fs.Caller, parent fs.Ino, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	m := fsmsg.NameReq{Caller: cl, Parent: parent, Name: name}
	return c.emptyCall(ctx, fsmsg.OpUnlink, m.Append)
}

// Rmdir implements fs.Service.
func (c *Client) Rmdir(ctx context.Context, cl fs.Caller, parent fs.Ino, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	m := fsmsg.NameReq{Caller: cl, Parent: parent, Name: name}
	return c.emptyCall(ctx, fsmsg.OpRmdir, m.Append)
}

// Rename implements fs.Service.
func (c *Client) Rename(ctx context.Context, cl fs.Caller, oldParent fs.Ino, oldName string, newParent fs.Ino, newName string, flags uint32) error {
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	m := fsmsg.RenameReq{Caller: cl, OldParent: oldParent, OldName: oldName, NewParent: newParent, NewName: newName, Flags: flags}
	return c.emptyCall(ctx, fsmsg.OpRename, m.Append)
}

// Open implements fs.Service.
func (c *Client) Open(ctx context.Context, cl fs.Caller, ino fs.Ino, flags uint32) (uint64, fs.Attr, error) {
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	b := *bp
	m := fsmsg.OpenReq{Caller: cl, Ino: ino, Flags: flags}
	req := m.Append(b[:0])
	resp := b[len(req):]
	n, err := c.call(ctx, fsmsg.OpOpen, req, resp, messenger.IOHint{})
	if err != nil {
		return 0, fs.Attr{}, err
	}
	var r fsmsg.OpenResp
	if err := r.Decode(resp[:n]); err != nil {
		return 0, fs.Attr{}, err
	}
	return r.Handle, r.Attr, nil
}

// Create makes a regular file and opens it in one round trip
// (frontend.FileCreator); without O_EXCL in flags an existing file of
// that name is opened.
func (c *Client) Create(ctx context.Context, cl fs.Caller, parent fs.Ino, name string, mode, flags uint32) (uint64, fs.Attr, error) {
	if err := checkName(name); err != nil {
		return 0, fs.Attr{}, err
	}
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	b := *bp
	m := fsmsg.CreateOpenReq{Caller: cl, Parent: parent, Name: name, Mode: mode, Flags: flags}
	req := m.Append(b[:0])
	resp := b[len(req):]
	n, err := c.call(ctx, fsmsg.OpCreate, req, resp, messenger.IOHint{})
	if err != nil {
		return 0, fs.Attr{}, err
	}
	var r fsmsg.OpenResp
	if err := r.Decode(resp[:n]); err != nil {
		return 0, fs.Attr{}, err
	}
	return r.Handle, r.Attr, nil
}

// Release implements fs.Service.
func (c *Client) Release(ctx context.Context, handle uint64) error {
	m := fsmsg.HandleReq{Handle: handle}
	return c.emptyCall(ctx, fsmsg.OpRelease, m.Append)
}

// Read implements fs.Service. The reply lands in buf directly: no copy
// on this side, no allocation.
func (c *Client) Read(ctx context.Context, handle uint64, ino fs.Ino, off int64, buf []byte) (int, error) {
	if len(buf) > fsmsg.IOBytesMax {
		buf = buf[:fsmsg.IOBytesMax]
	}
	// The messenger keeps req until the call completes, so a stack
	// array would escape: a pooled buffer costs no allocation.
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	m := fsmsg.ReadReq{Handle: handle, Ino: ino, Off: off, Size: uint32(len(buf))}
	return c.call(ctx, fsmsg.OpRead, m.Append((*bp)[:0]), buf, messenger.IOHint{Dir: messenger.IORead, Bytes: len(buf)})
}

// Write implements fs.Service. The data is copied once, behind the
// request header in a pooled buffer.
func (c *Client) Write(ctx context.Context, handle uint64, ino fs.Ino, off int64, data []byte, appendMode bool) (int64, fs.Attr, error) {
	if len(data) > fsmsg.IOBytesMax {
		return 0, fs.Attr{}, syscall.EFBIG
	}
	bp := c.write.Get().(*[]byte)
	defer c.write.Put(bp)
	m := fsmsg.WriteReq{Handle: handle, Ino: ino, Off: off, Append: appendMode}
	req := m.AppendHeader((*bp)[:0], len(data))
	req = append(req, data...)
	resp := (*bp)[len(req) : len(req)+fsmsg.WriteRespBytes]
	n, err := c.call(ctx, fsmsg.OpWrite, req, resp, messenger.IOHint{Dir: messenger.IOWrite, Bytes: len(data)})
	if err != nil {
		return 0, fs.Attr{}, err
	}
	var r fsmsg.WriteResp
	if err := r.Decode(resp[:n]); err != nil {
		return 0, fs.Attr{}, err
	}
	return r.At, r.Attr, nil
}

// Fsync implements fs.Service.
func (c *Client) Fsync(ctx context.Context, handle uint64, ino fs.Ino, dataOnly bool) error {
	m := fsmsg.FsyncReq{Handle: handle, Ino: ino, DataOnly: dataOnly}
	return c.emptyCall(ctx, fsmsg.OpFsync, m.Append)
}

// ReadDir implements fs.Service.
func (c *Client) ReadDir(ctx context.Context, cl fs.Caller, ino fs.Ino, cookie uint64, buf []fs.DirEntry) (int, error) {
	return c.readDir(ctx, fsmsg.OpReadDir, cl, ino, cookie, buf, nil)
}

// ReadDirPlus is ReadDir with each entry's attributes, in one round
// trip (frontend.DirPlusReader).
func (c *Client) ReadDirPlus(ctx context.Context, cl fs.Caller, ino fs.Ino, cookie uint64, ents []fs.DirEntry, attrs []fs.Attr) (int, error) {
	return c.readDir(ctx, fsmsg.OpReadDirPlus, cl, ino, cookie, ents, attrs[:min(len(attrs), len(ents))])
}

func (c *Client) readDir(ctx context.Context, op proto.Opcode, cl fs.Caller, ino fs.Ino, cookie uint64, ents []fs.DirEntry, attrs []fs.Attr) (int, error) {
	count := min(len(ents), fsmsg.ReadDirEntriesMax)
	if attrs != nil {
		count = min(count, len(attrs))
	}
	if count == 0 {
		return 0, syscall.EINVAL
	}
	sp := c.small.Get().(*[]byte)
	defer c.small.Put(sp)
	lp := c.large.Get().(*[]byte)
	defer c.large.Put(lp)
	m := fsmsg.ReadDirReq{Caller: cl, Ino: ino, Cookie: cookie, Count: uint32(count)}
	n, err := c.call(ctx, op, m.Append((*sp)[:0]), *lp, messenger.IOHint{})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	return fsmsg.DecodeDirEntries((*lp)[:n], ents[:count], attrs)
}

// SetXattr implements fs.Service.
func (c *Client) SetXattr(ctx context.Context, cl fs.Caller, ino fs.Ino, name string, value []byte, flags uint32) error {
	if len(name) > fsmsg.XattrNameBytesMax {
		return syscall.ERANGE
	}
	if len(value) > fsmsg.XattrValueBytesMax {
		return syscall.E2BIG
	}
	bp := c.large.Get().(*[]byte)
	defer c.large.Put(bp)
	m := fsmsg.XattrReq{Caller: cl, Ino: ino, Name: name, Value: value, Flags: flags}
	_, err := c.call(ctx, fsmsg.OpSetXattr, m.Append((*bp)[:0]), nil, messenger.IOHint{})
	return err
}

// GetXattr implements fs.Service.
func (c *Client) GetXattr(ctx context.Context, cl fs.Caller, ino fs.Ino, name string, buf []byte) (int, error) {
	if len(name) > fsmsg.XattrNameBytesMax {
		return 0, syscall.ERANGE
	}
	return c.xattr(ctx, fsmsg.OpGetXattr, fsmsg.XattrReq{Caller: cl, Ino: ino, Name: name}, buf)
}

// ListXattr implements fs.Service.
func (c *Client) ListXattr(ctx context.Context, cl fs.Caller, ino fs.Ino, buf []byte) (int, error) {
	return c.xattr(ctx, fsmsg.OpListXattr, fsmsg.XattrReq{Caller: cl, Ino: ino}, buf)
}

func (c *Client) xattr(ctx context.Context, op proto.Opcode, m fsmsg.XattrReq, buf []byte) (int, error) {
	m.Size = uint32(min(len(buf), fsmsg.XattrValueBytesMax))
	sp := c.small.Get().(*[]byte)
	defer c.small.Put(sp)
	lp := c.large.Get().(*[]byte)
	defer c.large.Put(lp)
	n, err := c.call(ctx, op, m.Append((*sp)[:0]), *lp, messenger.IOHint{})
	if err != nil {
		return 0, err
	}
	var r fsmsg.XattrResp
	if err := r.Decode((*lp)[:n]); err != nil {
		return 0, err
	}
	if len(buf) == 0 {
		return int(r.Size), nil
	}
	if int(r.Size) > len(buf) || len(r.Data) != int(r.Size) {
		return int(r.Size), syscall.ERANGE
	}
	return copy(buf, r.Data), nil
}

// RemoveXattr implements fs.Service.
func (c *Client) RemoveXattr(ctx context.Context, cl fs.Caller, ino fs.Ino, name string) error {
	if len(name) > fsmsg.XattrNameBytesMax {
		return syscall.ERANGE
	}
	m := fsmsg.XattrReq{Caller: cl, Ino: ino, Name: name}
	return c.emptyCall(ctx, fsmsg.OpRemoveXattr, m.Append)
}

// StatFS implements fs.Service.
func (c *Client) StatFS(ctx context.Context) (fs.StatFS, error) {
	bp := c.small.Get().(*[]byte)
	defer c.small.Put(bp)
	var s fs.StatFS
	n, err := c.call(ctx, fsmsg.OpStatFS, nil, *bp, messenger.IOHint{})
	if err != nil {
		return s, err
	}
	return s, fsmsg.DecodeStatFS((*bp)[:n], &s)
}
