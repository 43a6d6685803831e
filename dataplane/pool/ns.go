package pool

import (
	"context"
	"errors"
	"syscall"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/journal"
)

func (f *FS) alive() error {
	if f.deleted.Load() || f.p.closed.Load() {
		return syscall.EIO
	}
	return nil
}

// Lookup implements fs.Service.
func (f *FS) Lookup(ctx context.Context, c fs.Caller, parent fs.Ino, name string) (fs.Attr, error) {
	if err := f.alive(); err != nil {
		return fs.Attr{}, err
	}
	if len(name) > nameBytesMax {
		return fs.Attr{}, syscall.ENAMETOOLONG
	}
	unlock, dir, _, child, err := f.lockEntry(c, uint64(parent), name, mayExec)
	if err != nil {
		return fs.Attr{}, err
	}
	if name == ".." {
		up := dir.Parent
		unlock()
		return f.GetAttr(ctx, fs.Ino(up))
	}
	defer unlock()
	if name == "." {
		return attrOf(dir), nil
	}
	if child == nil {
		return fs.Attr{}, syscall.ENOENT
	}
	return attrOf(child), nil
}

// lockEntry locks the buckets of directory parent and of the inode its
// entry name points to, checks mask on the directory, and returns them.
// For "." and ".." (and missing entries when mask allows) e and child are
// nil. The unlock function is valid whenever err is nil.
func (f *FS) lockEntry(c fs.Caller, parent uint64, name string, mask uint32) (unlock func(), dir *bucket.Inode, e *bucket.Entry, child *bucket.Inode, err error) {
	for {
		unlock = f.lockBuckets(parent)
		dir = f.inode(parent)
		switch {
		case dir == nil:
			err = syscall.ENOENT
		case dir.Dir == nil:
			err = syscall.ENOTDIR
		default:
			err = check(dir, c, mask)
		}
		if err != nil {
			unlock()
			return nil, nil, nil, nil, err
		}
		if name == "." || name == ".." {
			return unlock, dir, nil, nil, nil
		}
		e = dir.Dir.Get(name)
		if e == nil {
			unlock()
			return nil, nil, nil, nil, syscall.ENOENT
		}
		cino := e.Ino
		if bucket.Of(cino) == bucket.Of(parent) {
			return unlock, dir, e, f.inode(cino), nil
		}
		unlock()
		unlock = f.lockBuckets(parent, cino)
		dir = f.inode(parent)
		if dir != nil && dir.Dir != nil {
			if e = dir.Dir.Get(name); e != nil && e.Ino == cino {
				return unlock, dir, e, f.inode(cino), nil
			}
		}
		unlock() // changed while unlocked: start over
	}
}

