package frontend

import (
	"context"
	"log/slog"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/weft-fs/weft/dataplane/fs"
)

// DirPlusReader is an optional fs.Service extension: ReadDir that also
// returns each entry's attributes (attrs[i] for ents[i]), so a
// readdirplus costs one round trip per batch instead of one lookup per
// entry. The fsrpc client offers it.
type DirPlusReader interface {
	ReadDirPlus(ctx context.Context, c fs.Caller, ino fs.Ino, cookie uint64, ents []fs.DirEntry, attrs []fs.Attr) (int, error)
}

// FileCreator is an optional fs.Service extension: make a regular file
// and open it in one round trip (open with O_CREAT). Without O_EXCL in
// flags an existing file of that name is opened. The fsrpc client
// offers it.
type FileCreator interface {
	Create(ctx context.Context, c fs.Caller, parent fs.Ino, name string, mode, flags uint32) (handle uint64, a fs.Attr, err error)
}

// Sizes of the per-request directory batches.
const (
	// dirBatchEntriesMax is the most entries one readdir asks the file
	// system for; what does not fit the kernel's buffer is asked again
	// from its cookie next time.
	dirBatchEntriesMax = 128
	// direntBytesMin is the smallest FUSE dirent (header and an
	// 8-byte-padded short name), to size a batch from the kernel's buffer.
	direntBytesMin = 24 + 8
	// direntPlusBytesMin adds the entry reply readdirplus carries.
	direntPlusBytesMin = direntBytesMin + 128
)

// dirBatch holds the buffers of one readdir call.
type dirBatch struct {
	ents  [dirBatchEntriesMax]fs.DirEntry
	attrs [dirBatchEntriesMax]fs.Attr
}

// fileSystem is the FUSE raw file system over one fs.Service. It keeps
// no file or directory state of its own: FUSE file handles are the
// service's handles, node ids are inode numbers, and directory offsets
// are the service's cookies, so a request carries all it needs.
type fileSystem struct {
	fuse.RawFileSystem // ENOSYS for ops weft does not offer (locks, ioctl, lseek ...)

	svc     fs.Service
	dirPlus DirPlusReader // nil if svc has no batched readdirplus
	creator FileCreator   // nil if svc has no one-trip create
	opts    Options
	log     *slog.Logger
	inodes  *inodeTable
	groups  groupsCache
	// ctx bounds every call to the service: cancelled at unmount.
	ctx context.Context

	batches sync.Pool // *dirBatch
	results sync.Pool // *readResult
}

func newFileSystem(ctx context.Context, svc fs.Service, o Options) *fileSystem {
	f := &fileSystem{
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		svc:           svc,
		opts:          o,
		log:           o.Logger,
		inodes:        newInodeTable(),
		ctx:           ctx,
	}
	f.dirPlus, _ = svc.(DirPlusReader)
	f.creator, _ = svc.(FileCreator)
	f.batches.New = func() any { return new(dirBatch) }
	f.results.New = func() any { return &readResult{pool: &f.results} }
	return f
}

func (f *fileSystem) String() string { return "weft" }

// Lookup resolves name in the directory header.NodeId.
func (f *fileSystem) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	a, err := f.svc.Lookup(f.ctx, f.caller(h), fs.Ino(h.NodeId), name)
	if err != nil {
		return status(err)
	}
	f.fillEntry(out, &a)
	return fuse.OK
}

// Forget drops the kernel's references to a node.
func (f *fileSystem) Forget(node, nlookup uint64) { f.inodes.forget(node, nlookup) }

// GetAttr answers stat. Handle-based getattr (fstat) reads the same
// inode, so the handle is not needed.
func (f *fileSystem) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	a, err := f.svc.GetAttr(f.ctx, fs.Ino(in.NodeId))
	if err != nil {
		return status(err)
	}
	f.fillAttrOut(out, &a)
	return fuse.OK
}

// SetAttr carries chmod, chown, truncate/ftruncate and utimes.
func (f *fileSystem) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	a, err := f.svc.SetAttr(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), setAttrIn(in))
	if err != nil {
		return status(err)
	}
	f.fillAttrOut(out, &a)
	return fuse.OK
}

