package pool_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/internal/testkit"
)

var (
	alice = fs.Caller{Uid: 1000, Gid: 1000}
	bob   = fs.Caller{Uid: 1001, Gid: 1001}
)

func newFS(t *testing.T) (*pool.Pool, *pool.FS, []string) {
	t.Helper()
	return testkit.NewPool(t, 5, testkit.PoolDriveBytes, 256<<20, 3, 2, pool.Options{})
}

func wantErr(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("%s: %v, want success", what, err)
		}
		return
	}
	if got := fs.Errno(err); got != want || !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// must3 is must for Write's three results.
func must3(at int64, a fs.Attr, err error) fs.Attr {
	if err != nil {
		panic(err)
	}
	return a
}

// must returns v, failing the test (by panic, which the test runner
// reports with the caller's line) when err is set.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func names(t *testing.T, f *pool.FS, c fs.Caller, dir fs.Ino) []string {
	t.Helper()
	var out []string
	buf := make([]fs.DirEntry, 7)
	cookie := uint64(0)
	for {
		n, err := f.ReadDir(context.Background(), c, dir, cookie, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		for _, e := range buf[:n] {
			out = append(out, e.Name)
			cookie = e.Cookie
		}
	}
}

func TestNamespaceErrnos(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	reg := uint32(syscall.S_IFREG | 0o644)

	// Create, lookup, EEXIST, ENOENT, ENOTDIR, ENAMETOOLONG.
	d := must(f.Mkdir(ctx, root, fs.RootIno, "d", 0o777))
	if d.Nlink != 2 || d.Mode != syscall.S_IFDIR|0o777 {
		t.Fatalf("mkdir attr %+v", d)
	}
	a := must(f.Mknod(ctx, root, d.Ino, "a", reg, 0))
	_, err := f.Mknod(ctx, root, d.Ino, "a", reg, 0)
	wantErr(t, "create existing", err, syscall.EEXIST)
	_, err = f.Mkdir(ctx, root, d.Ino, "a", 0o755)
	wantErr(t, "mkdir over file", err, syscall.EEXIST)
	_, err = f.Lookup(ctx, root, d.Ino, "nope")
	wantErr(t, "lookup missing", err, syscall.ENOENT)
	_, err = f.Lookup(ctx, root, a.Ino, "x")
	wantErr(t, "lookup in file", err, syscall.ENOTDIR)
	_, err = f.Mknod(ctx, root, a.Ino, "x", reg, 0)
	wantErr(t, "create in file", err, syscall.ENOTDIR)
	_, err = f.Mknod(ctx, root, d.Ino, string(bytes.Repeat([]byte("n"), 256)), reg, 0)
	wantErr(t, "long name", err, syscall.ENAMETOOLONG)
	if got := must(f.Lookup(ctx, root, d.Ino, "..")); got.Ino != fs.RootIno {
		t.Fatalf(".. of d is %d", got.Ino)
	}

	// Unlink / rmdir errnos.
	wantErr(t, "unlink dir", f.Unlink(ctx, root, fs.RootIno, "d"), syscall.EISDIR)
	wantErr(t, "rmdir file", f.Rmdir(ctx, root, d.Ino, "a"), syscall.ENOTDIR)
	wantErr(t, "rmdir non-empty", f.Rmdir(ctx, root, fs.RootIno, "d"), syscall.ENOTEMPTY)
	wantErr(t, "unlink missing", f.Unlink(ctx, root, d.Ino, "zz"), syscall.ENOENT)

	// Symlink and readlink.
	s := must(f.Symlink(ctx, root, d.Ino, "s", "a/b/c"))
	if s.Size != 5 || s.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Fatalf("symlink attr %+v", s)
	}
	if got := must(f.Readlink(ctx, s.Ino)); got != "a/b/c" {
		t.Fatalf("readlink %q", got)
	}
	_, err = f.Readlink(ctx, a.Ino)
	wantErr(t, "readlink file", err, syscall.EINVAL)

	// FIFO, socket, device (root only).
	must(f.Mknod(ctx, root, d.Ino, "fifo", syscall.S_IFIFO|0o600, 0))
	must(f.Mknod(ctx, root, d.Ino, "sock", syscall.S_IFSOCK|0o600, 0))
	dev := must(f.Mknod(ctx, root, d.Ino, "dev", syscall.S_IFCHR|0o600, 0x0103))
	if dev.Rdev != 0x0103 {
		t.Fatalf("rdev %x", dev.Rdev)
	}
	_, err = f.Mknod(ctx, alice, d.Ino, "dev2", syscall.S_IFBLK|0o600, 1)
	wantErr(t, "mknod dev as user", err, syscall.EPERM)

	// Hard links.
	l := must(f.Link(ctx, root, a.Ino, fs.RootIno, "alink"))
	if l.Nlink != 2 {
		t.Fatalf("nlink after link %d", l.Nlink)
	}
	_, err = f.Link(ctx, root, d.Ino, fs.RootIno, "dlink")
	wantErr(t, "link dir", err, syscall.EPERM)
	_, err = f.Link(ctx, root, a.Ino, fs.RootIno, "alink")
	wantErr(t, "link existing", err, syscall.EEXIST)
	wantErr(t, "unlink link", f.Unlink(ctx, root, fs.RootIno, "alink"), 0)
	if got := must(f.GetAttr(ctx, a.Ino)); got.Nlink != 1 {
		t.Fatalf("nlink after unlink %d", got.Nlink)
	}

	// ReadDir lists everything once, with . and ..
	got := names(t, f, root, d.Ino)
	want := []string{".", "..", "a", "s", "fifo", "sock", "dev"}
	if !slices.Equal(got, want) {
		t.Fatalf("readdir %v want %v", got, want)
	}
	_, err = f.ReadDir(ctx, root, a.Ino, 0, make([]fs.DirEntry, 4))
	wantErr(t, "readdir file", err, syscall.ENOTDIR)
}

