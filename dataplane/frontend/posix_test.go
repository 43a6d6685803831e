package frontend_test

// One test per POSIX behaviour of issue 4 §2, each through a real FUSE
// mount of a real local cluster (see newMount), checking results and
// exact errno values.

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFiles(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "f")
	data := bytes.Repeat([]byte("weft"), 5000)
	mustWrite(t, p, data)
	if got := mustRead(t, p); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
	st := statOf(t, p)
	if st.Size != int64(len(data)) || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		t.Errorf("stat: size %d mode %o nlink %d", st.Size, st.Mode, st.Nlink)
	}
	_, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	wantErrno(t, "O_EXCL on existing", err, syscall.EEXIST)
	_, err = os.Open(filepath.Join(dir, "missing"))
	wantErrno(t, "open missing", err, syscall.ENOENT)
	_, err = os.Stat(filepath.Join(p, "below"))
	wantErrno(t, "path through a file", err, syscall.ENOTDIR)
	_, err = os.OpenFile(dir, os.O_WRONLY, 0)
	wantErrno(t, "open dir for writing", err, syscall.EISDIR)
	// Overwrite in the middle keeps the rest.
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XYZ"), 10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	copy(data[10:], "XYZ")
	if got := mustRead(t, p); !bytes.Equal(got, data) {
		t.Errorf("after overwrite: content differs")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(p)
	wantErrno(t, "stat removed", err, syscall.ENOENT)
	wantErrno(t, "remove removed", os.Remove(p), syscall.ENOENT)
}

func TestDirectories(t *testing.T) {
	dir := newMount(t)
	d := filepath.Join(dir, "d")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "mkdir existing", os.Mkdir(d, 0o755), syscall.EEXIST)
	wantErrno(t, "mkdir in missing", os.Mkdir(filepath.Join(dir, "no", "x"), 0o755), syscall.ENOENT)
	for _, n := range []string{"a", "b", "c"} {
		mustWrite(t, filepath.Join(d, n), []byte(n))
	}
	if err := os.Mkdir(filepath.Join(d, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"a", "b", "c", "sub"}) {
		t.Errorf("readdir: %v", names)
	}
	if st := statOf(t, filepath.Join(d, "sub")); st.Mode&0o7777 != 0o700 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("sub mode %o", st.Mode)
	}
	if st := statOf(t, d); st.Nlink != 3 {
		t.Errorf("dir with one subdir: nlink %d, want 3", st.Nlink)
	}
	wantErrno(t, "rmdir non-empty", unix.Rmdir(d), syscall.ENOTEMPTY)
	wantErrno(t, "rmdir a file", unix.Rmdir(filepath.Join(d, "a")), syscall.ENOTDIR)
	wantErrno(t, "unlink a dir", unix.Unlink(filepath.Join(d, "sub")), syscall.EISDIR)
	wantErrno(t, "rmdir missing", unix.Rmdir(filepath.Join(d, "zz")), syscall.ENOENT)
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); errnoOf(err) != syscall.ENOENT {
		t.Errorf("after RemoveAll: %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	dir := newMount(t)
	target := filepath.Join(dir, "target")
	mustWrite(t, target, []byte("pointed at"))
	l := filepath.Join(dir, "link")
	if err := os.Symlink("target", l); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(l); err != nil || got != "target" {
		t.Fatalf("readlink: %q %v", got, err)
	}
	if st := statOf(t, l); st.Mode&unix.S_IFMT != unix.S_IFLNK || st.Size != int64(len("target")) {
		t.Errorf("lstat: mode %o size %d", st.Mode, st.Size)
	}
	if got := mustRead(t, l); string(got) != "pointed at" {
		t.Errorf("read through link: %q", got)
	}
	wantErrno(t, "symlink over existing", os.Symlink("x", l), syscall.EEXIST)
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("nowhere", dangling); err != nil {
		t.Fatal(err)
	}
	_, err := os.Open(dangling)
	wantErrno(t, "open dangling", err, syscall.ENOENT)
	_, err = os.Readlink(target)
	wantErrno(t, "readlink of a file", err, syscall.EINVAL)
	// Removing the link leaves the target.
	if err := os.Remove(l); err != nil {
		t.Fatal(err)
	}
	mustRead(t, target)
}

func TestHardLinks(t *testing.T) {
	dir := newMount(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "sub", "b")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	mustWrite(t, a, []byte("shared"))
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	sa, sb := statOf(t, a), statOf(t, b)
	if sa.Ino != sb.Ino || sa.Nlink != 2 {
		t.Errorf("ino %d vs %d, nlink %d", sa.Ino, sb.Ino, sa.Nlink)
	}
	f, err := os.OpenFile(b, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(" data"))
	f.Close()
	if got := mustRead(t, a); string(got) != "shared data" {
		t.Errorf("write through one name, read through other: %q", got)
	}
	wantErrno(t, "link over existing", os.Link(a, b), syscall.EEXIST)
	wantErrno(t, "link a directory", os.Link(filepath.Join(dir, "sub"), filepath.Join(dir, "dl")), syscall.EPERM)
	wantErrno(t, "link missing", os.Link(filepath.Join(dir, "nope"), filepath.Join(dir, "x")), syscall.ENOENT)
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, b); st.Nlink != 1 {
		t.Errorf("after unlink: nlink %d", st.Nlink)
	}
	if got := mustRead(t, b); string(got) != "shared data" {
		t.Errorf("survivor: %q", got)
	}
}