// Access answers access(2).
func (f *fileSystem) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	return status(f.svc.Access(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), in.Mask))
}

// Mknod makes regular files, FIFOs, sockets and device nodes.
func (f *fileSystem) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	a, err := f.svc.Mknod(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), name, in.Mode, in.Rdev)
	if err != nil {
		return status(err)
	}
	f.fillEntry(out, &a)
	return fuse.OK
}

// Mkdir makes a directory; the kernel already applied the umask.
func (f *fileSystem) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	a, err := f.svc.Mkdir(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), name, syscall.S_IFDIR|in.Mode&0o7777)
	if err != nil {
		return status(err)
	}
	f.fillEntry(out, &a)
	return fuse.OK
}

// Unlink removes a non-directory entry.
func (f *fileSystem) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return status(f.svc.Unlink(f.ctx, f.caller(h), fs.Ino(h.NodeId), name))
}

// Rmdir removes an empty directory.
func (f *fileSystem) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return status(f.svc.Rmdir(f.ctx, f.caller(h), fs.Ino(h.NodeId), name))
}

// Rename carries rename(2) and renameat2's NOREPLACE and EXCHANGE.
func (f *fileSystem) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if in.Flags&^(fs.RenameNoReplace|fs.RenameExchange) != 0 {
		return fuse.EINVAL // RENAME_WHITEOUT is for overlay file systems
	}
	return status(f.svc.Rename(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), oldName, fs.Ino(in.Newdir), newName, in.Flags))
}

// Link makes a hard link to in.Oldnodeid in the directory in.NodeId.
func (f *fileSystem) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	a, err := f.svc.Link(f.ctx, f.caller(&in.InHeader), fs.Ino(in.Oldnodeid), fs.Ino(in.NodeId), name)
	if err != nil {
		return status(err)
	}
	f.fillEntry(out, &a)
	return fuse.OK
}

// Symlink makes linkName in header.NodeId pointing at pointedTo.
func (f *fileSystem) Symlink(cancel <-chan struct{}, h *fuse.InHeader, pointedTo, linkName string, out *fuse.EntryOut) fuse.Status {
	a, err := f.svc.Symlink(f.ctx, f.caller(h), fs.Ino(h.NodeId), linkName, pointedTo)
	if err != nil {
		return status(err)
	}
	f.fillEntry(out, &a)
	return fuse.OK
}

// Readlink returns a symlink's target.
func (f *fileSystem) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	t, err := f.svc.Readlink(f.ctx, fs.Ino(h.NodeId))
	if err != nil {
		return nil, status(err)
	}
	return []byte(t), fuse.OK
}

// openFlags picks how the kernel treats a handle's data. With page
// caching off (the default) every read and write goes to the compute
// role, so what one client acknowledged every other client reads next;
// concurrent writes to one file are then let through in parallel (the
// file system orders them). O_APPEND handles always bypass the page
// cache: the file system chooses the offset, which the kernel's cached
// pages could not know.
func (f *fileSystem) openFlags(flags uint32) uint32 {
	switch {
	case flags&syscall.O_APPEND != 0:
		return fuse.FOPEN_DIRECT_IO
	case f.opts.PageCache:
		return 0
	default:
		return fuse.FOPEN_DIRECT_IO | fuse.FOPEN_PARALLEL_DIRECT_WRITES
	}
}

// Open opens a file; the service's handle is the FUSE file handle.
func (f *fileSystem) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	h, _, err := f.svc.Open(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), in.Flags)
	if err != nil {
		return status(err)
	}
	out.Fh = h
	out.OpenFlags = f.openFlags(in.Flags)
	return fuse.OK
}

