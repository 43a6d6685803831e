package pool

import (
	"slices"
	"syscall"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/fs"
)

// Access mask bits (access(2)).
const (
	mayRead  = 4
	mayWrite = 2
	mayExec  = 1
)

func inGroup(c fs.Caller, gid uint32) bool {
	return c.Gid == gid || slices.Contains(c.Groups, gid)
}

// allowed checks mask against in's permission bits for c. Root passes
// everything except executing a file nobody may execute.
func allowed(in *bucket.Inode, c fs.Caller, mask uint32) bool {
	if c.Uid == 0 {
		if mask&mayExec != 0 && !isDir(in.Mode) && in.Mode&0o111 == 0 {
			return false
		}
		return true
	}
	var bits uint32
	switch {
	case c.Uid == in.Uid:
		bits = in.Mode >> 6 & 7
	case inGroup(c, in.Gid):
		bits = in.Mode >> 3 & 7
	default:
		bits = in.Mode & 7
	}
	return bits&mask == mask
}

func check(in *bucket.Inode, c fs.Caller, mask uint32) error {
	if !allowed(in, c, mask) {
		return syscall.EACCES
	}
	return nil
}

// stickyDenied reports whether the sticky bit of dir stops c from
// removing or renaming child.
func stickyDenied(dir, child *bucket.Inode, c fs.Caller) bool {
	return dir.Mode&syscall.S_ISVTX != 0 && c.Uid != 0 && c.Uid != dir.Uid && c.Uid != child.Uid
}

func checkName(name string) error {
	if name == "" {
		return syscall.ENOENT
	}
	if len(name) > nameBytesMax {
		return syscall.ENAMETOOLONG
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return syscall.EINVAL
		}
	}
	return nil
}
