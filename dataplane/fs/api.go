package fs

import (
	"context"
	"syscall"
)

// Ino is an inode number. The top 16 bits name the bucket that owns the
// inode, so any role can route a request by inode number alone.
type Ino uint64

// RootIno is the root directory of every file system.
const RootIno Ino = 1

// Attr is an inode's attributes as POSIX stat(2) reports them.
type Attr struct {
	Ino        Ino
	Mode       uint32 // file type bits (syscall.S_IF*) and permission bits
	Nlink      uint32
	Uid, Gid   uint32
	Rdev       uint32
	Size       uint64
	Blocks     uint64 // 512-byte blocks allocated
	AtimeNs    int64  // nanoseconds since the Unix epoch
	MtimeNs    int64
	CtimeNs    int64
	Generation uint64
}

// Caller is who asks: the credentials permission checks are made against.
type Caller struct {
	Uid, Gid uint32
	Groups   []uint32
	Pid      uint32
}

// SetAttr valid bits.
const (
	SetMode uint32 = 1 << iota
	SetUid
	SetGid
	SetSize
	SetAtime
	SetMtime
	SetAtimeNow
	SetMtimeNow
	SetCtime
)

// SetAttrIn carries the fields of a setattr request whose bit is set in Valid.
type SetAttrIn struct {
	Valid   uint32
	Mode    uint32
	Uid     uint32
	Gid     uint32
	Size    uint64
	AtimeNs int64
	MtimeNs int64
	CtimeNs int64
	Handle  uint64 // open handle for ftruncate, or 0
}

// DirEntry is one directory entry as ReadDir returns it. Cookie is the
// position to resume after this entry.
type DirEntry struct {
	Name   string
	Ino    Ino
	Mode   uint32 // file type bits only
	Cookie uint64
}

// StatFS is statfs(2) for one file system.
type StatFS struct {
	BlockSize   uint32
	Blocks      uint64
	BlocksFree  uint64
	BlocksAvail uint64
	Files       uint64
	FilesFree   uint64
	NameMax     uint32
}

// Rename flags (renameat2).
const (
	RenameNoReplace uint32 = 1 << 0
	RenameExchange  uint32 = 1 << 1
)

// Service is the file system as the frontend sees it: one POSIX namespace.
// The compute role implements it; the frontend reaches it through weft's
// protocol. Errors a caller branches on are syscall.Errno values (ENOENT,
// EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, EXDEV, EACCES, EPERM, ENOSPC, EIO,
// ENODATA, ERANGE, ENAMETOOLONG, EINVAL, ...), possibly wrapped.
type Service interface {
	Lookup(ctx context.Context, c Caller, parent Ino, name string) (Attr, error)
	GetAttr(ctx context.Context, ino Ino) (Attr, error)
	SetAttr(ctx context.Context, c Caller, ino Ino, in SetAttrIn) (Attr, error)
	Access(ctx context.Context, c Caller, ino Ino, mask uint32) error

	// Mknod creates regular files (S_IFREG), FIFOs, sockets and device nodes.
	Mknod(ctx context.Context, c Caller, parent Ino, name string, mode, rdev uint32) (Attr, error)
	Mkdir(ctx context.Context, c Caller, parent Ino, name string, mode uint32) (Attr, error)
	Symlink(ctx context.Context, c Caller, parent Ino, name, target string) (Attr, error)
	Readlink(ctx context.Context, ino Ino) (string, error)
	Link(ctx context.Context, c Caller, ino Ino, newParent Ino, newName string) (Attr, error)
	Unlink(ctx context.Context, c Caller, parent Ino, name string) error
	Rmdir(ctx context.Context, c Caller, parent Ino, name string) error
	Rename(ctx context.Context, c Caller, oldParent Ino, oldName string, newParent Ino, newName string, flags uint32) error

	// Open checks permission for flags (O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC,
	// O_APPEND) and pins the inode: an unlinked inode lives until its last
	// handle is released.
	Open(ctx context.Context, c Caller, ino Ino, flags uint32) (handle uint64, a Attr, err error)
	Release(ctx context.Context, handle uint64) error
	// Read reads at off into buf and returns the byte count; short only at EOF.
	Read(ctx context.Context, handle uint64, ino Ino, off int64, buf []byte) (int, error)
	// Write writes data at off, or at end of file when appendMode is set
	// (atomically with respect to other appenders). It returns the offset
	// written at and the file's new attributes.
	Write(ctx context.Context, handle uint64, ino Ino, off int64, data []byte, appendMode bool) (at int64, a Attr, err error)
	// Fsync makes the inode's data (and metadata unless dataOnly) durable.
	Fsync(ctx context.Context, handle uint64, ino Ino, dataOnly bool) error

	// ReadDir lists entries after cookie (0 = from the start, including "."
	// and ".."), filling up to len(buf) entries; n == 0 means end of directory.
	ReadDir(ctx context.Context, c Caller, ino Ino, cookie uint64, buf []DirEntry) (n int, err error)

	SetXattr(ctx context.Context, c Caller, ino Ino, name string, value []byte, flags uint32) error
	GetXattr(ctx context.Context, c Caller, ino Ino, name string, buf []byte) (int, error)
	ListXattr(ctx context.Context, c Caller, ino Ino, buf []byte) (int, error)
	RemoveXattr(ctx context.Context, c Caller, ino Ino, name string) error

	StatFS(ctx context.Context) (StatFS, error)
}

// Errno extracts the POSIX error number from err, EIO if it carries none.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if asErrno(err, &e) {
		return e
	}
	return syscall.EIO
}
