// Package frontend serves a weft file system to the kernel through FUSE
// (hanwen/go-fuse/v2, raw API). It holds no file-system logic: every
// request becomes one fs.Service call, and in a weft host that service
// is the fsrpc client, which reaches the compute role that owns the
// inode through the messenger.
//
// The path of a request:
//
//	application ─ read(2) ─► kernel VFS ─► fuse.ko ─► /dev/fuse
//	   │                                                 │
//	   │       go-fuse reader goroutine ◄────────────────┘
//	   │          │ fuse.RawFileSystem (this package: rawfs.go)
//	   │          ▼
//	   │       fs.Service ─ fsrpc client: fsmsg.ReadReq ─► messenger.Call
//	   │                                                      │ UDP / AF_XDP
//	   │                                                      ▼
//	   │       compute role: messenger handler ─► fsrpc server ─► fs pool ─► drives
//	   ▼
//	reply bytes land in go-fuse's buffer, written back to /dev/fuse
//
// Identity: a FUSE node id is the inode number (fs.Ino), a FUSE file
// handle is the service's open handle, and a directory offset is the
// service's cookie, so the frontend keeps no per-file state. It counts
// the kernel's references per node (lookup adds, forget subtracts) in
// inodes.go.
//
// Credentials: every request that needs a permission check carries the
// caller's effective uid and gid from the FUSE header and the calling
// thread's supplementary groups, read from /proc/<pid>/status (skipped
// for root, who passes every check, and for kernel-made requests) and
// cached for a second per (pid, uid, gid). The compute role checks:
// that saves the extra getattr per path component that the kernel's
// default_permissions needs with zero attribute timeouts.
// Options.DefaultPermissions makes the kernel check mode bits first as
// well.
//
// Consistency: a write acknowledged to one client must be visible to
// every client, and the compute role cannot yet call back into a
// frontend to invalidate its caches. So by default nothing that another
// client could change is cached: entry and attribute timeouts are zero,
// negative lookups are not cached, symlink targets are not cached, and
// file data uses direct IO (no page cache; reads and writes of up to
// 1 MiB go straight to the compute role, concurrent writers to one file
// in parallel, mmap still allowed). Options.AttrTimeout, EntryTimeout
// and PageCache relax this for a file system only one client uses.
// Writes are never cached (no writeback cache): write(2) returns after
// the compute role acknowledged the data, and fsync makes it durable.
//
// O_APPEND: the offset of an append is chosen by the compute role at the
// file's real end (appendMode), atomically with other appenders on any
// client; such handles always bypass the page cache.
//
// Round trips: a lookup, getattr, open or write is one call to the
// compute role; a service that offers them (the fsrpc client does)
// also lists directories with attributes in one call per batch
// (DirPlusReader) and creates-and-opens in one call (FileCreator).
//
// Mount options core=, num_cores= and net= configure the messenger the
// fsrpc client talks through, not this package; Options carries them
// for the caller that builds both.
package frontend
