package frontend

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/weft-fs/weft/dataplane/fs"
)

// blockSizePreferred is st_blksize: the IO size tools like cp and stdio
// use per call. One full FUSE write (MaxWrite) keeps round trips few.
const blockSizePreferred = writeBytesMax

// splitNs turns nanoseconds since the epoch into seconds and nanoseconds
// with 0 <= nsec < 1e9, as the kernel expects for times before 1970 too.
func splitNs(ns int64) (uint64, uint32) {
	sec := ns / 1e9
	nsec := ns % 1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return uint64(sec), uint32(nsec)
}

// joinNs is splitNs's inverse.
func joinNs(sec uint64, nsec uint32) int64 {
	return int64(sec)*1e9 + int64(nsec)
}

func fillAttr(out *fuse.Attr, a *fs.Attr) {
	out.Ino = uint64(a.Ino)
	out.Size = a.Size
	out.Blocks = a.Blocks
	out.Atime, out.Atimensec = splitNs(a.AtimeNs)
	out.Mtime, out.Mtimensec = splitNs(a.MtimeNs)
	out.Ctime, out.Ctimensec = splitNs(a.CtimeNs)
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Uid = a.Uid
	out.Gid = a.Gid
	out.Rdev = a.Rdev
	out.Blksize = blockSizePreferred
	out.Flags = 0
}

// fillEntry answers a lookup-like request. The node id given to the
// kernel is the inode number itself, so no table maps one to the other
// and every frontend of a file system names an inode the same way.
func (f *fileSystem) fillEntry(out *fuse.EntryOut, a *fs.Attr) {
	out.NodeId = uint64(a.Ino)
	out.Generation = a.Generation
	out.SetEntryTimeout(f.opts.EntryTimeout)
	out.SetAttrTimeout(f.opts.AttrTimeout)
	fillAttr(&out.Attr, a)
	f.inodes.ref(out.NodeId, 1)
}

func (f *fileSystem) fillAttrOut(out *fuse.AttrOut, a *fs.Attr) {
	out.SetTimeout(f.opts.AttrTimeout)
	fillAttr(&out.Attr, a)
}

// setAttrIn translates FUSE's setattr into the file system's.
func setAttrIn(in *fuse.SetAttrIn) fs.SetAttrIn {
	var s fs.SetAttrIn
	v := in.Valid
	if v&fuse.FATTR_MODE != 0 {
		s.Valid |= fs.SetMode
		s.Mode = in.Mode & 0o7777
	}
	if v&fuse.FATTR_UID != 0 {
		s.Valid |= fs.SetUid
		s.Uid = in.Uid
	}
	if v&fuse.FATTR_GID != 0 {
		s.Valid |= fs.SetGid
		s.Gid = in.Gid
	}
	if v&fuse.FATTR_SIZE != 0 {
		s.Valid |= fs.SetSize
		s.Size = in.Size
	}
	switch {
	case v&fuse.FATTR_ATIME_NOW != 0:
		s.Valid |= fs.SetAtimeNow
	case v&fuse.FATTR_ATIME != 0:
		s.Valid |= fs.SetAtime
		s.AtimeNs = joinNs(in.Atime, in.Atimensec)
	}
	switch {
	case v&fuse.FATTR_MTIME_NOW != 0:
		s.Valid |= fs.SetMtimeNow
	case v&fuse.FATTR_MTIME != 0:
		s.Valid |= fs.SetMtime
		s.MtimeNs = joinNs(in.Mtime, in.Mtimensec)
	}
	if v&fuse.FATTR_CTIME != 0 {
		s.Valid |= fs.SetCtime
		s.CtimeNs = joinNs(in.Ctime, in.Ctimensec)
	}
	if v&fuse.FATTR_FH != 0 {
		s.Handle = in.Fh
	}
	return s
}

// status maps a file-system error to the errno the kernel gets.
func status(err error) fuse.Status {
	if err == nil {
		return fuse.OK
	}
	return fuse.Status(fs.Errno(err))
}