func TestPermissions(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	reg := uint32(syscall.S_IFREG | 0o644)
	// A directory owned by alice, 0755: bob can look but not create.
	d := must(f.Mkdir(ctx, root, fs.RootIno, "home", 0o755))
	must(f.SetAttr(ctx, root, d.Ino, fs.SetAttrIn{Valid: fs.SetUid | fs.SetGid, Uid: alice.Uid, Gid: alice.Gid}))
	a := must(f.Mknod(ctx, alice, d.Ino, "mine", reg&^0o044|0o600, 0))
	if a.Uid != alice.Uid || a.Gid != alice.Gid {
		t.Fatalf("owner %d:%d", a.Uid, a.Gid)
	}
	_, err := f.Mknod(ctx, bob, d.Ino, "his", reg, 0)
	wantErr(t, "create in other's dir", err, syscall.EACCES)
	_, _, err = f.Open(ctx, bob, a.Ino, syscall.O_RDONLY)
	wantErr(t, "open 0600 of other", err, syscall.EACCES)
	_, _, err = f.Open(ctx, root, a.Ino, syscall.O_RDWR)
	wantErr(t, "root bypass", err, 0)
	wantErr(t, "unlink in other's dir", f.Unlink(ctx, bob, d.Ino, "mine"), syscall.EACCES)
	// chmod/chown rules.
	_, err = f.SetAttr(ctx, bob, a.Ino, fs.SetAttrIn{Valid: fs.SetMode, Mode: 0o777})
	wantErr(t, "chmod by other", err, syscall.EPERM)
	_, err = f.SetAttr(ctx, alice, a.Ino, fs.SetAttrIn{Valid: fs.SetUid, Uid: bob.Uid})
	wantErr(t, "chown by owner", err, syscall.EPERM)
	got := must(f.SetAttr(ctx, alice, a.Ino, fs.SetAttrIn{Valid: fs.SetMode, Mode: 0o640}))
	if got.Mode != syscall.S_IFREG|0o640 {
		t.Fatalf("mode %o", got.Mode)
	}
	_, err = f.SetAttr(ctx, bob, a.Ino, fs.SetAttrIn{Valid: fs.SetMtime, MtimeNs: 5})
	wantErr(t, "utimes by other", err, syscall.EPERM)
	_, err = f.SetAttr(ctx, bob, a.Ino, fs.SetAttrIn{Valid: fs.SetMtimeNow})
	wantErr(t, "touch by other without write", err, syscall.EACCES)
	_, err = f.SetAttr(ctx, bob, a.Ino, fs.SetAttrIn{Valid: fs.SetSize, Size: 0})
	wantErr(t, "truncate by other", err, syscall.EACCES)
	wantErr(t, "access W by other", f.Access(ctx, bob, a.Ino, 2), syscall.EACCES)
	wantErr(t, "access R by owner", f.Access(ctx, alice, a.Ino, 4), 0)
	// Group permission via supplementary groups.
	g := fs.Caller{Uid: 2000, Gid: 3, Groups: []uint32{alice.Gid}}
	wantErr(t, "group read", f.Access(ctx, g, a.Ino, 4), 0)

	// Sticky directory: bob may not remove alice's file even with write.
	tmp := must(f.Mkdir(ctx, root, fs.RootIno, "tmp", 0o1777))
	must(f.Mknod(ctx, alice, tmp.Ino, "af", reg, 0))
	wantErr(t, "sticky unlink by other", f.Unlink(ctx, bob, tmp.Ino, "af"), syscall.EPERM)
	wantErr(t, "sticky rename by other", f.Rename(ctx, bob, tmp.Ino, "af", tmp.Ino, "bf", 0), syscall.EPERM)
	wantErr(t, "sticky unlink by owner", f.Unlink(ctx, alice, tmp.Ino, "af"), 0)

	// Search permission on a directory.
	priv := must(f.Mkdir(ctx, alice, d.Ino, "priv", 0o700))
	must(f.Mknod(ctx, alice, priv.Ino, "x", reg, 0))
	_, err = f.Lookup(ctx, bob, priv.Ino, "x")
	wantErr(t, "lookup without search", err, syscall.EACCES)
	_, err = f.ReadDir(ctx, bob, priv.Ino, 0, make([]fs.DirEntry, 4))
	wantErr(t, "readdir without read", err, syscall.EACCES)
}