func TestPermissions(t *testing.T) {
	dir := newMount(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	mustWrite(t, secret, []byte("root only"))
	os.Chmod(secret, 0o600)
	public := filepath.Join(dir, "public")
	mustWrite(t, public, []byte("everyone reads"))
	os.Chmod(public, 0o644)
	private := filepath.Join(dir, "private")
	os.Mkdir(private, 0o700)
	mustWrite(t, filepath.Join(private, "inner"), nil)
	cases := []struct {
		mode, path string
		want       syscall.Errno
	}{
		{"open-r", secret, syscall.EACCES},
		{"open-r", public, 0},
		{"open-w", public, syscall.EACCES},
		{"create", filepath.Join(dir, "new"), syscall.EACCES}, // root dir 0755 owned by root
		{"unlink", public, syscall.EACCES},
		{"readdir", private, syscall.EACCES},
		{"stat", filepath.Join(private, "inner"), syscall.EACCES},
		{"chmod", public, syscall.EPERM},
	}
	for _, c := range cases {
		if got := runAs(t, nobody, c.mode, c.path); got != c.want {
			t.Errorf("uid %d %s %s: got %v, want %v", nobody, c.mode, filepath.Base(c.path), got, c.want)
		}
	}
	// A supplementary group grants what the group bits allow: the
	// frontend passes the caller's groups to the compute role.
	grp := filepath.Join(dir, "group-readable")
	mustWrite(t, grp, []byte("team data"))
	os.Chown(grp, 0, 4242)
	os.Chmod(grp, 0o640)
	if got := runAsGroups(t, nobody, []uint32{4242}, "open-r", grp); got != 0 {
		t.Errorf("member of group 4242 reads 0640 root:4242 file: %v", got)
	}
	if got := runAsGroups(t, nobody, []uint32{4243}, "open-r", grp); got != syscall.EACCES {
		t.Errorf("non-member reads 0640 root:4242 file: %v, want EACCES", got)
	}
	// Root passes every check.
	if got := runAs(t, 0, "open-r", secret); got != 0 {
		t.Errorf("root open-r secret: %v", got)
	}
	// Once the directory is the user's, the user creates in it.
	own := filepath.Join(dir, "own")
	os.Mkdir(own, 0o755)
	os.Chown(own, nobody, nobody)
	if got := runAs(t, nobody, "create", filepath.Join(own, "mine")); got != 0 {
		t.Errorf("create in own dir: %v", got)
	}
	if st := statOf(t, filepath.Join(own, "mine")); st.Uid != nobody || st.Gid != nobody {
		t.Errorf("new file owned by %d:%d, want %d:%d", st.Uid, st.Gid, nobody, nobody)
	}
}

func TestOwnership(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "f")
	mustWrite(t, p, []byte("x"))
	if err := os.Chown(p, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, p); st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("after chown: %d:%d", st.Uid, st.Gid)
	}
	if err := os.Lchown(p, -1, 42); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, p); st.Uid != 1234 || st.Gid != 42 {
		t.Errorf("after chgrp: %d:%d", st.Uid, st.Gid)
	}
	os.Chmod(dir, 0o755)
	if got := runAs(t, nobody, "chown", p); got != syscall.EPERM {
		t.Errorf("chown by non-owner: %v, want EPERM", got)
	}
}