// Create makes a regular file and opens it: in one round trip when the
// service is a FileCreator, else mknod then open. If another client made
// the name first and O_EXCL is not set, the existing file is opened, as
// open(O_CREAT) promises.
func (f *fileSystem) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	c := f.caller(&in.InHeader)
	parent := fs.Ino(in.NodeId)
	if f.creator != nil {
		h, a, err := f.creator.Create(f.ctx, c, parent, name, in.Mode&0o7777, in.Flags)
		if err != nil {
			return status(err)
		}
		f.fillEntry(&out.EntryOut, &a)
		out.Fh = h
		out.OpenFlags = f.openFlags(in.Flags)
		return fuse.OK
	}
	a, err := f.svc.Mknod(f.ctx, c, parent, name, syscall.S_IFREG|in.Mode&0o7777, 0)
	if fs.Errno(err) == syscall.EEXIST && in.Flags&syscall.O_EXCL == 0 {
		a, err = f.svc.Lookup(f.ctx, c, parent, name)
	}
	if err != nil {
		return status(err)
	}
	h, a2, err := f.svc.Open(f.ctx, c, a.Ino, in.Flags&^(syscall.O_CREAT|syscall.O_EXCL))
	if err != nil {
		return status(err)
	}
	if a2.Ino == a.Ino {
		a = a2
	}
	f.fillEntry(&out.EntryOut, &a)
	out.Fh = h
	out.OpenFlags = f.openFlags(in.Flags)
	return fuse.OK
}

// Read reads into the request's buffer; the service fills it in place.
func (f *fileSystem) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	size := int(in.Size)
	if size > len(buf) {
		size = len(buf)
	}
	n, err := f.svc.Read(f.ctx, in.Fh, fs.Ino(in.NodeId), int64(in.Offset), buf[:size])
	if err != nil {
		return nil, status(err)
	}
	return f.newReadResult(buf[:n]), fuse.OK
}

// Write writes at the kernel's offset, or at the file's real end when
// the handle has O_APPEND set (the kernel's idea of the end may be
// stale when another client appended). in.Flags are the file's current
// flags, so fcntl(F_SETFL, O_APPEND) counts too.
//
// weft promises that a write made with O_DIRECT is durable when it
// returns, as with O_SYNC/O_DSYNC (which the file system honours from
// the open flags itself): an O_DIRECT write is followed by a data fsync.
func (f *fileSystem) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	appendMode := in.Flags&syscall.O_APPEND != 0
	ino := fs.Ino(in.NodeId)
	_, _, err := f.svc.Write(f.ctx, in.Fh, ino, int64(in.Offset), data, appendMode)
	if err == nil && in.Flags&syscall.O_DIRECT != 0 && in.Flags&(syscall.O_SYNC|syscall.O_DSYNC) == 0 {
		err = f.svc.Fsync(f.ctx, in.Fh, ino, true)
	}
	if err != nil {
		return 0, status(err)
	}
	return uint32(len(data)), fuse.OK
}

// Flush has nothing to push: writes are sent to the compute role before
// write(2) returns.
func (f *fileSystem) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status { return fuse.OK }

// Fsync makes the file's data (and metadata unless fdatasync) durable.
func (f *fileSystem) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return status(f.svc.Fsync(f.ctx, in.Fh, fs.Ino(in.NodeId), in.FsyncFlags&1 != 0))
}

// Release closes a handle. Errors have nowhere to go but the log.
func (f *fileSystem) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	if err := f.svc.Release(f.ctx, in.Fh); err != nil {
		f.log.Warn("release", "ino", in.NodeId, "handle", in.Fh, "err", err)
	}
}

// Fallocate is not offered: files are sparse, space is taken on write.
func (f *fileSystem) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	return fuse.Status(syscall.EOPNOTSUPP)
}

// OpenDir checks read permission now, as opendir(3) must fail on an
// unreadable directory, not the first readdir.
func (f *fileSystem) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if err := f.svc.Access(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), 4 /* R_OK */); err != nil {
		return status(err)
	}
	return fuse.OK
}

// ReleaseDir has nothing to release: directory handles carry no state.
func (f *fileSystem) ReleaseDir(in *fuse.ReleaseIn) {}

// FsyncDir makes the directory's metadata durable.
func (f *fileSystem) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return status(f.svc.Fsync(f.ctx, 0, fs.Ino(in.NodeId), false))
}