func TestRename(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	reg := uint32(syscall.S_IFREG | 0o644)
	a := must(f.Mkdir(ctx, root, fs.RootIno, "a", 0o755))
	b := must(f.Mkdir(ctx, root, fs.RootIno, "b", 0o755))
	x := must(f.Mknod(ctx, root, a.Ino, "x", reg, 0))
	y := must(f.Mknod(ctx, root, b.Ino, "y", reg, 0))

	// Over an existing file across directories: y's inode goes.
	wantErr(t, "rename over file", f.Rename(ctx, root, a.Ino, "x", b.Ino, "y", 0), 0)
	if got := must(f.Lookup(ctx, root, b.Ino, "y")); got.Ino != x.Ino {
		t.Fatalf("b/y is %d want %d", got.Ino, x.Ino)
	}
	_, err := f.GetAttr(ctx, y.Ino)
	wantErr(t, "replaced inode", err, syscall.ENOENT)
	_, err = f.Lookup(ctx, root, a.Ino, "x")
	wantErr(t, "old name", err, syscall.ENOENT)

	// Directory moves: nlink of parents, "..".
	sub := must(f.Mkdir(ctx, root, a.Ino, "sub", 0o755))
	wantErr(t, "move dir", f.Rename(ctx, root, a.Ino, "sub", b.Ino, "sub2", 0), 0)
	if ga, gb := must(f.GetAttr(ctx, a.Ino)), must(f.GetAttr(ctx, b.Ino)); ga.Nlink != 2 || gb.Nlink != 3 {
		t.Fatalf("nlink a=%d b=%d", ga.Nlink, gb.Nlink)
	}
	if up := must(f.Lookup(ctx, root, sub.Ino, "..")); up.Ino != b.Ino {
		t.Fatalf(".. after move %d", up.Ino)
	}
	// Into itself.
	wantErr(t, "dir into itself", f.Rename(ctx, root, b.Ino, "sub2", sub.Ino, "deeper", 0), syscall.EINVAL)
	wantErr(t, "dir into own child", f.Rename(ctx, root, fs.RootIno, "b", sub.Ino, "b", 0), syscall.EINVAL)
	// Dir over empty dir, over non-empty dir, dir over file, file over dir.
	must(f.Mkdir(ctx, root, a.Ino, "empty", 0o755))
	wantErr(t, "dir over empty dir", f.Rename(ctx, root, b.Ino, "sub2", a.Ino, "empty", 0), 0)
	must(f.Mkdir(ctx, root, b.Ino, "full", 0o755))
	must(f.Mknod(ctx, root, must(f.Lookup(ctx, root, b.Ino, "full")).Ino, "f", reg, 0))
	wantErr(t, "dir over non-empty", f.Rename(ctx, root, a.Ino, "empty", b.Ino, "full", 0), syscall.ENOTEMPTY)
	wantErr(t, "dir over file", f.Rename(ctx, root, a.Ino, "empty", b.Ino, "y", 0), syscall.ENOTDIR)
	wantErr(t, "file over dir", f.Rename(ctx, root, b.Ino, "y", a.Ino, "empty", 0), syscall.EISDIR)
	wantErr(t, "missing source", f.Rename(ctx, root, a.Ino, "nope", b.Ino, "z", 0), syscall.ENOENT)

	// NOREPLACE and EXCHANGE.
	must(f.Mknod(ctx, root, a.Ino, "p", reg, 0))
	wantErr(t, "noreplace", f.Rename(ctx, root, a.Ino, "p", b.Ino, "y", fs.RenameNoReplace), syscall.EEXIST)
	pi := must(f.Lookup(ctx, root, a.Ino, "p")).Ino
	wantErr(t, "exchange", f.Rename(ctx, root, a.Ino, "p", b.Ino, "y", fs.RenameExchange), 0)
	if must(f.Lookup(ctx, root, b.Ino, "y")).Ino != pi || must(f.Lookup(ctx, root, a.Ino, "p")).Ino != x.Ino {
		t.Fatal("exchange did not swap")
	}
	wantErr(t, "exchange missing", f.Rename(ctx, root, a.Ino, "p", b.Ino, "none", fs.RenameExchange), syscall.ENOENT)
	// Same inode under two names: nothing happens.
	must(f.Link(ctx, root, pi, a.Ino, "p2"))
	wantErr(t, "rename onto hard link", f.Rename(ctx, root, b.Ino, "y", a.Ino, "p2", 0), 0)
	if must(f.GetAttr(ctx, pi)).Nlink != 2 {
		t.Fatal("rename onto own link changed nlink")
	}
}