func TestTimestamps(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "f")
	before := time.Now().Add(-time.Second)
	mustWrite(t, p, []byte("x"))
	st := statOf(t, p)
	if m := time.Unix(st.Mtim.Unix()); m.Before(before) || m.After(time.Now().Add(time.Second)) {
		t.Errorf("new file mtime %v, now %v", m, time.Now())
	}
	at := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	mt := time.Date(1999, 12, 31, 23, 59, 59, 123456789, time.UTC)
	if err := os.Chtimes(p, at, mt); err != nil {
		t.Fatal(err)
	}
	st = statOf(t, p)
	if got := time.Unix(st.Atim.Unix()); !got.Equal(at) {
		t.Errorf("atime %v, want %v", got, at)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(mt) {
		t.Errorf("mtime %v, want %v", got, mt)
	}
	// UTIME_NOW sets the current time; a write moves mtime forward.
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_OMIT}}, 0); err != nil {
		t.Fatal(err)
	}
	st2 := statOf(t, p)
	if time.Unix(st2.Atim.Unix()).Before(before) || !time.Unix(st2.Mtim.Unix()).Equal(mt) {
		t.Errorf("UTIME_NOW/OMIT: atime %v mtime %v", time.Unix(st2.Atim.Unix()), time.Unix(st2.Mtim.Unix()))
	}
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.Write([]byte("y"))
	f.Close()
	if st3 := statOf(t, p); !time.Unix(st3.Mtim.Unix()).After(mt) || time.Unix(st3.Ctim.Unix()).Before(before) {
		t.Errorf("after write: mtime %v ctime %v", time.Unix(st3.Mtim.Unix()), time.Unix(st3.Ctim.Unix()))
	}
}