// GetAttr implements fs.Service.
func (f *FS) GetAttr(ctx context.Context, ino fs.Ino) (fs.Attr, error) {
	if err := f.alive(); err != nil {
		return fs.Attr{}, err
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	defer b.Mu.Unlock()
	in := b.Inodes[uint64(ino)]
	if in == nil {
		return fs.Attr{}, syscall.ENOENT
	}
	return attrOf(in), nil
}

// Access implements fs.Service.
func (f *FS) Access(ctx context.Context, c fs.Caller, ino fs.Ino, mask uint32) error {
	if err := f.alive(); err != nil {
		return err
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	defer b.Mu.Unlock()
	in := b.Inodes[uint64(ino)]
	if in == nil {
		return syscall.ENOENT
	}
	return check(in, c, mask&7)
}

// SetAttr implements fs.Service.
func (f *FS) SetAttr(ctx context.Context, c fs.Caller, ino fs.Ino, sa fs.SetAttrIn) (fs.Attr, error) {
	if err := f.alive(); err != nil {
		return fs.Attr{}, err
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	in := b.Inodes[uint64(ino)]
	if in == nil {
		b.Mu.Unlock()
		return fs.Attr{}, syscall.ENOENT
	}
	owner := c.Uid == 0 || c.Uid == in.Uid
	var err error
	if sa.Valid&fs.SetMode != 0 && !owner {
		err = syscall.EPERM
	}
	if sa.Valid&fs.SetUid != 0 && c.Uid != 0 && sa.Uid != in.Uid {
		err = syscall.EPERM
	}
	if sa.Valid&fs.SetGid != 0 && c.Uid != 0 && (c.Uid != in.Uid || !inGroup(c, sa.Gid)) && sa.Gid != in.Gid {
		err = syscall.EPERM
	}
	if sa.Valid&(fs.SetAtime|fs.SetMtime) != 0 && !owner {
		err = syscall.EPERM
	}
	if err == nil && sa.Valid&(fs.SetAtimeNow|fs.SetMtimeNow) != 0 && !owner && !allowed(in, c, mayWrite) {
		err = syscall.EACCES
	}
	if err == nil && sa.Valid&fs.SetSize != 0 {
		switch {
		case isDir(in.Mode):
			err = syscall.EISDIR
		case in.Mode&syscall.S_IFMT != syscall.S_IFREG:
			err = syscall.EINVAL
		case !f.handleWritable(sa.Handle, in) && !allowed(in, c, mayWrite):
			err = syscall.EACCES
		}
	}
	if err != nil {
		b.Mu.Unlock()
		return fs.Attr{}, err
	}
	t := now()
	if sa.Valid&fs.SetMode != 0 {
		mode := sa.Mode & 0o7777
		if c.Uid != 0 && !inGroup(c, in.Gid) {
			mode &^= syscall.S_ISGID
		}
		in.Mode = in.Mode&syscall.S_IFMT | mode
	}
	if sa.Valid&(fs.SetUid|fs.SetGid) != 0 {
		if sa.Valid&fs.SetUid != 0 {
			in.Uid = sa.Uid
		}
		if sa.Valid&fs.SetGid != 0 {
			in.Gid = sa.Gid
		}
		if !isDir(in.Mode) {
			in.Mode &^= syscall.S_ISUID
			if in.Mode&syscall.S_IXGRP != 0 {
				in.Mode &^= syscall.S_ISGID
			}
		}
	}
	if sa.Valid&fs.SetAtime != 0 {
		in.AtimeNs = sa.AtimeNs
	}
	if sa.Valid&fs.SetMtime != 0 {
		in.MtimeNs = sa.MtimeNs
	}
	if sa.Valid&fs.SetAtimeNow != 0 {
		in.AtimeNs = t
	}
	if sa.Valid&fs.SetMtimeNow != 0 {
		in.MtimeNs = t
	}
	in.CtimeNs = t
	if sa.Valid&fs.SetCtime != 0 {
		in.CtimeNs = sa.CtimeNs
	}
	f.p.c.log(nil, f.inodeRec(in))
	b.Mu.Unlock()
	if sa.Valid&fs.SetSize != 0 {
		if err := f.truncate(in, sa.Size); err != nil {
			return fs.Attr{}, err
		}
	}
	return f.GetAttr(ctx, ino)
}

// create makes a new inode called name in parent.
func (f *FS) create(c fs.Caller, parent uint64, name string, mode, rdev uint32, target string) (fs.Attr, error) {
	if err := f.alive(); err != nil {
		return fs.Attr{}, err
	}
	if err := checkName(name); err != nil {
		return fs.Attr{}, err
	}
	if name == "." || name == ".." {
		return fs.Attr{}, syscall.EEXIST
	}
	nb := bucket.Place(parent, name)
	unlock := f.lockBuckets(parent, bucket.MakeIno(nb, 0))
	defer unlock()
	dir := f.inode(parent)
	switch {
	case dir == nil || dir.Nlink == 0:
		return fs.Attr{}, syscall.ENOENT
	case dir.Dir == nil:
		return fs.Attr{}, syscall.ENOTDIR
	}
	if err := check(dir, c, mayWrite|mayExec); err != nil {
		return fs.Attr{}, err
	}
	if dir.Dir.Get(name) != nil {
		return fs.Attr{}, syscall.EEXIST
	}
	b := f.buckets[nb]
	t := now()
	a := journal.Inode{Ino: b.Alloc(), Mode: mode, Nlink: 1, Uid: c.Uid, Gid: c.Gid, Rdev: rdev,
		AtimeNs: t, MtimeNs: t, CtimeNs: t, Generation: 1}
	if dir.Mode&syscall.S_ISGID != 0 {
		a.Gid = dir.Gid
		if isDir(mode) {
			a.Mode |= syscall.S_ISGID
		}
	}
	if isDir(mode) {
		a.Nlink, a.Parent = 2, parent
		dir.Nlink++
	}
	in := f.newInode(a)
	in.Target = target
	b.Inodes[a.Ino] = in
	cookie := dir.NextCookie
	dir.NextCookie++
	dir.Dir.Put(bucket.Entry{Name: name, Ino: a.Ino, Cookie: cookie, Mode: mode & syscall.S_IFMT})
	dir.MtimeNs, dir.CtimeNs = t, t
	f.p.c.log(nil, f.inodeRec(in),
		&journal.Record{Kind: journal.KindDentryPut, FS: f.id, Ino: parent, Name: name, Child: a.Ino, Cookie: cookie, Mode: mode & syscall.S_IFMT},
		f.inodeRec(dir))
	return attrOf(in), nil
}

// Mknod implements fs.Service.
func (f *FS) Mknod(ctx context.Context, c fs.Caller, parent fs.Ino, name string, mode, rdev uint32) (fs.Attr, error) {
	switch mode & syscall.S_IFMT {
	case 0:
		mode |= syscall.S_IFREG
	case syscall.S_IFREG, syscall.S_IFIFO, syscall.S_IFSOCK:
	case syscall.S_IFCHR, syscall.S_IFBLK:
		if c.Uid != 0 {
			return fs.Attr{}, syscall.EPERM
		}
	default:
		return fs.Attr{}, syscall.EINVAL
	}
	return f.create(c, uint64(parent), name, mode&(syscall.S_IFMT|0o7777), rdev, "")
}

// Mkdir implements fs.Service.
func (f *FS) Mkdir(ctx context.Context, c fs.Caller, parent fs.Ino, name string, mode uint32) (fs.Attr, error) {
	return f.create(c, uint64(parent), name, syscall.S_IFDIR|mode&0o7777, 0, "")
}

// Symlink implements fs.Service.
func (f *FS) Symlink(ctx context.Context, c fs.Caller, parent fs.Ino, name, target string) (fs.Attr, error) {
	if len(target) == 0 {
		return fs.Attr{}, syscall.ENOENT
	}
	if len(target) > symlinkMax {
		return fs.Attr{}, syscall.ENAMETOOLONG
	}
	return f.create(c, uint64(parent), name, syscall.S_IFLNK|0o777, 0, target)
}

// Readlink implements fs.Service.
func (f *FS) Readlink(ctx context.Context, ino fs.Ino) (string, error) {
	if err := f.alive(); err != nil {
		return "", err
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	defer b.Mu.Unlock()
	in := b.Inodes[uint64(ino)]
	if in == nil {
		return "", syscall.ENOENT
	}
	if in.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", syscall.EINVAL
	}
	return in.Target, nil
}

// Link implements fs.Service.
func (f *FS) Link(ctx context.Context, c fs.Caller, ino fs.Ino, newParent fs.Ino, newName string) (fs.Attr, error) {
	if err := f.alive(); err != nil {
		return fs.Attr{}, err
	}
	if err := checkName(newName); err != nil {
		return fs.Attr{}, err
	}
	if newName == "." || newName == ".." {
		return fs.Attr{}, syscall.EEXIST
	}
	unlock := f.lockBuckets(uint64(ino), uint64(newParent))
	defer unlock()
	in := f.inode(uint64(ino))
	dir := f.inode(uint64(newParent))
	switch {
	case in == nil || dir == nil || dir.Nlink == 0:
		return fs.Attr{}, syscall.ENOENT
	case isDir(in.Mode):
		return fs.Attr{}, syscall.EPERM
	case dir.Dir == nil:
		return fs.Attr{}, syscall.ENOTDIR
	}
	if err := check(dir, c, mayWrite|mayExec); err != nil {
		return fs.Attr{}, err
	}
	if dir.Dir.Get(newName) != nil {
		return fs.Attr{}, syscall.EEXIST
	}
	if in.Nlink == 0 {
		return fs.Attr{}, syscall.ENOENT
	}
	t := now()
	in.Nlink++
	in.CtimeNs = t
	cookie := dir.NextCookie
	dir.NextCookie++
	typ := in.Mode & syscall.S_IFMT
	dir.Dir.Put(bucket.Entry{Name: newName, Ino: in.Ino, Cookie: cookie, Mode: typ})
	dir.MtimeNs, dir.CtimeNs = t, t
	f.p.c.log(nil, f.inodeRec(in),
		&journal.Record{Kind: journal.KindDentryPut, FS: f.id, Ino: dir.Ino, Name: newName, Child: in.Ino, Cookie: cookie, Mode: typ},
		f.inodeRec(dir))
	return attrOf(in), nil
}

// Unlink implements fs.Service.
func (f *FS) Unlink(ctx context.Context, c fs.Caller, parent fs.Ino, name string) error {
	return f.remove(c, uint64(parent), name, false)
}

// Rmdir implements fs.Service.
func (f *FS) Rmdir(ctx context.Context, c fs.Caller, parent fs.Ino, name string) error {
	return f.remove(c, uint64(parent), name, true)
}

func (f *FS) remove(c fs.Caller, parent uint64, name string, rmdir bool) error {
	if err := f.alive(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	if rmdir && name == "." {
		return syscall.EINVAL
	}
	if name == "." || name == ".." {
		if rmdir {
			return syscall.ENOTEMPTY
		}
		return syscall.EISDIR
	}
	unlock, dir, _, child, err := f.lockEntry(c, parent, name, mayExec)
	if err != nil {
		return err
	}
	if child == nil {
		unlock()
		return syscall.ENOENT
	}
	switch {
	case !allowed(dir, c, mayWrite|mayExec):
		err = syscall.EACCES
	case stickyDenied(dir, child, c):
		err = syscall.EPERM
	case rmdir && !isDir(child.Mode):
		err = syscall.ENOTDIR
	case !rmdir && isDir(child.Mode):
		err = syscall.EISDIR
	case rmdir && child.Dir.Len() > 0:
		err = syscall.ENOTEMPTY
	}
	if err != nil {
		unlock()
		return err
	}
	t := now()
	dir.Dir.Remove(name)
	dir.MtimeNs, dir.CtimeNs = t, t
	child.CtimeNs = t
	if rmdir {
		dir.Nlink--
		child.Nlink = 0
	} else {
		child.Nlink--
	}
	recs := []*journal.Record{{Kind: journal.KindDentryDel, FS: f.id, Ino: parent, Name: name}, f.inodeRec(dir)}
	gone := f.dropIfUnused(child)
	if gone {
		recs = append(recs, &journal.Record{Kind: journal.KindInodeDel, FS: f.id, Ino: child.Ino})
	} else {
		recs = append(recs, f.inodeRec(child))
	}
	f.p.c.log(nil, recs...)
	unlock()
	if gone {
		f.releaseData(child)
	}
	return nil
}

// dropIfUnused removes in from its bucket when no name and no handle
// keeps it. Callers hold its bucket's Mu, then call releaseData once
// they have logged the InodeDel and unlocked.
func (f *FS) dropIfUnused(in *bucket.Inode) bool {
	if in.Nlink > 0 || in.Opens > 0 {
		return false
	}
	b := f.bkt(in.Ino)
	if b.Inodes[in.Ino] != in {
		return false
	}
	delete(b.Inodes, in.Ino)
	return true
}

// Rename implements fs.Service.
func (f *FS) Rename(ctx context.Context, c fs.Caller, oldParent fs.Ino, oldName string, newParent fs.Ino, newName string, flags uint32) error {
	if err := f.alive(); err != nil {
		return err
	}
	for _, n := range []string{oldName, newName} {
		if err := checkName(n); err != nil {
			return err
		}
		if n == "." || n == ".." {
			return syscall.EBUSY
		}
	}
	if flags&^(fs.RenameNoReplace|fs.RenameExchange) != 0 || flags == fs.RenameNoReplace|fs.RenameExchange {
		return syscall.EINVAL
	}
	op, np := uint64(oldParent), uint64(newParent)
	unlock := f.lockAll()
	od, nd := f.inode(op), f.inode(np)
	var dst *bucket.Inode
	err := func() error {
		switch {
		case od == nil || nd == nil:
			return syscall.ENOENT
		case od.Dir == nil || nd.Dir == nil:
			return syscall.ENOTDIR
		}
		if !allowed(od, c, mayWrite|mayExec) || !allowed(nd, c, mayWrite|mayExec) {
			return syscall.EACCES
		}
		e := od.Dir.Get(oldName)
		if e == nil {
			return syscall.ENOENT
		}
		src := f.inode(e.Ino)
		if src == nil {
			return syscall.ENOENT
		}
		if stickyDenied(od, src, c) {
			return syscall.EPERM
		}
		te := nd.Dir.Get(newName)
		if te != nil {
			dst = f.inode(te.Ino)
		}
		if flags&fs.RenameNoReplace != 0 && dst != nil {
			return syscall.EEXIST
		}
		if flags&fs.RenameExchange != 0 && dst == nil {
			return syscall.ENOENT
		}
		if dst == src {
			dst = nil
			return errSame
		}
		if dst != nil && stickyDenied(nd, dst, c) {
			return syscall.EPERM
		}
		if isDir(src.Mode) && op != np {
			if f.isAncestor(src.Ino, np) {
				return syscall.EINVAL
			}
			if c.Uid != 0 && !allowed(src, c, mayWrite) {
				return syscall.EACCES
			}
		}
		if flags&fs.RenameExchange != 0 && isDir(dst.Mode) && op != np && f.isAncestor(dst.Ino, op) {
			return syscall.EINVAL
		}
		t := now()
		var recs []*journal.Record
		put := func(d *bucket.Inode, name string, in *bucket.Inode) {
			cookie := d.NextCookie
			d.NextCookie++
			typ := in.Mode & syscall.S_IFMT
			d.Dir.Put(bucket.Entry{Name: name, Ino: in.Ino, Cookie: cookie, Mode: typ})
			recs = append(recs, &journal.Record{Kind: journal.KindDentryPut, FS: f.id, Ino: d.Ino, Name: name, Child: in.Ino, Cookie: cookie, Mode: typ})
		}
		move := func(in, from, to *bucket.Inode) {
			if isDir(in.Mode) && from != to {
				from.Nlink--
				to.Nlink++
				in.Parent = to.Ino
			}
		}
		if flags&fs.RenameExchange != 0 {
			put(od, oldName, dst)
			put(nd, newName, src)
			move(src, od, nd)
			move(dst, nd, od)
			dst.CtimeNs = t
			recs = append(recs, f.inodeRec(dst))
			dst = nil
		} else {
			if dst != nil {
				switch {
				case isDir(src.Mode) && !isDir(dst.Mode):
					return syscall.ENOTDIR
				case !isDir(src.Mode) && isDir(dst.Mode):
					return syscall.EISDIR
				case isDir(dst.Mode) && dst.Dir.Len() > 0:
					return syscall.ENOTEMPTY
				}
				if isDir(dst.Mode) {
					dst.Nlink = 0
					nd.Nlink--
				} else {
					dst.Nlink--
				}
				dst.CtimeNs = t
			}
			od.Dir.Remove(oldName)
			recs = append(recs, &journal.Record{Kind: journal.KindDentryDel, FS: f.id, Ino: op, Name: oldName})
			put(nd, newName, src)
			move(src, od, nd)
			if dst != nil {
				if f.dropIfUnused(dst) {
					recs = append(recs, &journal.Record{Kind: journal.KindInodeDel, FS: f.id, Ino: dst.Ino})
				} else {
					recs = append(recs, f.inodeRec(dst))
					dst = nil
				}
			}
		}
		src.CtimeNs = t
		od.MtimeNs, od.CtimeNs, nd.MtimeNs, nd.CtimeNs = t, t, t, t
		recs = append(recs, f.inodeRec(src), f.inodeRec(od))
		if nd != od {
			recs = append(recs, f.inodeRec(nd))
		}
		f.p.c.log(nil, recs...)
		return nil
	}()
	unlock()
	if err == errSame {
		return nil
	}
	if err == nil && dst != nil {
		f.releaseData(dst)
	}
	return err
}

// errSame ends a rename of a name onto another name of the same inode,
// which POSIX defines as doing nothing.
var errSame = errors.New("rename onto the same inode")

// isAncestor reports whether dir a is dir d or one of its ancestors.
// Callers hold every bucket.
func (f *FS) isAncestor(a, d uint64) bool {
	for i := 0; i < 1<<16; i++ {
		if d == a {
			return true
		}
		if d == uint64(fs.RootIno) {
			return false
		}
		in := f.inode(d)
		if in == nil {
			return false
		}
		d = in.Parent
	}
	return false
}

// ReadDir implements fs.Service.
func (f *FS) ReadDir(ctx context.Context, c fs.Caller, ino fs.Ino, cookie uint64, buf []fs.DirEntry) (int, error) {
	if err := f.alive(); err != nil {
		return 0, err
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	defer b.Mu.Unlock()
	dir := b.Inodes[uint64(ino)]
	switch {
	case dir == nil:
		return 0, syscall.ENOENT
	case dir.Dir == nil:
		return 0, syscall.ENOTDIR
	}
	if err := check(dir, c, mayRead); err != nil {
		return 0, err
	}
	n := 0
	if cookie == 0 && n < len(buf) {
		buf[n] = fs.DirEntry{Name: ".", Ino: ino, Mode: syscall.S_IFDIR, Cookie: 1}
		n++
	}
	if cookie <= 1 && n < len(buf) {
		buf[n] = fs.DirEntry{Name: "..", Ino: fs.Ino(dir.Parent), Mode: syscall.S_IFDIR, Cookie: 2}
		n++
	}
	dir.Dir.After(max(cookie, 2), func(e *bucket.Entry) bool {
		if n >= len(buf) {
			return false
		}
		buf[n] = fs.DirEntry{Name: e.Name, Ino: fs.Ino(e.Ino), Mode: e.Mode, Cookie: e.Cookie}
		n++
		return true
	})
	return n, nil
}

// Open implements fs.Service.
func (f *FS) Open(ctx context.Context, c fs.Caller, ino fs.Ino, flags uint32) (uint64, fs.Attr, error) {
	if err := f.alive(); err != nil {
		return 0, fs.Attr{}, err
	}
	var mask uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		mask = mayRead
	case syscall.O_WRONLY:
		mask = mayWrite
	default:
		mask = mayRead | mayWrite
	}
	if flags&syscall.O_TRUNC != 0 {
		mask |= mayWrite
	}
	b := f.bkt(uint64(ino))
	b.Mu.Lock()
	in := b.Inodes[uint64(ino)]
	var err error
	switch {
	case in == nil:
		err = syscall.ENOENT
	case isDir(in.Mode) && mask&mayWrite != 0:
		err = syscall.EISDIR
	default:
		err = check(in, c, mask)
	}
	if err != nil {
		b.Mu.Unlock()
		return 0, fs.Attr{}, err
	}
	in.Opens++
	trunc := flags&syscall.O_TRUNC != 0 && in.Mode&syscall.S_IFMT == syscall.S_IFREG && in.Size > 0
	b.Mu.Unlock()
	f.hmu.Lock()
	h := f.nextHandle
	f.nextHandle++
	f.handles[h] = &handle{ino: uint64(ino), in: in, flags: flags}
	f.hmu.Unlock()
	if trunc {
		if err := f.truncate(in, 0); err != nil {
			f.Release(ctx, h)
			return 0, fs.Attr{}, err
		}
	}
	a, err := f.GetAttr(ctx, ino)
	return h, a, err
}

// Release implements fs.Service.
func (f *FS) Release(ctx context.Context, h uint64) error {
	f.hmu.Lock()
	hd := f.handles[h]
	delete(f.handles, h)
	f.hmu.Unlock()
	if hd == nil {
		return syscall.EBADF
	}
	b := f.bkt(hd.ino)
	b.Mu.Lock()
	hd.in.Opens--
	gone := f.dropIfUnused(hd.in)
	if gone {
		f.p.c.log(nil, &journal.Record{Kind: journal.KindInodeDel, FS: f.id, Ino: hd.ino})
	}
	b.Mu.Unlock()
	if gone {
		f.releaseData(hd.in)
	}
	return nil
}

func (f *FS) handle(h uint64) *handle {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	return f.handles[h]
}

func (f *FS) handleWritable(h uint64, in *bucket.Inode) bool {
	hd := f.handle(h)
	return hd != nil && hd.in == in && hd.flags&syscall.O_ACCMODE != syscall.O_RDONLY
}

// StatFS implements fs.Service.
func (f *FS) StatFS(ctx context.Context) (fs.StatFS, error) {
	if err := f.alive(); err != nil {
		return fs.StatFS{}, err
	}
	total := int64(f.def.CapacityBytes / journal.BlockBytes)
	free := max(total-f.usedBlocks.Load(), 0)
	poolFree := max(f.p.freeBlocks(), 0) * int64(f.lay.N) / int64(f.lay.N+f.lay.P)
	free = min(free, poolFree)
	var files uint64
	for _, b := range f.buckets {
		b.Mu.Lock()
		files += uint64(len(b.Inodes))
		b.Mu.Unlock()
	}
	return fs.StatFS{BlockSize: journal.BlockBytes, Blocks: uint64(total), BlocksFree: uint64(free),
		BlocksAvail: uint64(free), Files: files + 1<<32, FilesFree: 1 << 32, NameMax: nameBytesMax}, nil
}
