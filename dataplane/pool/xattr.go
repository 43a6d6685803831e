package pool

import (
	"context"
	"strings"
	"syscall"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/journal"
)

// setxattr(2) flags.
const (
	xattrCreate  = 1
	xattrReplace = 2
)

// xattrClass checks an attribute name and returns whether it is in the
// trusted/security namespaces (root only) or user (ordinary permission).
func xattrClass(name string) (privileged bool, err error) {
	if name == "" || len(name) > xattrNameMax {
		return false, syscall.ERANGE
	}
	switch {
	case strings.HasPrefix(name, "user.") && len(name) > len("user."):
		return false, nil
	case strings.HasPrefix(name, "trusted.") && len(name) > len("trusted."),
		strings.HasPrefix(name, "security.") && len(name) > len("security."):
		return true, nil
	}
	return false, syscall.EOPNOTSUPP
}

// xattrAccess checks c may read (write false) or change attribute name of in.
func xattrAccess(in *bucket.Inode, c fs.Caller, name string, write bool) error {
	priv, err := xattrClass(name)
	if err != nil {
		return err
	}
	if priv {
		if c.Uid != 0 {
			if write {
				return syscall.EPERM
			}
			return syscall.ENODATA
		}
		return nil
	}
	typ := in.Mode & syscall.S_IFMT
	if typ != syscall.S_IFREG && typ != syscall.S_IFDIR {
		if write {
			return syscall.EPERM
		}
		return syscall.ENODATA
	}
	if write {
		return check(in, c, mayWrite)
	}
	return check(in, c, mayRead)
}

func (f *FS) lockInode(ino fs.Ino) (*bucket.Inode, func(), error) {
	if err := f.alive(); err != nil {
		return nil, nil, err
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	in := b.Inodes[uint64(ino)]
	if in == nil {
		b.Mu.Unlock()
		return nil, nil, syscall.ENOENT
	}
	return in, b.Mu.Unlock, nil
}

// SetXattr implements fs.Service.
func (f *FS) SetXattr(ctx context.Context, c fs.Caller, ino fs.Ino, name string, value []byte, flags uint32) error {
	if flags&^(xattrCreate|xattrReplace) != 0 || flags == xattrCreate|xattrReplace {
		return syscall.EINVAL
	}
	if len(value) > xattrValueMax {
		return syscall.E2BIG
	}
	in, unlock, err := f.lockInode(ino)
	if err != nil {
		return err
	}
	defer unlock()
	if err := xattrAccess(in, c, name, true); err != nil {
		return err
	}
	_, exists := in.Xattrs[name]
	if flags&xattrCreate != 0 && exists {
		return syscall.EEXIST
	}
	if flags&xattrReplace != 0 && !exists {
		return syscall.ENODATA
	}
	if !exists {
		size := 0
		for n, v := range in.Xattrs {
			size += len(n) + 1 + len(v)
		}
		if size+len(name)+1+len(value) > xattrListMax {
			return syscall.ENOSPC
		}
	}
	if in.Xattrs == nil {
		in.Xattrs = make(map[string][]byte)
	}
	v := append([]byte(nil), value...)
	in.Xattrs[name] = v
	in.CtimeNs = now()
	f.p.c.log(nil, &journal.Record{Kind: journal.KindXattrPut, FS: f.id, Ino: in.Ino, Name: name, Value: v}, f.inodeRec(in))
	return nil
}

// GetXattr implements fs.Service. An empty buf asks for the size.
func (f *FS) GetXattr(ctx context.Context, c fs.Caller, ino fs.Ino, name string, buf []byte) (int, error) {
	in, unlock, err := f.lockInode(ino)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if err := xattrAccess(in, c, name, false); err != nil {
		return 0, err
	}
	v, ok := in.Xattrs[name]
	if !ok {
		return 0, syscall.ENODATA
	}
	if len(buf) == 0 {
		return len(v), nil
	}
	if len(buf) < len(v) {
		return 0, syscall.ERANGE
	}
	return copy(buf, v), nil
}

// ListXattr implements fs.Service: NUL-terminated names; an empty buf
// asks for the size. Root-only namespaces are hidden from others.
func (f *FS) ListXattr(ctx context.Context, c fs.Caller, ino fs.Ino, buf []byte) (int, error) {
	in, unlock, err := f.lockInode(ino)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n := 0
	for name := range in.Xattrs {
		if priv, _ := xattrClass(name); priv && c.Uid != 0 {
			continue
		}
		n += len(name) + 1
	}
	if len(buf) == 0 {
		return n, nil
	}
	if len(buf) < n {
		return 0, syscall.ERANGE
	}
	off := 0
	for name := range in.Xattrs {
		if priv, _ := xattrClass(name); priv && c.Uid != 0 {
			continue
		}
		off += copy(buf[off:], name)
		buf[off] = 0
		off++
	}
	return off, nil
}

// RemoveXattr implements fs.Service.
func (f *FS) RemoveXattr(ctx context.Context, c fs.Caller, ino fs.Ino, name string) error {
	in, unlock, err := f.lockInode(ino)
	if err != nil {
		return err
	}
	defer unlock()
	if err := xattrAccess(in, c, name, true); err != nil {
		return err
	}
	if _, ok := in.Xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(in.Xattrs, name)
	in.CtimeNs = now()
	f.p.c.log(nil, &journal.Record{Kind: journal.KindXattrDel, FS: f.id, Ino: in.Ino, Name: name}, f.inodeRec(in))
	return nil
}