func TestXattrs(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "f")
	mustWrite(t, p, nil)
	if err := unix.Setxattr(p, "user.color", []byte("blue"), 0); err != nil {
		if err == unix.ENOTSUP {
			t.Fatalf("xattrs not supported: %v", err)
		}
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(p, "user.color", buf)
	if err != nil || string(buf[:n]) != "blue" {
		t.Fatalf("getxattr: %q %v", buf[:n], err)
	}
	if n, err := unix.Getxattr(p, "user.color", nil); err != nil || n != 4 {
		t.Errorf("size query: %d %v", n, err)
	}
	_, err = unix.Getxattr(p, "user.color", make([]byte, 2))
	wantErrno(t, "small buffer", err, syscall.ERANGE)
	unix.Setxattr(p, "user.shape", []byte("round"), 0)
	n, err = unix.Listxattr(p, buf)
	if err != nil {
		t.Fatal(err)
	}
	names := bytes.Split(bytes.TrimRight(buf[:n], "\x00"), []byte{0})
	slices.SortFunc(names, bytes.Compare)
	if len(names) != 2 || string(names[0]) != "user.color" || string(names[1]) != "user.shape" {
		t.Errorf("listxattr: %q", names)
	}
	wantErrno(t, "XATTR_CREATE existing", unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_REPLACE missing", unix.Setxattr(p, "user.none", []byte("x"), unix.XATTR_REPLACE), syscall.ENODATA)
	if err := unix.Removexattr(p, "user.color"); err != nil {
		t.Fatal(err)
	}
	_, err = unix.Getxattr(p, "user.color", buf)
	wantErrno(t, "get removed", err, syscall.ENODATA)
	wantErrno(t, "remove removed", unix.Removexattr(p, "user.color"), syscall.ENODATA)
}

func TestRename(t *testing.T) {
	dir := newMount(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mustWrite(t, a, []byte("A"))
	mustWrite(t, b, []byte("B"))
	if err := os.Rename(a, b); err != nil { // over an existing file
		t.Fatal(err)
	}
	if got := mustRead(t, b); string(got) != "A" {
		t.Errorf("over existing: %q", got)
	}
	if _, err := os.Stat(a); errnoOf(err) != syscall.ENOENT {
		t.Errorf("old name: %v", err)
	}
	d1, d2 := filepath.Join(dir, "d1"), filepath.Join(dir, "d2")
	os.Mkdir(d1, 0o755)
	os.Mkdir(d2, 0o755)
	if err := os.Rename(b, filepath.Join(d1, "moved")); err != nil { // across directories
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(d1, "moved")); string(got) != "A" {
		t.Errorf("across dirs: %q", got)
	}
	// A directory moves with its contents.
	if err := os.Rename(d1, filepath.Join(d2, "d1")); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(d2, "d1", "moved")); string(got) != "A" {
		t.Errorf("dir moved: %q", got)
	}
	full, empty, file := filepath.Join(dir, "full"), filepath.Join(dir, "empty"), filepath.Join(dir, "file")
	os.Mkdir(full, 0o755)
	mustWrite(t, filepath.Join(full, "x"), nil)
	os.Mkdir(empty, 0o755)
	mustWrite(t, file, nil)
	// rename(2) itself: os.Rename refuses a directory target before asking.
	wantErrno(t, "dir over non-empty dir", unix.Rename(empty, full), syscall.ENOTEMPTY)
	wantErrno(t, "file over dir", unix.Rename(file, empty), syscall.EISDIR)
	wantErrno(t, "dir over file", unix.Rename(empty, file), syscall.ENOTDIR)
	wantErrno(t, "missing source", unix.Rename(filepath.Join(dir, "nope"), file), syscall.ENOENT)
	wantErrno(t, "RENAME_NOREPLACE", unix.Renameat2(unix.AT_FDCWD, file, unix.AT_FDCWD, filepath.Join(d2, "d1", "moved"), unix.RENAME_NOREPLACE), syscall.EEXIST)
	wantErrno(t, "dir over file in other dir", unix.Rename(empty, filepath.Join(full, "x")), syscall.ENOTDIR)
	// RENAME_EXCHANGE swaps two names atomically.
	x, y := filepath.Join(dir, "x"), filepath.Join(dir, "y")
	mustWrite(t, x, []byte("X"))
	mustWrite(t, y, []byte("Y"))
	if err := unix.Renameat2(unix.AT_FDCWD, x, unix.AT_FDCWD, y, unix.RENAME_EXCHANGE); err != nil {
		t.Errorf("RENAME_EXCHANGE: %v", err)
	} else if string(mustRead(t, x)) != "Y" || string(mustRead(t, y)) != "X" {
		t.Errorf("RENAME_EXCHANGE: x=%q y=%q", mustRead(t, x), mustRead(t, y))
	}
	wantErrno(t, "RENAME_EXCHANGE with missing target", unix.Renameat2(unix.AT_FDCWD, x, unix.AT_FDCWD, filepath.Join(dir, "none"), unix.RENAME_EXCHANGE), syscall.ENOENT)
	// dir over an empty dir replaces it.
	os.Mkdir(filepath.Join(dir, "e2"), 0o755)
	if err := unix.Rename(empty, filepath.Join(dir, "e2")); err != nil {
		t.Errorf("dir over empty dir: %v", err)
	}
}

// TestRenameAcrossFileSystems: two mounts of different file systems
// are different devices, so rename between them is EXDEV.
func TestRenameAcrossFileSystems(t *testing.T) {
	dir1, dir2 := newMount(t), newMount(t)
	p := filepath.Join(dir1, "f")
	mustWrite(t, p, []byte("x"))
	wantErrno(t, "rename across file systems", os.Rename(p, filepath.Join(dir2, "f")), syscall.EXDEV)
	wantErrno(t, "link across file systems", os.Link(p, filepath.Join(dir2, "f")), syscall.EXDEV)
}

func TestUnlinkOpenFile(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "f")
	mustWrite(t, p, []byte("still here"))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); errnoOf(err) != syscall.ENOENT {
		t.Errorf("stat after unlink: %v", err)
	}
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, 0)
	if string(buf[:n]) != "still here" {
		t.Errorf("read unlinked: %q %v", buf[:n], err)
	}
	if _, err := f.WriteAt([]byte("STILL"), 0); err != nil {
		t.Errorf("write unlinked: %v", err)
	}
	n, _ = f.ReadAt(buf, 0)
	if string(buf[:n]) != "STILL here" {
		t.Errorf("reread unlinked: %q", buf[:n])
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 10 {
		t.Errorf("fstat unlinked: %v %v", fi, err)
	}
	// The name is free again.
	mustWrite(t, p, []byte("new"))
	if got := mustRead(t, p); string(got) != "new" {
		t.Errorf("new file: %q", got)
	}
}