func TestUnlinkOpenFile(t *testing.T) {
	ctx := context.Background()
	p, f, paths := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "o", syscall.S_IFREG|0o644, 0))
	h, _, err := f.Open(ctx, root, a.Ino, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	data := content(77)
	must3(f.Write(ctx, h, a.Ino, 0, data, false))
	wantErr(t, "unlink open", f.Unlink(ctx, root, fs.RootIno, "o"), 0)
	_, err = f.Lookup(ctx, root, fs.RootIno, "o")
	wantErr(t, "lookup unlinked", err, syscall.ENOENT)
	// Still readable and writable through the handle.
	must3(f.Write(ctx, h, a.Ino, int64(len(data)), []byte("tail"), false))
	got := make([]byte, len(data)+4)
	if n := must(f.Read(ctx, h, a.Ino, 0, got)); n != len(got) || !bytes.Equal(got[:len(data)], data) {
		t.Fatal("unlinked open file lost data")
	}
	if must(f.GetAttr(ctx, a.Ino)).Nlink != 0 {
		t.Fatal("nlink of unlinked file")
	}
	wantErr(t, "fsync", f.Fsync(ctx, h, a.Ino, false), 0)
	used := f.Info().UsedBytes
	if used == 0 {
		t.Fatal("no space used")
	}
	// A crash now leaves an orphan; Check counts it, Open removes it.
	pool.Abandon(p)
	rep := must(pool.Check(paths))
	if !rep.Clean() || rep.Orphans != 1 {
		t.Fatalf("check: clean %v orphans %d problems %v", rep.Clean(), rep.Orphans, rep.Problems)
	}
	p2 := must(pool.Open(paths, pool.Options{}))
	defer p2.Close()
	f2 := must(p2.FS("fs"))
	if _, err := f2.GetAttr(ctx, a.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("orphan survived open: %v", err)
	}
	if u := f2.Info().UsedBytes; u != 0 {
		t.Fatalf("orphan space not freed: %d", u)
	}
}