// batchEntries sizes a batch to what fits the kernel's buffer.
func batchEntries(bufBytes uint32, entryBytesMin int) int {
	n := int(bufBytes)/entryBytesMin + 1
	return min(n, dirBatchEntriesMax)
}

// ReadDir lists entries after the offset, which is the cookie of the
// last entry the kernel took.
func (f *fileSystem) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	b := f.batches.Get().(*dirBatch)
	defer f.batches.Put(b)
	ents := b.ents[:batchEntries(in.Size, direntBytesMin)]
	n, err := f.svc.ReadDir(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), in.Offset, ents)
	if err != nil {
		return status(err)
	}
	for i := range ents[:n] {
		e := &ents[i]
		if !out.AddDirEntry(fuse.DirEntry{Name: e.Name, Ino: uint64(e.Ino), Mode: e.Mode, Off: e.Cookie}) {
			break
		}
	}
	return fuse.OK
}

// ReadDirPlus lists entries with their attributes, so ls -l and find
// need no lookup per entry. "." and ".." go without attributes: the
// kernel ignores them there and takes no reference.
func (f *fileSystem) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	b := f.batches.Get().(*dirBatch)
	defer f.batches.Put(b)
	c := f.caller(&in.InHeader)
	ino := fs.Ino(in.NodeId)
	count := batchEntries(in.Size, direntPlusBytesMin)
	ents, attrs := b.ents[:count], b.attrs[:count]
	var n int
	var err error
	if f.dirPlus != nil {
		n, err = f.dirPlus.ReadDirPlus(f.ctx, c, ino, in.Offset, ents, attrs)
	} else {
		n, err = f.svc.ReadDir(f.ctx, c, ino, in.Offset, ents)
	}
	if err != nil {
		return status(err)
	}
	for i := range ents[:n] {
		e := &ents[i]
		eo := out.AddDirLookupEntry(fuse.DirEntry{Name: e.Name, Ino: uint64(e.Ino), Mode: e.Mode, Off: e.Cookie})
		if eo == nil {
			break
		}
		if e.Name == "." || e.Name == ".." {
			continue
		}
		a := &attrs[i]
		if f.dirPlus == nil {
			var lerr error
			if *a, lerr = f.svc.Lookup(f.ctx, c, ino, e.Name); lerr != nil {
				continue // gone since the listing: a plain entry
			}
		}
		f.fillEntry(eo, a)
	}
	return fuse.OK
}

// StatFs answers statfs(2).
func (f *fileSystem) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	s, err := f.svc.StatFS(f.ctx)
	if err != nil {
		return status(err)
	}
	out.Blocks = s.Blocks
	out.Bfree = s.BlocksFree
	out.Bavail = s.BlocksAvail
	out.Files = s.Files
	out.Ffree = s.FilesFree
	out.Bsize = s.BlockSize
	out.Frsize = s.BlockSize
	out.NameLen = s.NameMax
	return fuse.OK
}

// GetXAttr reads one attribute; an empty dest asks for its size.
func (f *fileSystem) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	n, err := f.svc.GetXattr(f.ctx, f.caller(h), fs.Ino(h.NodeId), name, dest)
	if err != nil {
		return uint32(n), status(err)
	}
	return uint32(n), fuse.OK
}

// ListXAttr lists attribute names, NUL-terminated; an empty dest asks
// for the list's size.
func (f *fileSystem) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	n, err := f.svc.ListXattr(f.ctx, f.caller(h), fs.Ino(h.NodeId), dest)
	if err != nil {
		return uint32(n), status(err)
	}
	return uint32(n), fuse.OK
}

// SetXAttr sets one attribute (XATTR_CREATE/XATTR_REPLACE in flags).
func (f *fileSystem) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, name string, data []byte) fuse.Status {
	return status(f.svc.SetXattr(f.ctx, f.caller(&in.InHeader), fs.Ino(in.NodeId), name, data, in.Flags))
}

// RemoveXAttr removes one attribute.
func (f *fileSystem) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return status(f.svc.RemoveXattr(f.ctx, f.caller(h), fs.Ino(h.NodeId), name))
}