func TestAppend(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "log")
	mustWrite(t, p, []byte("start\n"))
	f1, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	var want bytes.Buffer
	want.WriteString("start\n")
	for i := 0; i < 20; i++ {
		f, line := f1, "one\n"
		if i%2 == 1 {
			f, line = f2, "two\n"
		}
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		want.WriteString(line)
	}
	// A plain writer at offset 0 does not move appenders back.
	f3, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f3.WriteAt([]byte("START"), 0)
	f3.Close()
	f1.WriteString("end\n")
	b := want.Bytes()
	copy(b, "START")
	b = append(b, "end\n"...)
	if got := mustRead(t, p); !bytes.Equal(got, b) {
		t.Errorf("appended:\n%q\nwant\n%q", got, b)
	}
}

func TestTruncate(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "f")
	mustWrite(t, p, bytes.Repeat([]byte{'a'}, 10000))
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, p); len(got) != 100 || got[99] != 'a' {
		t.Errorf("shrunk: %d bytes", len(got))
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5000); err != nil { // ftruncate grows with zeros
		t.Fatal(err)
	}
	f.Close()
	got := mustRead(t, p)
	if len(got) != 5000 || got[99] != 'a' || !bytes.Equal(got[100:], make([]byte, 4900)) {
		t.Errorf("grown: %d bytes, tail not zero", len(got))
	}
	// O_TRUNC empties.
	f, err = os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st := statOf(t, p); st.Size != 0 {
		t.Errorf("O_TRUNC: size %d", st.Size)
	}
	wantErrno(t, "truncate a dir", os.Truncate(dir, 0), syscall.EISDIR)
	wantErrno(t, "truncate missing", os.Truncate(filepath.Join(dir, "nope"), 0), syscall.ENOENT)
}

func TestSparseFile(t *testing.T) {
	dir := newMount(t)
	p := filepath.Join(dir, "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const far = 1 << 30
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("tail"), far); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st := statOf(t, p)
	if st.Size != far+4 {
		t.Errorf("size %d, want %d", st.Size, far+4)
	}
	if st.Blocks*512 >= far {
		t.Errorf("%d blocks allocated for a sparse 1 GiB file", st.Blocks)
	}
	f, _ = os.Open(p)
	defer f.Close()
	buf := make([]byte, 1<<20)
	if _, err := f.ReadAt(buf, far/2); err != nil || !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Errorf("hole reads non-zero (%v)", err)
	}
	tail := make([]byte, 8)
	n, _ := f.ReadAt(tail, far-4)
	if n != 8 || string(tail) != "\x00\x00\x00\x00tail" {
		t.Errorf("tail: %q", tail[:n])
	}
}

func TestStatFS(t *testing.T) {
	dir := newMount(t)
	var s unix.Statfs_t
	if err := unix.Statfs(dir, &s); err != nil {
		t.Fatal(err)
	}
	if s.Bsize <= 0 || s.Blocks == 0 || s.Bfree > s.Blocks || s.Bavail > s.Bfree || s.Namelen != 255 {
		t.Fatalf("statfs: %+v", s)
	}
	// Writing takes space.
	mustWrite(t, filepath.Join(dir, "big"), make([]byte, 8<<20))
	var s2 unix.Statfs_t
	unix.Statfs(dir, &s2)
	if s2.Bfree >= s.Bfree {
		t.Errorf("free blocks %d before, %d after writing 8 MiB", s.Bfree, s2.Bfree)
	}
}