func TestUnlinkOpenFileRelease(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "o", syscall.S_IFREG|0o644, 0))
	h, _, _ := f.Open(ctx, root, a.Ino, syscall.O_RDWR)
	must3(f.Write(ctx, h, a.Ino, 0, content(5), false))
	f.Unlink(ctx, root, fs.RootIno, "o")
	if err := f.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetAttr(ctx, a.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("inode after last release: %v", err)
	}
	wantErr(t, "release twice", f.Release(ctx, h), syscall.EBADF)
	if u := f.Info().UsedBytes; u != 0 {
		t.Fatalf("space not freed: %d", u)
	}
}

func TestXattrs(t *testing.T) {
	ctx := context.Background()
	_, f, _ := newFS(t)
	a := must(f.Mknod(ctx, root, fs.RootIno, "x", syscall.S_IFREG|0o644, 0))
	ino := a.Ino
	wantErr(t, "set", f.SetXattr(ctx, root, ino, "user.k", []byte("v1"), 0), 0)
	wantErr(t, "create existing", f.SetXattr(ctx, root, ino, "user.k", []byte("v"), 1), syscall.EEXIST)
	wantErr(t, "replace missing", f.SetXattr(ctx, root, ino, "user.none", []byte("v"), 2), syscall.ENODATA)
	wantErr(t, "replace", f.SetXattr(ctx, root, ino, "user.k", []byte("value2"), 2), 0)
	if n := must(f.GetXattr(ctx, root, ino, "user.k", nil)); n != 6 {
		t.Fatalf("size query %d", n)
	}
	_, err := f.GetXattr(ctx, root, ino, "user.k", make([]byte, 3))
	wantErr(t, "small buffer", err, syscall.ERANGE)
	buf := make([]byte, 16)
	if n := must(f.GetXattr(ctx, root, ino, "user.k", buf)); string(buf[:n]) != "value2" {
		t.Fatalf("get %q", buf[:n])
	}
	_, err = f.GetXattr(ctx, root, ino, "user.none", buf)
	wantErr(t, "get missing", err, syscall.ENODATA)
	wantErr(t, "trusted by root", f.SetXattr(ctx, root, ino, "trusted.t", []byte("x"), 0), 0)
	wantErr(t, "trusted by user", f.SetXattr(ctx, alice, ino, "trusted.u", []byte("x"), 0), syscall.EPERM)
	wantErr(t, "security by root", f.SetXattr(ctx, root, ino, "security.s", []byte("x"), 0), 0)
	wantErr(t, "bad namespace", f.SetXattr(ctx, root, ino, "bogus.k", []byte("x"), 0), syscall.EOPNOTSUPP)
	wantErr(t, "user set without write", f.SetXattr(ctx, alice, ino, "user.a", []byte("x"), 0), syscall.EACCES)
	n := must(f.ListXattr(ctx, root, ino, nil))
	list := make([]byte, n)
	must(f.ListXattr(ctx, root, ino, list))
	got := bytes.Split(bytes.TrimSuffix(list, []byte{0}), []byte{0})
	if len(got) != 3 {
		t.Fatalf("list %q", list)
	}
	n = must(f.ListXattr(ctx, alice, ino, nil))
	if n != len("user.k")+1 {
		t.Fatalf("user sees %d bytes of names", n)
	}
	_, err = f.ListXattr(ctx, root, ino, make([]byte, 2))
	wantErr(t, "list small", err, syscall.ERANGE)
	wantErr(t, "remove", f.RemoveXattr(ctx, root, ino, "user.k"), 0)
	wantErr(t, "remove missing", f.RemoveXattr(ctx, root, ino, "user.k"), syscall.ENODATA)
	wantErr(t, "too big", f.SetXattr(ctx, root, ino, "user.big", make([]byte, 65537), 0), syscall.E2BIG)
	s := must(f.Symlink(ctx, root, fs.RootIno, "l", "x"))
	wantErr(t, "user xattr on symlink", f.SetXattr(ctx, root, s.Ino, "user.k", []byte("v"), 0), syscall.EPERM)
}
